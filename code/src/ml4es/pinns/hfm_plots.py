"""Figures for the chapter on hidden fluid mechanics: c observed, flow inferred, where it errs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from ml4es.pinns.hidden_fluid import Observations
from ml4es.pinns.ns_plots import X_LABEL, Y_LABEL, compare_fields
from ml4es.plotting import plot_field


def _extent(field: xr.DataArray) -> tuple[float, float, float, float]:
    x = field["x"].values
    y = field["y"].values
    return float(x[0]), float(x[-1]), float(y[0]), float(y[-1])


def concentration_samples(observations: Observations, dataset: xr.Dataset, time_index: int = 0, window: float = 0.5) -> plt.Figure:
    """Draw c of one snapshot with the observations within ``window`` time units of it, and their times."""
    concentration = dataset["c"].isel(time=time_index)
    time = float(dataset["time"][time_index])
    near = (observations.t.ravel() - time).abs() <= window
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 3.8), gridspec_kw={"width_ratios": [2.2, 1]})
    plot_field(
        concentration.values, _extent(concentration), ax=left, xlabel=X_LABEL, ylabel=Y_LABEL, colorbar_label="c",
        title=f"c at t = {time:.1f} D/U and {int(near.sum())} samples within ±{window:g}",
    )
    left.scatter(observations.x.ravel()[near].numpy(), observations.y.ravel()[near].numpy(), s=2, color="white", edgecolor="black", linewidth=0.2)
    right.hist(observations.t.ravel().numpy(), bins=20, color="grey")
    right.set_xlabel("t (D/U)")
    right.set_ylabel("samples")
    right.set_title(f"Times of all {len(observations)} samples")
    figure.tight_layout()
    return figure


def compare_flow(reference: xr.Dataset, predicted: xr.Dataset, time_index: int = 0) -> plt.Figure:
    """Draw u, v and p (spatial mean removed) of the simulation, the PINN and their difference."""
    return compare_fields(reference, predicted, time_index)


def error_and_gradient(error: xr.DataArray, gradient: xr.DataArray, concentration: xr.DataArray | None = None) -> plt.Figure:
    """Draw the RMS velocity error beside the RMS scalar gradient, with c's time mean as contours."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 3.8))
    plot_field(error.values, _extent(error), ax=left, title="RMS velocity error of the PINN", xlabel=X_LABEL, ylabel=Y_LABEL, colorbar_label="U")
    plot_field(gradient.values, _extent(gradient), ax=right, title="RMS |∇c| of the data", xlabel=X_LABEL, ylabel=Y_LABEL, colorbar_label="1/D")
    if concentration is not None:
        mean = concentration.mean(dim="time")
        for ax in (left, right):
            ax.contour(mean["x"].values, mean["y"].values, mean.values, levels=[0.1, 0.3], colors="white", linewidths=0.8)
    figure.tight_layout()
    return figure


def error_against_gradient(error: xr.DataArray, gradient: xr.DataArray, bins: int = 12) -> plt.Figure:
    """Draw the mean velocity error in bins of the scalar gradient, one point per grid point behind it."""
    g = gradient.values.ravel()
    e = error.values.ravel()
    edges = np.quantile(g, np.linspace(0, 1, bins + 1))
    index = np.clip(np.searchsorted(edges, g, side="right") - 1, 0, bins - 1)
    centres = [g[index == i].mean() for i in range(bins)]
    means = [e[index == i].mean() for i in range(bins)]
    figure, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(g, e, s=1, color="grey", alpha=0.2, label="grid points")
    ax.plot(centres, means, "o-", color="black", label="mean per bin")
    ax.set_xlabel("RMS |∇c| (1/D)")
    ax.set_ylabel("RMS velocity error (U)")
    ax.set_title("Velocity error against the scalar gradient")
    ax.legend()
    figure.tight_layout()
    return figure


def training_curves(log: Sequence[Mapping], title: str = "Training of the shipped weights") -> plt.Figure:
    """Draw the loss and the quick u, v, p errors against training time.

    ``log`` is the ``log`` list of ``hidden_fluid_pinn.json``: an entry every few hundred steps
    with ``seconds`` and ``loss``, and every few thousand steps with ``u_error``, ``v_error`` and
    ``p_error`` on 10 snapshots.
    """
    minutes = np.array([entry["seconds"] for entry in log]) / 60
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 3.8))
    left.semilogy(minutes, [entry["loss"] for entry in log])
    left.set_ylabel("loss")
    left.set_title(title)
    checked = [entry for entry in log if "u_error" in entry]
    checked_minutes = np.array([entry["seconds"] for entry in checked]) / 60
    for name in ("c", "u", "v", "p"):
        right.plot(checked_minutes, [entry[f"{name}_error"] for entry in checked], "o-", label=name)
    right.set_ylabel("relative L2 error")
    right.set_title("Errors on 10 snapshots")
    right.legend()
    for ax in (left, right):
        ax.set_xlabel("training time (minutes, 1 thread)")
    figure.tight_layout()
    return figure


__all__ = ["compare_flow", "concentration_samples", "error_against_gradient", "error_and_gradient", "training_curves"]
