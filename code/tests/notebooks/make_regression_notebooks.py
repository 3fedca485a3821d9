"""Write the regression notebooks that test_regression.py executes and compares with pytest-notebook.

Each notebook prints outputs that must not change from run to run: checker verdicts for right,
wrong and untouched answers, and metrics of the pretrained weights. Run this script to write the
notebooks afresh with their reference outputs after a deliberate change:

    python code/tests/notebooks/make_regression_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

HEAT_CELLS = [
    """\
import numpy as np
import torch

from ml4es.pinns import heat
from ml4es.pinns.heat_checks import (
    check_collocation_study,
    check_initial_boundary_loss,
    check_learnable_alpha,
    check_residual,
)

torch.set_num_threads(1)""",
    "check_residual(heat.residual);",
    """\
def untouched(model, t, x, alpha):
    raise NotImplementedError

check_residual(untouched);""",
    "check_residual(lambda model, t, x, alpha: np.zeros(3));",
    "check_residual(lambda model, t, x, alpha: heat.residual(model, t, x, alpha) * float('nan'));",
    "check_residual(42);",
    """\
def initial_boundary_loss(model, x_initial, t_boundary):
    return heat.initial_loss(model, x_initial) + heat.boundary_loss(model, t_boundary)

check_initial_boundary_loss(initial_boundary_loss);""",
    "check_initial_boundary_loss(lambda model, x_initial, t_boundary: 0.5);",
    "check_learnable_alpha(torch.nn.Parameter(torch.tensor(0.1, dtype=torch.float64)));",
    "check_learnable_alpha(torch.tensor(0.1, dtype=torch.float64));",
    "check_learnable_alpha(...);",
    "check_collocation_study({});",
    "check_collocation_study('many');",
    """\
model = heat.load_pretrained("heat_forward")
print(f"relative L2 error of the pretrained forward model: {heat.relative_l2_error(model):.2e}")""",
]


def write(name: str, cells: list[str]) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}"
    path = HERE / name
    nbformat.write(notebook, path)
    return path


if __name__ == "__main__":
    print(write("heat_checkers.ipynb", HEAT_CELLS))
