"""Figures for the chapter on discovering the Navier–Stokes equations from the cylinder wake."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib import animation
import numpy as np
import xarray as xr

from ml4es.flows.validation import vorticity
from ml4es.pinns.navier_stokes import Samples, remove_mean_pressure
from ml4es.plotting import plot_field

X_LABEL = "x / D"
Y_LABEL = "y / D"


def _extent(field: xr.DataArray) -> tuple[float, float, float, float]:
    x = field["x"].values
    y = field["y"].values
    return float(x[0]), float(x[-1]), float(y[0]), float(y[-1])


def wake_overview(dataset: xr.Dataset, time_index: int = 0) -> plt.Figure:
    """Draw the vorticity and the passive scalar of one snapshot side by side."""
    omega = vorticity(dataset.isel(time=[time_index]))[0]
    concentration = dataset["c"].isel(time=time_index)
    time = float(dataset["time"][time_index])
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 3.8))
    plot_field(omega.values, _extent(omega), ax=left, title=f"Vorticity at t = {time:.1f} D/U", xlabel=X_LABEL, ylabel=Y_LABEL, colorbar_label="ω (U/D)", diverging=True)
    plot_field(concentration.values, _extent(concentration), ax=right, title=f"Passive scalar at t = {time:.1f} D/U", xlabel=X_LABEL, ylabel=Y_LABEL, colorbar_label="c")
    figure.tight_layout()
    return figure


def wake_animation(dataset: xr.Dataset, time_indices: Sequence[int], interval_ms: int = 150) -> animation.FuncAnimation:
    """Return an animation of the vorticity and the passive scalar over the snapshots ``time_indices``.

    Show it in a notebook with ``HTML(ml4es.plotting.animation_html(result))``, which embeds
    every frame, so the page plays it without a kernel or a network.
    """
    indices = list(time_indices)
    omega = vorticity(dataset.isel(time=indices))
    concentration = dataset["c"].isel(time=indices)
    limit = float(np.abs(omega).max())
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2), dpi=50)
    images = [
        left.imshow(omega[0].values, origin="lower", extent=_extent(omega), aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit),
        right.imshow(concentration[0].values, origin="lower", extent=_extent(concentration), aspect="auto", vmin=0.0, vmax=float(concentration.max())),
    ]
    figure.colorbar(images[0], ax=left).set_label("ω (U/D)")
    figure.colorbar(images[1], ax=right).set_label("c")
    for ax, name in ((left, "Vorticity"), (right, "Passive scalar")):
        ax.set_xlabel(X_LABEL)
        ax.set_ylabel(Y_LABEL)
        ax.set_title(name)
        ax.grid(False)
    figure.tight_layout()

    def draw(frame: int):
        images[0].set_data(omega[frame].values)
        images[1].set_data(concentration[frame].values)
        time = float(dataset["time"][indices[frame]])
        left.set_title(f"Vorticity at t = {time:.1f} D/U")
        right.set_title(f"Passive scalar at t = {time:.1f} D/U")
        return images

    result = animation.FuncAnimation(figure, draw, frames=len(indices), interval=interval_ms, blit=False)
    # Closed so that the notebook does not also show the first frame as a static figure.
    plt.close(figure)
    return result


def sample_locations(samples: Samples, dataset: xr.Dataset, time_index: int = 0) -> plt.Figure:
    """Draw the sample points over the vorticity of one snapshot, and their times as a histogram."""
    omega = vorticity(dataset.isel(time=[time_index]))[0]
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 3.8), gridspec_kw={"width_ratios": [2.2, 1]})
    plot_field(omega.values, _extent(omega), ax=left, title=f"{len(samples)} samples (all times) over ω at t = {float(dataset['time'][time_index]):.1f}", xlabel=X_LABEL, ylabel=Y_LABEL, colorbar_label="ω (U/D)", diverging=True)
    left.scatter(samples.x.ravel().numpy(), samples.y.ravel().numpy(), s=1.5, color="black", alpha=0.4)
    right.hist(samples.t.ravel().numpy(), bins=20, color="grey")
    right.set_xlabel("t (D/U)")
    right.set_ylabel("samples")
    right.set_title("Times of the samples")
    figure.tight_layout()
    return figure


def compare_fields(reference: xr.Dataset, predicted: xr.Dataset, time_index: int = 0) -> plt.Figure:
    """Draw u, v and p (spatial mean removed) of the simulation, the PINN and their difference."""
    figure, axes = plt.subplots(3, 3, figsize=(15, 8.5))
    time = float(reference["time"][time_index])
    for row, name in enumerate(("u", "v", "p")):
        truth = reference[name].isel(time=time_index)
        guess = predicted[name].isel(time=time_index)
        if name == "p":
            truth = remove_mean_pressure(truth)
            guess = remove_mean_pressure(guess)
        units = "ρU²" if name == "p" else "U"
        label = f"{name} - mean ({units})" if name == "p" else f"{name} ({units})"
        limits = (float(truth.min()), float(truth.max()))
        for column, (values, title) in enumerate(((truth, "simulation"), (guess, "PINN"))):
            ax = axes[row, column]
            image = ax.imshow(values.values, origin="lower", extent=_extent(values), aspect="auto", vmin=limits[0], vmax=limits[1])
            figure.colorbar(image, ax=ax).set_label(label)
            ax.set_title(f"{name}, {title}, t = {time:.1f}")
            ax.grid(False)
        plot_field((guess - truth).values, _extent(truth), ax=axes[row, 2], title=f"{name}: PINN - simulation", colorbar_label=units, diverging=True)
    for ax in axes[-1]:
        ax.set_xlabel(X_LABEL)
    for ax in axes[:, 0]:
        ax.set_ylabel(Y_LABEL)
    figure.tight_layout()
    return figure


def lambda_convergence(
    log: Sequence[Mapping], title: str = "Convergence of the shipped training run", restarts: Sequence[float] = ()
) -> plt.Figure:
    """Draw the relative errors of lambda1 and lambda2 and the loss against training time.

    ``log`` is the ``log`` list of a case in ``ns_inverse_pinn.json``: one entry every few hundred
    steps with ``seconds``, ``loss``, ``lambda1_error`` and ``lambda2_error``. ``restarts`` are
    the times in seconds where a new run started from the previous one's weights.
    """
    minutes = np.array([entry["seconds"] for entry in log]) / 60
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 3.8))
    left.semilogy(minutes, [entry["lambda1_error"] for entry in log], label="λ1")
    left.semilogy(minutes, [entry["lambda2_error"] for entry in log], label="λ2")
    switch = [entry["seconds"] / 60 for entry in log if entry["phase"] == "L-BFGS"]
    for ax in (left, right):
        if switch:
            ax.axvline(switch[0], color="grey", linestyle=":", label="Adam → L-BFGS")
        for index, seconds in enumerate(restarts):
            ax.axvline(seconds / 60, color="black", linestyle="--", label="new run" if index == 0 else None)
        ax.set_xlabel("training time (minutes, 1 thread)")
    left.set_ylabel("relative error")
    left.set_title(title)
    left.legend()
    right.semilogy(minutes, [entry["loss"] for entry in log])
    right.set_ylabel("loss")
    right.set_title("Training loss")
    figure.tight_layout()
    return figure


__all__ = ["compare_fields", "lambda_convergence", "sample_locations", "wake_animation", "wake_overview"]
