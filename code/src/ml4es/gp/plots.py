"""Figures of the chapter on Gaussian processes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import gpytorch
import matplotlib.pyplot as plt
import numpy as np
import torch

from ml4es.gp import emulator
from ml4es.plotting import show_in_output

Z_95 = 1.959964
CO2_LABEL = "CO$_2$ (ppm)"


def plot_prior_samples(kernels: Mapping[str, gpytorch.kernels.Kernel], x: torch.Tensor, n_samples: int = 3, seed: int = 0):
    """Draw ``n_samples`` functions from a zero-mean GP prior with each kernel, one panel per kernel."""
    figure, axes = plt.subplots(1, len(kernels), figsize=(3.2 * len(kernels), 3), sharey=True)
    generator = torch.Generator().manual_seed(seed)
    for ax, (name, kernel) in zip(np.atleast_1d(axes), kernels.items()):
        with torch.no_grad():
            covariance = kernel(x).to_dense() + 1e-8 * torch.eye(len(x), dtype=x.dtype)
        factor = torch.linalg.cholesky(covariance)
        samples = factor @ torch.randn(len(x), n_samples, generator=generator, dtype=x.dtype)
        ax.plot(x, samples)
        ax.set_title(name)
        ax.set_xlabel("x")
    np.atleast_1d(axes)[0].set_ylabel("f(x)")
    figure.suptitle("Samples from GP priors with different kernels")
    figure.tight_layout()
    return figure


def plot_posterior(x_train, y_train, x_test, mean, std, ax=None, title: str = "GP posterior"):
    """Plot a 1-D posterior: the mean, a 95 % band and the training points."""
    if ax is None:
        _, ax = plt.subplots()
    mean, std = np.asarray(mean), np.asarray(std)
    ax.fill_between(x_test, mean - Z_95 * std, mean + Z_95 * std, alpha=0.3, label="95 % interval")
    ax.plot(x_test, mean, label="posterior mean")
    ax.plot(x_train, y_train, "k.", markersize=8, label="observations")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.set_title(title)
    ax.legend()
    return ax


def plot_co2_forecast(dataset, x_new, mean, std, ax=None, title: str = "", split: float | None = None):
    """Plot the monthly CO2 record with a GP's predictive mean and 95 % interval at ``x_new``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    x_new, mean, std = (np.asarray(value) for value in (x_new, mean, std))
    ax.fill_between(x_new, mean - Z_95 * std, mean + Z_95 * std, color="C1", alpha=0.3, label="95 % interval")
    ax.plot(x_new, mean, color="C1", linewidth=1, label="predictive mean")
    ax.plot(dataset["year"], dataset["co2"], "k.", markersize=2, label="monthly means")
    if split is not None:
        ax.axvline(split, color="grey", linestyle="--", linewidth=1, label="end of training data")
    ax.set_xlabel("year")
    ax.set_ylabel(CO2_LABEL)
    ax.set_title(title)
    ax.legend(loc="upper left")
    return ax


def plot_components(x, components: Sequence[torch.Tensor], names: Sequence[str], constant: float):
    """Plot each additive kernel component's posterior mean in its own panel (ppm)."""
    figure, axes = plt.subplots(len(components), 1, figsize=(10, 2.0 * len(components)), sharex=True)
    for ax, component, name in zip(axes, components, names):
        values = np.asarray(component)
        if name == "trend":
            values = values + constant
            name = f"{name} (with the constant mean)"
        ax.plot(x, values, linewidth=1)
        ax.set_title(name, loc="left")
        ax.set_ylabel("ppm")
    axes[-1].set_xlabel("year")
    figure.suptitle("Posterior mean of each kernel component")
    figure.tight_layout()
    return figure


