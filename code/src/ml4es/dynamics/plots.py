"""Figures and the forecast explorer of the chapter on data-driven models of dynamical systems."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from ml4es.dynamics import metrics
from ml4es.plotting import DIVERGING_CMAP, show_in_output

TIME_LABEL = "time (model time units)"
LYAPUNOV_LABEL = "time (Lyapunov times)"


def plot_lorenz63(trajectory: np.ndarray, dt: float) -> plt.Figure:
    """Draw a Lorenz-63 trajectory ``(T, 3)`` in the x-z plane and x against time."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1, 2]})
    left.plot(trajectory[:, 0], trajectory[:, 2], linewidth=0.4)
    left.set_xlabel("x")
    left.set_ylabel("z")
    left.set_title("Lorenz-63: the butterfly attractor")
    time = np.arange(trajectory.shape[0]) * dt
    right.plot(time, trajectory[:, 0], linewidth=0.8)
    right.set_xlabel(TIME_LABEL)
    right.set_ylabel("x")
    right.set_title("x jumps irregularly between the two wings")
    figure.tight_layout()
    return figure


def plot_hovmoller(panels: Mapping[str, np.ndarray], dt: float, lyapunov_exponent: float | None = None) -> plt.Figure:
    """Draw space-time (Hovmöller) diagrams, one per panel, of arrays ``(T, N)``.

    A panel whose name starts with "error" uses a diverging colour map centred on 0.
    """
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), sharey=True, squeeze=False)
    for ax, (name, values) in zip(axes[0], panels.items()):
        scale = lyapunov_exponent if lyapunov_exponent else 1.0
        extent = (0, values.shape[1], 0, values.shape[0] * dt * scale)
        if name.startswith("error"):
            limit = np.abs(values).max()
            image = ax.imshow(values, aspect="auto", origin="lower", extent=extent, cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
        else:
            image = ax.imshow(values, aspect="auto", origin="lower", extent=extent, vmin=-8, vmax=12)
        ax.set_title(name)
        ax.set_xlabel("grid point i")
        figure.colorbar(image, ax=ax, label="difference" if name.startswith("error") else "x_i")
    axes[0, 0].set_ylabel(LYAPUNOV_LABEL if lyapunov_exponent else TIME_LABEL)
    figure.tight_layout()
    return figure


def plot_lyapunov(running: np.ndarray, interval: float, reference: float = 1.7) -> plt.Axes:
    """Draw the running estimate of the largest Lyapunov exponent against the averaging time."""
    _, ax = plt.subplots()
    time = interval * np.arange(1, running.size + 1)
    ax.plot(time, running, label="running estimate")
    ax.axhline(reference, color="black", linestyle="--", linewidth=1, label=f"literature, about {reference}")
    ax.fill_between(time, 0.95 * reference, 1.05 * reference, color="0.85", label="±5 %")
    ax.set_ylim(0.5 * reference, 1.5 * reference)
    ax.set_xlabel("averaging time (model time units)")
    ax.set_ylabel("λ_max (per model time unit)")
    ax.set_title("Largest Lyapunov exponent of Lorenz-96, N = 40, F = 8")
    ax.legend()
    return ax


def plot_error_growth(errors: Mapping[str, np.ndarray], dt: float, lyapunov_exponent: float, threshold: float = metrics.VPT_THRESHOLD) -> plt.Axes:
    """Draw the median normalised RMSE ``(T, batch)`` of each forecast against time in Lyapunov times."""
    _, ax = plt.subplots(figsize=(7, 4))
    for name, error in errors.items():
        time = np.arange(error.shape[0]) * dt * lyapunov_exponent
        ax.semilogy(time, np.median(error, axis=1), label=name)
    ax.axhline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold}")
    # Row 0 is the exact start, with an error of 0 or round-off: keep it off the axis.
    ax.set_ylim(1e-4, 3.0)
    ax.set_xlabel(LYAPUNOV_LABEL)
    ax.set_ylabel("normalised RMSE (median over forecasts)")
    ax.set_title("Forecast error against lead time")
    ax.legend(fontsize="small")
    return ax


