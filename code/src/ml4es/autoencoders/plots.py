"""Figures of the autoencoder chapter."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch

from ml4es.autoencoders.fields import Snapshots
from ml4es.plotting import DIVERGING_CMAP


def _array(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def show_field(snapshots: Snapshots, field, ax: plt.Axes | None = None, title: str = "", limit: float | None = None) -> plt.Axes:
    """Draw one standardised field in physical units (vorticity in U/D) over the wake region."""
    values = snapshots.physical(_array(field).reshape(snapshots.shape))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    limit = limit or float(np.abs(values).max())
    image = ax.imshow(values, origin="lower", extent=snapshots.extent, cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
    ax.set_xlabel("x / D")
    ax.set_ylabel("y / D")
    ax.set_title(title)
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, label="vorticity (U/D)", shrink=0.8)
    return ax


def wake_snapshots(snapshots: Snapshots, indices: list[int]) -> plt.Figure:
    """Draw training snapshots at several times, one panel each."""
    fig, axes = plt.subplots(len(indices), 1, figsize=(6.5, 2.2 * len(indices)), sharex=True)
    limit = float(np.abs(snapshots.physical(snapshots.train)).max())
    for ax, index in zip(np.atleast_1d(axes), indices):
        show_field(snapshots, snapshots.train[index, 0], ax, f"t = {snapshots.times[index]:.1f} D/U", limit)
    fig.suptitle("Vorticity in the cylinder wake at Re = 100")
    fig.tight_layout()
    return fig


def compare_reconstructions(snapshots: Snapshots, index: int, pod, autoencoder) -> plt.Figure:
    """Draw a test snapshot, its two-mode POD and its autoencoder reconstruction, with their errors."""
    truth = snapshots.test[index, 0]
    panels = [("test snapshot", truth), ("POD, 2 modes", _array(pod)[index, 0]), ("autoencoder, k = 2", _array(autoencoder)[index, 0])]
    fig, axes = plt.subplots(3, 2, figsize=(11, 6.5), sharex=True, sharey=True)
    limit = float(np.abs(snapshots.physical(truth)).max())
    for row, (name, field) in enumerate(panels):
        show_field(snapshots, field, axes[row, 0], name, limit)
        error = (_array(field) - _array(truth)).reshape(snapshots.shape) * snapshots.scale
        image = axes[row, 1].imshow(error, origin="lower", extent=snapshots.extent, cmap=DIVERGING_CMAP, vmin=-limit / 4, vmax=limit / 4)
        axes[row, 1].set_title(f"{name}: error (colour scale 1/4 of the field's)" if row else "no error")
        axes[row, 1].grid(False)
        fig.colorbar(image, ax=axes[row, 1], label="U/D", shrink=0.8)
    fig.suptitle(f"Reconstruction of the test snapshot at t = {snapshots.times[len(snapshots.train) + index]:.1f} D/U")
    fig.tight_layout()
    return fig


def compare_components(learnt: np.ndarray, principal: np.ndarray, shape: tuple[int, int]) -> plt.Figure:
    """Draw the linear autoencoder's decoder columns beside the principal components, as images."""
    fig, axes = plt.subplots(2, len(learnt), figsize=(2.6 * len(learnt), 5))
    for column in range(len(learnt)):
        for row, (name, vectors) in enumerate((("decoder column", learnt), ("principal component", principal))):
            ax = axes[row, column]
            image = vectors[column].reshape(shape)
            limit = float(np.abs(image).max())
            ax.imshow(image, cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
            ax.set_title(f"{name} {column + 1}")
            ax.axis("off")
    fig.suptitle("Linear autoencoder against PCA on the digits: different bases, same plane")
    fig.tight_layout()
    return fig


def latent_cycle(latent_train: np.ndarray, latent_test: np.ndarray, times: np.ndarray) -> plt.Figure:
    """Plot the latent coordinates of every snapshot, coloured by time, to show the limit cycle."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    n_train = len(latent_train)
    ax.plot(latent_train[:, 0], latent_train[:, 1], color="0.7", linewidth=0.8, zorder=1)
    points = ax.scatter(latent_train[:, 0], latent_train[:, 1], c=times[:n_train], s=14, cmap="viridis", label="train", zorder=2)
    ax.scatter(latent_test[:, 0], latent_test[:, 1], marker="x", color="C3", s=24, label="test", zorder=3)
    fig.colorbar(points, ax=ax, label="time (D/U)")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title("Wake snapshots in the autoencoder's latent space")
    ax.legend(loc="best")
    return fig


def power_spectrum(fields) -> tuple[np.ndarray, np.ndarray]:
    """Streamwise power spectrum of ``(n, 1, h, w)`` fields, averaged over samples and rows.

    Returns the wavenumbers (cycles per grid spacing) and the power at each.
    """
    values = _array(fields)[:, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(values, axis=-1)) ** 2
    return np.fft.rfftfreq(values.shape[-1]), spectrum.mean(axis=(0, 1))


def field_statistics(data, samples) -> dict:
    """Compute the mean field, variance field and power spectrum of data and samples, with errors.

    ``data`` and ``samples`` are ``(n, 1, h, w)`` fields in physical units: with standardised
    fields the data's mean field is zero and its relative error is meaningless.

    The field errors are the root-mean-square difference of the mean (or variance) fields divided
    by the root-mean-square of the data's field. The spectrum error is the mean absolute difference
    of the base-10 logarithms of the spectra, so 0.3 is a factor of 2.
    """
    data, samples = _array(data)[:, 0], _array(samples)[:, 0]
    statistics = {"data": {}, "samples": {}}
    for name, values in (("data", data), ("samples", samples)):
        statistics[name]["mean"] = values.mean(axis=0)
        statistics[name]["variance"] = values.var(axis=0)
        statistics[name]["wavenumber"], statistics[name]["spectrum"] = power_spectrum(values[:, None])

    def relative(name: str) -> float:
        reference = statistics["data"][name]
        difference = statistics["samples"][name] - reference
        return float(np.sqrt(np.mean(difference**2) / np.mean(reference**2)))

    log_difference = np.log10(statistics["samples"]["spectrum"][1:]) - np.log10(statistics["data"]["spectrum"][1:])
    statistics["errors"] = {
        "mean field": relative("mean"),
        "variance field": relative("variance"),
        "log10 power spectrum": float(np.mean(np.abs(log_difference))),
    }
    return statistics


def compare_statistics(snapshots: Snapshots, data, samples, statistics: dict) -> plt.Figure:
    """Draw the variance fields of the data and the samples, and their streamwise power spectra."""
    fig = plt.figure(figsize=(11, 6))
    grid = fig.add_gridspec(2, 2)
    limit = float(statistics["data"]["variance"].max())
    for row, name in enumerate(("data", "samples")):
        ax = fig.add_subplot(grid[row, 0])
        image = ax.imshow(statistics[name]["variance"], origin="lower", extent=snapshots.extent, vmin=0, vmax=limit)
        ax.set_title(f"variance of the {'snapshots' if name == 'data' else 'VAE samples'}")
        ax.set_xlabel("x / D")
        ax.set_ylabel("y / D")
        ax.grid(False)
        fig.colorbar(image, ax=ax, label="(U/D)$^2$", shrink=0.8)
    ax = fig.add_subplot(grid[:, 1])
    for name, label in (("data", "snapshots"), ("samples", "VAE samples")):
        ax.loglog(statistics[name]["wavenumber"][1:], statistics[name]["spectrum"][1:], label=label)
    ax.set_xlabel("streamwise wavenumber (cycles per grid spacing)")
    ax.set_ylabel("power")
    ax.set_title("Streamwise power spectrum")
    ax.legend()
    fig.tight_layout()
    return fig


def latent_grid(snapshots: Snapshots, decoder: Callable, limit: float = 2.0, n: int = 4) -> plt.Figure:
    """Draw the fields decoded on an ``n`` x ``n`` grid of latent points in [-limit, limit]^2."""
    values = np.linspace(-limit, limit, n)
    fig, axes = plt.subplots(n, n, figsize=(2.8 * n, 1.6 * n), sharex=True, sharey=True)
    scale = float(np.abs(snapshots.physical(snapshots.train)).max())
    with torch.no_grad():
        for row, z2 in enumerate(values[::-1]):
            for column, z1 in enumerate(values):
                field = decoder(torch.tensor([[z1, z2]], dtype=torch.float32))[0, 0]
                ax = axes[row, column]
                ax.imshow(snapshots.physical(field), origin="lower", extent=snapshots.extent, cmap=DIVERGING_CMAP, vmin=-scale, vmax=scale)
                ax.set_title(f"z = ({z1:.1f}, {z2:.1f})", fontsize="small")
                ax.grid(False)
    fig.suptitle("Vorticity decoded across the VAE's latent space")
    fig.tight_layout()
    return fig


def eof_patterns(snapshots: Snapshots, patterns: np.ndarray) -> plt.Figure:
    """Draw the leading EOFs of the geopotential height anomalies as maps (arbitrary units)."""
    fig, axes = plt.subplots(1, len(patterns), figsize=(5.5 * len(patterns), 3.5))
    for index, (ax, pattern) in enumerate(zip(np.atleast_1d(axes), patterns)):
        image = pattern.reshape(snapshots.shape)
        limit = float(np.abs(image).max())
        shown = ax.imshow(image, origin="lower", extent=snapshots.extent, cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit, aspect="auto")
        ax.set_xlabel("longitude (degrees east)")
        ax.set_ylabel("latitude (degrees north)")
        ax.set_title(f"EOF {index + 1} of winter 500 hPa height")
        ax.grid(False)
        fig.colorbar(shown, ax=ax, label="arbitrary units", shrink=0.8)
    fig.tight_layout()
    return fig
