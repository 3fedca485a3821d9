"""Regression tests with pytest-notebook: deterministic notebook outputs must not change.

The notebooks in ``notebooks/`` print checker verdicts and metrics of the pretrained weights.
pytest-notebook executes each one and compares its outputs with the stored ones. Execution
counts, kernel warnings and metadata are volatile and ignored. After a deliberate change, write
the reference outputs afresh with ``python code/tests/notebooks/make_regression_notebooks.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_notebook.nb_regression import NBRegressionFixture

NOTEBOOKS = sorted((Path(__file__).parent / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def regression():
    fixture = NBRegressionFixture(
        exec_timeout=600,
        diff_ignore=(
            "/metadata/language_info",
            "/metadata/widgets",
            "/cells/*/execution_count",
            "/cells/*/outputs/*/execution_count",
        ),
        diff_replace=(
            # The kernel's own start-up warnings reach the first cells' stderr and vary with
            # the transport it runs over.
            ("/cells/*/outputs/*/text", r"\[IPKernelApp\] WARNING[^\n]*\n?", ""),
        ),
    )
    fixture.diff_use_color = False
    return fixture


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_outputs_unchanged(regression, path):
    result = regression.check(str(path), raise_errors=False)
    assert result.diff_filtered == [], f"outputs of {path.name} changed:\n{result.diff_string}"
