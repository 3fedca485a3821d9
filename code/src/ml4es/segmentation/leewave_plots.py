"""Figures of the lee-wave chapter: UKV fields with masks, synthetic waves, predictions and wavelengths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from ml4es.plotting import DIVERGING_CMAP
from ml4es.segmentation.leewaves import SyntheticWaves, WaveRegion

W_LIMIT = 1.0  # m/s: the colour scale of vertical velocity in every figure
# Hits, false alarms and misses of a predicted mask against a hand-drawn one.
OUTCOME_COLOURS = ListedColormap(["#ffffff", "#2e8b57", "#e69f00", "#7b3294"])
OUTCOME_LABELS = ("hit", "false alarm", "miss")


def extent_km(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Return the ``imshow`` extent (left, right, bottom, top) in km of grid-point coordinates in m."""
    dx, dy = x[1] - x[0], y[1] - y[0]
    return ((x[0] - dx / 2) / 1e3, (x[-1] + dx / 2) / 1e3, (y[0] - dy / 2) / 1e3, (y[-1] + dy / 2) / 1e3)


def show_w(w: np.ndarray, extent, ax: plt.Axes, title: str = "", mask: np.ndarray | None = None):
    """Draw vertical velocity (m/s) on a fixed diverging scale, with a mask's outline in black."""
    image = ax.imshow(w, origin="lower", extent=extent, cmap=DIVERGING_CMAP, vmin=-W_LIMIT, vmax=W_LIMIT)
    if mask is not None and np.any(mask):
        ax.contour(np.asarray(mask, dtype=float), levels=[0.5], colors="k", linewidths=0.8, origin="lower", extent=extent)
    ax.set_title(title)
    ax.grid(False)
    return image


def _time_label(time) -> str:
    return pd.Timestamp(time).strftime("%d %b %H:%M UTC")


def ukv_frames(ds) -> plt.Figure:
    """Draw every frame of ``ds`` (UKV 700 hPa vertical velocity) with its hand-drawn mask outlined."""
    extent = extent_km(ds["x"].values, ds["y"].values)
    count = ds.sizes["time"]
    fig, axes = plt.subplots(1, count, figsize=(3.2 * count + 1, 3.6), sharey=True, layout="constrained")
    for ax, index in zip(np.atleast_1d(axes), range(count)):
        image = show_w(ds["w"].values[index], extent, ax, _time_label(ds["time"].values[index]), ds["mask"].values[index])
        ax.set_xlabel("x (km)")
    np.atleast_1d(axes)[0].set_ylabel("y (km)")
    fig.colorbar(image, ax=axes, label="w at 700 hPa (m/s)", shrink=0.9)
    fig.suptitle("UKV vertical velocity; black outlines: hand-drawn lee-wave masks")
    return fig


def synthetic_examples(fields: Sequence[SyntheticWaves]) -> plt.Figure:
    """Draw synthetic fields with their exact masks, hills, wavelength and wind direction."""
    fig, axes = plt.subplots(1, len(fields), figsize=(3.4 * len(fields) + 1, 3.7), sharey=True, layout="constrained")
    for ax, field in zip(np.atleast_1d(axes), fields):
        n = field.w.shape[0]
        half = n * field.dx / 2e3
        extent = (-half, half, -half, half)
        image = show_w(field.w, extent, ax, f"λ = {field.wavelength / 1e3:.1f} km, wind to {field.direction:.0f}°", field.mask)
        ax.contour(field.orography, levels=[200, 500], colors="0.4", linewidths=0.6, linestyles=":", origin="lower", extent=extent)
        theta = np.deg2rad(field.direction)
        ax.annotate("", xy=(0.5 * half * np.cos(theta), 0.5 * half * np.sin(theta)), xytext=(0, 0),
                    arrowprops={"arrowstyle": "->", "color": "k", "lw": 1.5})
        ax.set_xlabel("x (km)")
    np.atleast_1d(axes)[0].set_ylabel("y (km)")
    fig.colorbar(image, ax=axes, label="w (m/s)", shrink=0.9)
    fig.suptitle("Synthetic lee waves: exact masks (black), hills (dotted, 200 and 500 m), wind (arrow)")
    return fig


