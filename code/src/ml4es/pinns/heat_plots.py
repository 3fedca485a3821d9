"""Figures for the chapter on PINNs for the heat equation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ml4es.pinns import heat
from ml4es.plotting import plot_field, show_in_output

T_LABEL = "time t (units of T)"
X_LABEL = "position x (units of L)"
U_LABEL = "temperature anomaly u (non-dimensional)"


def plot_backward_heat(demo: Mapping[str, np.ndarray], times: Sequence[float] = (1.0, 0.99, 0.98)) -> plt.Figure:
    """Draw profiles of the backward run of :func:`heat.backward_heat_demo` and its error growth."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for time in times:
        row = int(np.argmin(np.abs(demo["t"] - time)))
        line, = left.plot(demo["x"], demo["u"][row], label=f"backward run, t = {demo['t'][row]:.3f}")
        left.plot(demo["x"], demo["exact"][row], color=line.get_color(), linestyle="--", linewidth=1)
    left.set_ylim(-0.5, 2.0)
    left.set_xlabel(X_LABEL)
    left.set_ylabel(U_LABEL)
    left.set_title("Backward run (solid) against the exact solution (dashed)")
    left.legend(loc="upper right", fontsize="small")

    right.semilogy(demo["t"], demo["rms_error"])
    right.invert_xaxis()
    right.set_xlabel(f"{T_LABEL}, running backwards")
    right.set_ylabel("RMS error of the backward run")
    right.set_title("The error at t = 1 grows without bound")
    figure.tight_layout()
    return figure


def plot_training_points(
    points: heat.TrainingPoints,
    observations: heat.Observations | None = None,
    show_initial: bool = True,
) -> plt.Axes:
    """Scatter the collocation, boundary and (with ``show_initial``) initial points over the domain.

    Observations, when given, are drawn as crosses.
    """
    _, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.scatter(points.x_interior, points.t_interior, s=2, color="0.6", label="collocation (PDE residual)")
    if show_initial:
        ax.scatter(points.x_initial, torch.zeros_like(points.x_initial), s=8, label="initial condition")
    boundary_x = torch.cat([torch.zeros_like(points.t_boundary), torch.full_like(points.t_boundary, heat.LENGTH)])
    ax.scatter(boundary_x, torch.cat([points.t_boundary, points.t_boundary]), s=8, label="boundary condition")
    if observations is not None:
        ax.scatter(observations.x, observations.t, s=14, marker="x", color="black", label="observations")
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(T_LABEL)
    ax.set_title("Where the loss is evaluated")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize="small")
    return ax


def plot_solution_maps(model: Callable, alpha: float = heat.ALPHA, n: int = 101) -> plt.Figure:
    """Draw the PINN's u(t, x), the exact solution and their difference on an ``n`` x ``n`` grid."""
    grid_t, grid_x = heat.evaluation_grid(n, n)
    predicted = heat.predict(model, grid_t, grid_x).numpy()
    exact = heat.analytic_solution(grid_t, grid_x, alpha).numpy()
    extent = (0.0, heat.LENGTH, 0.0, heat.T_END)

    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    plot_field(predicted, extent, ax=axes[0], title="PINN u_θ(t, x)", xlabel=X_LABEL, ylabel=T_LABEL, colorbar_label=U_LABEL)
    plot_field(exact, extent, ax=axes[1], title="Exact u(t, x)", xlabel=X_LABEL, ylabel=T_LABEL, colorbar_label=U_LABEL)
    plot_field(
        predicted - exact,
        extent,
        ax=axes[2],
        title="Error u_θ - u",
        xlabel=X_LABEL,
        ylabel=T_LABEL,
        colorbar_label="error in u",
        diverging=True,
    )
    figure.tight_layout()
    return figure


def plot_profiles(
    model: Callable,
    times: Sequence[float] = (0.0, 0.25, 0.5, 1.0),
    alpha: float = heat.ALPHA,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Draw u(t, x) of the PINN (lines) and the exact solution (circles) at several times."""
    if ax is None:
        _, ax = plt.subplots()
    x = torch.linspace(0.0, heat.LENGTH, 201, dtype=heat.DTYPE)
    for time in times:
        t = torch.full_like(x, time)
        line, = ax.plot(x, heat.predict(model, t, x), label=f"t = {time:g}")
        exact = heat.analytic_solution(t[::10], x[::10], alpha)
        ax.plot(x[::10], exact, "o", color=line.get_color(), markersize=4, markerfacecolor="none")
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(U_LABEL)
    ax.set_ylim(-0.1, 1.4)
    ax.set_title("PINN (lines) against the exact solution (circles)")
    ax.legend()
    return ax


def profile_explorer(model: Callable, alpha: float = heat.ALPHA):
    """Return an ipywidgets slider over time that redraws the PINN and exact profiles."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=0.0, min=0.0, max=heat.T_END, step=0.02, description="t", continuous_update=False)
    output = widgets.Output()

    def redraw(change=None) -> None:
        figure, ax = plt.subplots(figsize=(6.4, 3.6))
        plot_profiles(model, times=(slider.value,), alpha=alpha, ax=ax)
        show_in_output(output, figure)

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, output])


def plot_alpha_history(
    history: Mapping[str, Sequence[float]],
    alpha_true: float = heat.ALPHA,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Draw the learnt alpha against the training step, with the true value and the switch to L-BFGS."""
    if ax is None:
        _, ax = plt.subplots()
    alphas = np.asarray(history["alpha"])
    ax.plot(np.arange(1, len(alphas) + 1), alphas, label="learnt α")
    ax.axhline(alpha_true, color="black", linestyle="--", linewidth=1, label=f"true α = {alpha_true}")
    ax.axvline(len(history["Adam"]), color="0.5", linestyle=":", label="Adam → L-BFGS")
    ax.set_xlabel("step")
    ax.set_ylabel("diffusivity α (units of L²/T)")
    ax.set_title("The diffusivity during training")
    ax.legend()
    return ax


def plot_alpha_against_noise(sweep: Mapping, alpha_true: float = heat.ALPHA) -> plt.Axes:
    """Draw the relative error of alpha against the noise level, one point per noise seed."""
    _, ax = plt.subplots()
    noise = np.array([run["noise"] for run in sweep["runs"]])
    error = np.array([abs(run["alpha"] - alpha_true) / alpha_true for run in sweep["runs"]])
    ax.scatter(100 * noise, 100 * error, color="0.4", s=18, label="one noise realisation")
    levels = sorted(set(noise.tolist()))
    means = [100 * error[noise == level].mean() for level in levels]
    ax.plot([100 * level for level in levels], means, marker="o", label="mean")
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="1 % target")
    ax.set_xlabel("noise (% of the RMS of u)")
    ax.set_ylabel("error in α (%)")
    ax.set_title(f"Error in the learnt diffusivity, {sweep['n_observations']} observations")
    ax.legend()
    return ax
