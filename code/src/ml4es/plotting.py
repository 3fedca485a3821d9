"""Plotting helpers that give every chapter the same look."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": "medium",
    "legend.frameon": False,
    "image.cmap": "viridis",
}

DIVERGING_CMAP = "RdBu_r"


def use_style() -> None:
    """Apply the course's matplotlib style to every figure drawn afterwards."""
    mpl.rcParams.update(STYLE)


def plot_losses(
    histories: Mapping[str, Sequence[float]],
    ax: plt.Axes | None = None,
    title: str = "Training loss",
    consecutive: bool = True,
) -> plt.Axes:
    """Plot one or more loss histories against the step on a logarithmic axis.

    With ``consecutive=True`` the histories are phases of one run (Adam, then L-BFGS), drawn one
    after another. With ``consecutive=False`` they are parts of the same steps (the loss and its
    terms), all drawn from step 0.
    """
    if ax is None:
        _, ax = plt.subplots()
    offset = 0
    for label, history in histories.items():
        steps = np.arange(offset, offset + len(history))
        ax.semilogy(steps, history, label=label)
        if consecutive:
            offset += len(history)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    if len(histories) > 1:
        ax.legend()
    return ax


def plot_field(
    values: np.ndarray,
    extent: tuple[float, float, float, float],
    ax: plt.Axes | None = None,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    colorbar_label: str = "",
    diverging: bool = False,
) -> plt.Axes:
    """Draw a 2-D field ``values[row, column]`` over ``extent = (left, right, bottom, top)``.

    Rows run along the vertical axis. With ``diverging`` the colour scale is symmetric about
    zero, which suits errors and anomalies.
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array of values, got shape {values.shape}")
    if ax is None:
        _, ax = plt.subplots()
    options = {"origin": "lower", "extent": extent, "aspect": "auto"}
    if diverging:
        limit = float(np.nanmax(np.abs(values))) or 1.0
        options.update(cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
    image = ax.imshow(values, **options)
    colorbar = ax.figure.colorbar(image, ax=ax)
    colorbar.set_label(colorbar_label)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    return ax


def show_in_output(output, figure) -> None:
    """Make an ipywidgets ``Output`` show ``figure`` alone, then close the figure.

    The figure goes into the widget's ``outputs`` directly instead of being drawn inside
    ``with output:``. Drawing inside the context routes the cell's messages through the widget,
    and notebook runners (nbclient, as used by the book build and the tests) then sometimes wait
    out the whole cell timeout although the kernel has finished.
    """
    from IPython.core.interactiveshell import InteractiveShell

    data, metadata = InteractiveShell.instance().display_formatter.format(figure)
    output.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)
    plt.close(figure)


# Text symbols for the buttons of matplotlib's JavaScript animation player, which draws them
# with the Font Awesome icon font from a CDN; the course's pages must work offline.
_PLAYER_ICONS = {
    "fa fa-minus": "−",
    "fa fa-fast-backward": "|◀◀",
    "fa fa-step-backward": "|◀",
    "fa fa-play fa-flip-horizontal": "◀",
    "fa fa-pause": "||",
    "fa fa-play": "▶",
    "fa fa-step-forward": "▶|",
    "fa fa-fast-forward": "▶▶|",
    "fa fa-plus": "+",
}


def animation_html(animation) -> str:
    """Return ``animation.to_jshtml()`` with no request to another host.

    matplotlib's player links a Font Awesome style sheet on a CDN for its button icons. The link
    is removed and each icon replaced by a text symbol, so the player works on an offline page.
    An icon this function does not know raises ``ValueError``, naming it.
    """
    if not callable(getattr(animation, "to_jshtml", None)):
        raise TypeError(f"expected a matplotlib Animation, got {type(animation).__name__}")
    html = animation.to_jshtml()
    html = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*font-awesome[^"]*">', "", html)
    for icon, symbol in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="{icon}"></i>', symbol)
    leftover = re.findall(r'<i class="(fa [^"]*)"', html)
    if leftover:
        raise ValueError(f"unknown animation button icons {sorted(set(leftover))}; expected only {sorted(_PLAYER_ICONS)}")
    if "https://" in html or "http://" in html:
        raise ValueError("the animation's HTML still links another host")
    return html