def outcomes(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Return 0 (both empty), 1 (hit), 2 (false alarm) or 3 (miss) for each pixel."""
    predicted, truth = np.asarray(predicted, dtype=bool), np.asarray(truth, dtype=bool)
    result = np.zeros(truth.shape, dtype=np.uint8)
    result[predicted & truth] = 1
    result[predicted & ~truth] = 2
    result[~predicted & truth] = 3
    return result


def prediction_panels(ds, predictions: Mapping[str, np.ndarray]) -> plt.Figure:
    """Draw each frame of ``ds`` beside each method's mask, coloured by hits, false alarms and misses.

    ``predictions`` maps a method's name to boolean masks (frames x y x x) for the frames of ``ds``.
    """
    extent = extent_km(ds["x"].values, ds["y"].values)
    indices = range(ds.sizes["time"])
    rows, columns = len(indices), 1 + len(predictions)
    fig, axes = plt.subplots(rows, columns, figsize=(2.9 * columns + 0.6, 2.6 * rows + 0.5), sharex=True, sharey=True,
                             layout="constrained", squeeze=False)
    for row, index in enumerate(indices):
        truth = ds["mask"].values[index].astype(bool)
        image = show_w(ds["w"].values[index], extent, axes[row, 0], _time_label(ds["time"].values[index]), truth)
        for column, (name, masks) in enumerate(predictions.items(), start=1):
            ax = axes[row, column]
            ax.imshow(outcomes(masks[row], truth), origin="lower", extent=extent, cmap=OUTCOME_COLOURS, vmin=0, vmax=3,
                      interpolation="nearest")
            ax.grid(False)
            ax.set_title(name if row == 0 else "")
    for ax in axes[-1]:
        ax.set_xlabel("x (km)")
    for ax in axes[:, 0]:
        ax.set_ylabel("y (km)")
    fig.colorbar(image, ax=axes[:, 0], label="w (m/s)", shrink=0.8, location="left", pad=0.1)
    handles = [Patch(color=OUTCOME_COLOURS(i + 1), label=label) for i, label in enumerate(OUTCOME_LABELS)]
    fig.legend(handles=handles, loc="outside lower center", ncol=3)
    return fig


def threshold_curves(thresholds: Sequence[float], curves: Mapping[str, Sequence[float]], chosen: float | None = None,
                     ax: plt.Axes | None = None, xlabel: str = "probability threshold") -> plt.Axes:
    """Plot Dice against a decision threshold, one curve per data split or method."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.4))
    for name, values in curves.items():
        ax.plot(thresholds, values, "o-", label=name)
    if chosen is not None:
        ax.axvline(chosen, color="0.5", linestyle="--", label=f"chosen: {chosen:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Dice")
    ax.legend()
    return ax


def wavelength_check(true: np.ndarray, estimated: Mapping[str, np.ndarray], tolerance: float = 0.1) -> plt.Figure:
    """Plot estimated against true wavelengths (km) of synthetic fields, with the tolerance band."""
    fig, ax = plt.subplots(figsize=(4.8, 4.2), layout="constrained")
    true = np.asarray(true) / 1e3
    line = np.linspace(true.min() * 0.8, true.max() * 1.2, 2)
    ax.fill_between(line, line * (1 - tolerance), line * (1 + tolerance), color="0.85", label=f"±{tolerance:.0%}")
    ax.plot(line, line, color="0.4", linewidth=0.8)
    # Open markers after the first, so that estimates that agree do not hide each other.
    for number, (name, values) in enumerate(estimated.items()):
        ax.plot(true, np.asarray(values) / 1e3, "os^"[number % 3], label=name, markersize=8 - 2 * number,
                fillstyle="full" if number == 0 else "none", markeredgewidth=1.5)
    ax.set_xlabel("true wavelength (km)")
    ax.set_ylabel("estimated wavelength (km)")
    ax.set_title("FFT wavelength inside the mask, synthetic fields")
    ax.legend()
    return fig


def region_map(ds, index: int, mask: np.ndarray, regions: Sequence[WaveRegion], ax: plt.Axes | None = None) -> plt.Axes:
    """Draw a frame with a predicted mask; mark each region's wavelength and crest orientation."""
    extent = extent_km(ds["x"].values, ds["y"].values)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.2, 5.2), layout="constrained")
    image = show_w(ds["w"].values[index], extent, ax, f"{_time_label(ds['time'].values[index])}: detected waves", mask)
    x_km, y_km = ds["x"].values / 1e3, ds["y"].values / 1e3
    for region in regions:
        row, column = region.centre
        cx, cy = np.interp(column, np.arange(len(x_km)), x_km), np.interp(row, np.arange(len(y_km)), y_km)
        # Crests run across the wavevector: draw a bar along the crests and label the wavelength.
        crest = np.deg2rad(region.orientation + 90.0)
        half = 40.0
        ax.plot([cx - half * np.cos(crest), cx + half * np.cos(crest)], [cy - half * np.sin(crest), cy + half * np.sin(crest)],
                color="k", linewidth=2.5)
        ax.annotate(f"{region.wavelength / 1e3:.1f} km", (cx, cy), xytext=(6, 6), textcoords="offset points",
                    fontsize=9, bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8})
    ax.set_xlabel("x (km)")
    ax.set_ylabel("y (km)")
    ax.figure.colorbar(image, ax=ax, label="w (m/s)", shrink=0.8)
    return ax
