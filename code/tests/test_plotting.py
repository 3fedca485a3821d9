"""Tests of the shared plotting helpers."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ml4es.plotting import show_in_output  # noqa: E402


def test_show_in_output_replaces_content():
    output = widgets.Output()
    output.outputs = ({"output_type": "stream", "name": "stdout", "text": "old"},)
    figure, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    show_in_output(output, figure)
    assert len(output.outputs) == 1
    assert output.outputs[0]["output_type"] == "display_data"
    assert "text/plain" in output.outputs[0]["data"]
    assert not plt.fignum_exists(figure.number)


def test_animation_html_requests_no_other_host():
    from matplotlib import animation

    from ml4es.plotting import animation_html

    figure, ax = plt.subplots()
    (line,) = ax.plot([0, 1], [0, 1])
    player = animation.FuncAnimation(figure, lambda frame: line.set_ydata([0, frame]), frames=3)
    html = animation_html(player)
    plt.close(figure)
    assert "font-awesome" not in html
    assert "http://" not in html
    assert "https://" not in html
    assert 'class="fa ' not in html
    assert "▶" in html
    assert "<img" in html


def test_animation_html_names_an_unknown_icon(monkeypatch):
    from ml4es import plotting

    class Player:
        def to_jshtml(self):
            return '<button><i class="fa fa-rocket"></i></button>'

    with pytest.raises(ValueError, match="fa fa-rocket"):
        plotting.animation_html(Player())


def test_animation_html_rejects_a_non_animation():
    from ml4es.plotting import animation_html

    with pytest.raises(TypeError, match="expected a matplotlib Animation, got NoneType"):
        animation_html(None)


def test_plot_losses_consecutive_phases():
    from ml4es.plotting import plot_losses

    ax = plot_losses({"Adam": [3.0, 2.0, 1.0], "L-BFGS": [0.5, 0.4]})
    adam, lbfgs = ax.get_lines()
    assert list(adam.get_xdata()) == [0, 1, 2]
    assert list(lbfgs.get_xdata()) == [3, 4]
    plt.close(ax.figure)


def test_plot_losses_terms_share_steps():
    from ml4es.plotting import plot_losses

    ax = plot_losses({"loss": [3.0, 2.0], "data": [1.0, 0.5], "residuals": [2.0, 1.5]}, consecutive=False)
    for line in ax.get_lines():
        assert list(line.get_xdata()) == [0, 1]
    plt.close(ax.figure)