def plot_climate(runs: Mapping[str, np.ndarray], dt: float, max_lag: int = 40) -> plt.Figure:
    """Compare histograms and autocorrelations of free runs ``(T, batch, N)``; the first run is the truth."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    truth = next(iter(runs.values()))
    low, high = truth.min(), truth.max()
    bins = np.linspace(low - 0.1 * (high - low), high + 0.1 * (high - low), 51)
    for index, (name, run) in enumerate(runs.items()):
        style = {"color": "black", "linewidth": 2} if index == 0 else {}
        finite = run[np.isfinite(run)]
        left.hist(finite, bins=bins, density=True, histtype="step", label=name, **style)
        lags = np.arange(max_lag + 1) * dt
        right.plot(lags, metrics.autocorrelation(run, max_lag), label=name, **style)
    left.set_xlabel("x_i")
    left.set_ylabel("probability density")
    left.set_title("Invariant distribution (all grid points pooled)")
    left.legend(fontsize="small")
    right.set_xlabel("lag (model time units)")
    right.set_ylabel("autocorrelation")
    right.set_title("Autocorrelation of x_i")
    figure.tight_layout()
    return figure


def plot_ensemble(ensemble: np.ndarray, truth: np.ndarray, dt: float, variable: int = 0) -> plt.Figure:
    """Draw ensemble members ``(T, M, N)`` of one variable with the truth, and spread against error."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    time = np.arange(ensemble.shape[0]) * dt
    left.plot(time, ensemble[:, :, variable], color="tab:blue", linewidth=0.5, alpha=0.5)
    left.plot(time, truth[:, variable], color="black", linewidth=1.5, label="truth")
    left.plot(time, ensemble[:, :, variable].mean(axis=1), color="tab:red", label="ensemble mean")
    left.set_xlabel(TIME_LABEL)
    left.set_ylabel(f"x_{variable}")
    left.set_title("Members (blue) fan out from nearly the same start")
    left.legend()
    spread = np.sqrt(ensemble.var(axis=1).mean(axis=-1))
    error = np.sqrt(((ensemble.mean(axis=1) - truth) ** 2).mean(axis=-1))
    right.semilogy(time, spread, label="ensemble spread")
    right.semilogy(time, error, label="error of the ensemble mean")
    right.set_xlabel(TIME_LABEL)
    right.set_ylabel("RMS over the 40 variables")
    right.set_title("The spread tracks the error")
    right.legend()
    figure.tight_layout()
    return figure


def forecast_explorer(truth: np.ndarray, forecasts: Mapping[str, np.ndarray], dt: float, climate_std: float):
    """Return ipywidgets controls that redraw one forecast case against the truth.

    ``truth`` and each forecast have shape ``(T, batch, N)``; the sliders pick the test case and
    the grid point.
    """
    import ipywidgets as widgets

    case = widgets.IntSlider(value=0, min=0, max=truth.shape[1] - 1, description="case", continuous_update=False)
    point = widgets.IntSlider(value=0, min=0, max=truth.shape[2] - 1, description="grid point", continuous_update=False)
    output = widgets.Output()

    def redraw(change=None) -> None:
        show_in_output(output, plot_forecast_case(truth, forecasts, dt, climate_std, case.value, point.value))

    case.observe(redraw, names="value")
    point.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([case, point]), output])


def plot_forecast_case(truth: np.ndarray, forecasts: Mapping[str, np.ndarray], dt: float, climate_std: float, case: int = 0, point: int = 0) -> plt.Figure:
    """Draw one grid point of one test case for every forecast, and each forecast's normalised error."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
    time = np.arange(truth.shape[0]) * dt
    left.plot(time, truth[:, case, point], color="black", linewidth=2, label="truth")
    for name, forecast in forecasts.items():
        left.plot(time, forecast[:, case, point], label=name)
        right.plot(time, metrics.normalised_rmse(forecast[:, case], truth[:, case], climate_std), label=name)
    right.axhline(metrics.VPT_THRESHOLD, color="black", linestyle="--", linewidth=1, label="threshold")
    left.set_xlabel(TIME_LABEL)
    left.set_ylabel(f"x_{point}")
    left.set_title(f"Test case {case}, grid point {point}")
    left.legend(fontsize="small")
    right.set_xlabel(TIME_LABEL)
    right.set_ylabel("normalised RMSE")
    right.set_title("Error over all 40 grid points")
    figure.tight_layout()
    return figure


def plot_elnino(index, observed: np.ndarray, forecasts: Mapping[str, np.ndarray], lead: int) -> plt.Axes:
    """Draw observed test-period anomalies and forecasts made ``lead`` months earlier."""
    _, ax = plt.subplots(figsize=(11, 3.8))
    time = index.to_timestamp()
    ax.plot(time, observed, color="black", linewidth=1.5, label="observed anomaly")
    for name, forecast in forecasts.items():
        ax.plot(time, forecast, label=name, linewidth=1)
    ax.set_ylabel("SST anomaly (°C)")
    ax.set_title(f"Niño 1+2 SST anomaly and forecasts {lead} months ahead")
    ax.legend(fontsize="small", ncol=3)
    return ax
