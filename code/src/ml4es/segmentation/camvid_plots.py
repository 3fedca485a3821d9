"""Figures for the street-scene chapter: colour-coded class maps, legends and confusion matrices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch


def colourise(labels, colours: np.ndarray) -> np.ndarray:
    """Return an RGB image (H x W x 3, uint8) that paints each class label in its colour."""
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if labels.min() < 0 or labels.max() >= len(colours):
        raise ValueError(f"labels span {labels.min()} to {labels.max()}; expected 0 to {len(colours) - 1}")
    return np.asarray(colours, dtype=np.uint8)[labels]


def class_legend(ax: plt.Axes, classes: Sequence[str], colours: np.ndarray, **kwargs) -> None:
    """Add a legend of coloured squares, one per class, to ``ax``."""
    handles = [Patch(color=np.asarray(colour) / 255, label=name) for name, colour in zip(classes, colours)]
    ax.legend(handles=handles, **kwargs)


def show_predictions(
    images: torch.Tensor,
    labels: torch.Tensor,
    predictions: torch.Tensor,
    classes: Sequence[str],
    colours: np.ndarray,
    titles: Sequence[str] | None = None,
) -> plt.Figure:
    """Show frames in rows: the image, the hand-labelled classes and the prediction."""
    rows = len(images)
    fig, axes = plt.subplots(rows, 3, figsize=(9.6, 2.5 * rows + 0.8), squeeze=False)
    for i in range(rows):
        accuracy = ""
        valid = labels[i] < len(classes)
        if valid.any():
            accuracy = f" ({float((predictions[i] == labels[i])[valid].float().mean()):.0%} of pixels right)"
        panels = [
            (images[i].permute(1, 2, 0).numpy(), titles[i] if titles else "frame"),
            (colourise(labels[i], colours), "hand-labelled (void in black)"),
            (colourise(predictions[i], colours), "U-Net" + accuracy),
        ]
        for ax, (picture, title) in zip(axes[i], panels):
            ax.imshow(picture)
            ax.set_title(title, fontsize="small")
            ax.set_axis_off()
    class_legend(fig, list(classes) + ["void"], colours, loc="lower center", ncol=6, fontsize="small")
    fig.tight_layout(rect=(0, 0.07 if rows > 1 else 0.12, 1, 1))
    return fig


def plot_confusion(matrix: torch.Tensor, classes: Sequence[str], ax: plt.Axes | None = None) -> plt.Axes:
    """Plot a confusion matrix normalised by row: where each true class's pixels went."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 5.4))
    matrix = np.asarray(matrix, dtype=float)
    rows = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.grid(False)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if rows[i, j] >= 0.05:
                ax.text(j, i, f"{rows[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if rows[i, j] > 0.5 else "black")
    plt.colorbar(image, ax=ax, fraction=0.046, label="fraction of the true class's pixels")
    ax.set_title("Confusion matrix on the validation frames")
    return ax


def plot_class_iou(
    scores: Mapping[str, Mapping[str, float]], frequency: Mapping[str, float], ax: plt.Axes | None = None
) -> plt.Axes:
    """Bar chart of per-class IoU for one or more models, classes ordered by pixel frequency."""
    own_figure = ax is None
    if own_figure:
        _, ax = plt.subplots(figsize=(8, 4))
    order = sorted(frequency, key=frequency.get, reverse=True)
    width = 0.8 / len(scores)
    for k, (name, iou) in enumerate(scores.items()):
        ax.bar(np.arange(len(order)) + (k - (len(scores) - 1) / 2) * width, [iou[c] for c in order], width, label=name)
    # Turned labels, so that long class names such as "pedestrian" and "cyclist" do not overlap.
    ax.set_xticks(
        range(len(order)), [f"{c} ({frequency[c]:.1%})" for c in order],
        fontsize="small", rotation=35, ha="right", rotation_mode="anchor",
    )
    ax.set_ylabel("IoU")
    ax.set_ylim(0, 1)
    ax.set_title("Per-class IoU; beside each class, its share of the labelled pixels")
    ax.legend()
    if own_figure:
        ax.figure.tight_layout()
    return ax