def plot_emulator(model, design: torch.Tensor, grid_size: int = 41, title: str = ""):
    """Plot the simulator, the emulator's mean, its error and its standard deviation, with the runs."""
    mesh_alpha, mesh_x, grid = emulator.candidate_grid(grid_size)
    truth = emulator.simulator(grid).reshape(mesh_alpha.shape)
    mean, std = emulator.emulate(model, grid)
    mean, std = mean.reshape(mesh_alpha.shape), std.reshape(mesh_alpha.shape)
    extent = (0.0, 1.0, float(emulator.BOUNDS[0, 0]), float(emulator.BOUNDS[1, 0]))
    panels = [
        ("simulator u(t = 1, x)", truth, "u", None),
        ("emulator mean", mean, "u", None),
        ("error: mean - simulator", mean - truth, "u", "RdBu_r"),
        ("emulator standard deviation", std, "u", "magma"),
    ]
    figure, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for ax, (name, values, label, cmap) in zip(axes, panels):
        values = values.numpy()
        limits = {}
        if cmap == "RdBu_r":
            bound = float(np.abs(values).max()) or 1.0
            limits = {"vmin": -bound, "vmax": bound}
        image = ax.imshow(values, origin="lower", extent=extent, aspect="auto", cmap=cmap, **limits)
        figure.colorbar(image, ax=ax, label=label)
        ax.plot(design[:, 1], design[:, 0], "w^", markeredgecolor="k", markersize=6)
        ax.set_title(name)
        ax.set_xlabel("position x")
    axes[0].set_ylabel("diffusivity alpha")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_design_history(result: dict, n_initial: int, ax=None):
    """Plot the emulator's RMSE and largest standard deviation against the number of runs."""
    if ax is None:
        _, ax = plt.subplots()
    runs = np.arange(n_initial, n_initial + len(result["rmse"]))
    ax.semilogy(runs, result["rmse"], "o-", label="RMSE against the simulator")
    ax.semilogy(runs, result["max_std"], "s--", label="largest standard deviation")
    ax.set_xlabel("number of simulator runs")
    ax.set_ylabel("u")
    ax.set_title("Sequential design: each new run where the variance is largest")
    ax.legend()
    return ax


def plot_height_maps(z, mean, std, winter: int, title: str = ""):
    """Plot one winter's 500 hPa height: reanalysis, SVGP mean and SVGP standard deviation (m)."""
    extent = (float(z.longitude.min()), float(z.longitude.max()), float(z.latitude.min()), float(z.latitude.max()))
    figure, axes = plt.subplots(1, 3, figsize=(16, 3.8))
    # Each winter is stamped with mid-January: 1998-01-15 is the winter of December 1997 to February 1998.
    year = int(str(z.time.values[winter])[:4])
    observed = z.isel(time=winter).to_numpy()
    low, high = float(observed.min()), float(observed.max())
    for ax, values, name, options in (
        (axes[0], observed, f"reanalysis, winter {year - 1}/{year % 100:02d}", {"vmin": low, "vmax": high}),
        (axes[1], mean, "SVGP predictive mean", {"vmin": low, "vmax": high}),
        (axes[2], std, "SVGP predictive standard deviation", {"cmap": "magma"}),
    ):
        image = ax.imshow(np.asarray(values), origin="lower", extent=extent, aspect="auto", **options)
        figure.colorbar(image, ax=ax, label="m")
        ax.set_title(name)
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
        ax.grid(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def posterior_explorer(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor):
    """Return ipywidgets sliders (length scale, noise) that redraw an RBF GP's posterior and its LML.

    The output scale is fixed at 1, as in the chapter's tiny example.
    """
    import ipywidgets as widgets

    from ml4es.gp import by_hand

    lengthscale = widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05, description="length scale",
                                         continuous_update=False)
    noise_std = widgets.FloatLogSlider(value=0.1, base=10, min=-2, max=0, step=0.05, description="noise std",
                                       continuous_update=False)
    output = widgets.Output()

    def redraw(change=None) -> None:
        noise = noise_std.value**2
        mean, variance = by_hand.posterior(x_train, y_train, x_test, lengthscale.value, 1.0, noise)
        lml = float(by_hand.log_marginal_likelihood(x_train, y_train, lengthscale.value, 1.0, noise))
        figure, ax = plt.subplots(figsize=(6.4, 3.6))
        title = f"length scale {lengthscale.value:.2f}, noise std {noise_std.value:.2f}: LML {lml:.2f} nats"
        plot_posterior(x_train, y_train, x_test, mean, variance.clamp_min(0).sqrt(), ax=ax, title=title)
        show_in_output(output, figure)

    lengthscale.observe(redraw, names="value")
    noise_std.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([lengthscale, noise_std]), output])
