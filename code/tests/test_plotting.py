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
