"""Tests of the shared plotting helpers."""

from __future__ import annotations

import ipywidgets as widgets
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
