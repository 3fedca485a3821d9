"""Execute every chapter's student and instructor notebooks, as a student and an instructor would.

The student notebook must run top to bottom with no error but ``NotImplementedError`` from an
untouched stub, and every checker must say "not implemented yet". The instructor notebook, with
the solutions in place, must run with no error and pass every checker.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from ml4es import checks
from ml4es.notebooks import chapter_sources, make_notebook, read_settings, solution_leaks

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = chapter_sources(ROOT)
VERDICT = re.compile(r"^\[(?P<mark>correct|wrong| )\] (?P<exercise>Exercise [^:]+):", re.MULTILINE)
MIN_EXERCISES = 4

pytestmark = pytest.mark.slow


def chapter_id(path: Path) -> str:
    return path.relative_to(ROOT / "book").with_suffix("").as_posix()


def execute(notebook: nbformat.NotebookNode, chapter: Path, allow_errors: bool, strict: bool):
    environment = {checks.STRICT_ENV: "1" if strict else "0", "ML4ES_DEVICE": "cpu"}
    previous = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        client = NotebookClient(
            notebook,
            timeout=900,
            kernel_name="python3",
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(chapter.parent)}},
        )
        client.execute()
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return notebook


def outputs_of(notebook: nbformat.NotebookNode, output_type: str):
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == output_type:
                yield index, cell, output


def verdicts(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    found = []
    for _, _, output in outputs_of(notebook, "stream"):
        found += [(match["mark"], match["exercise"]) for match in VERDICT.finditer(output.text)]
    return found


@pytest.mark.parametrize("chapter", CHAPTERS, ids=chapter_id)
def test_student_notebook_runs(chapter):
    notebook = make_notebook(chapter, read_settings(ROOT), student=True)
    assert solution_leaks(notebook, chapter) == []

    execute(notebook, chapter, allow_errors=True, strict=False)

    errors = [(index, output.ename, output.evalue) for index, _, output in outputs_of(notebook, "error")]
    unexpected = [error for error in errors if error[1] != "NotImplementedError"]
    assert unexpected == [], f"cells raised errors other than NotImplementedError: {unexpected}"

    found = verdicts(notebook)
    assert len(found) >= MIN_EXERCISES, f"expected at least {MIN_EXERCISES} checker verdicts, got {found}"
    assert all(mark == " " for mark, _ in found), f"an untouched stub got a verdict other than 'not implemented yet': {found}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=chapter_id)
def test_instructor_notebook_passes_checkers(chapter):
    notebook = make_notebook(chapter, read_settings(ROOT), student=False)

    execute(notebook, chapter, allow_errors=False, strict=True)

    found = verdicts(notebook)
    assert len(found) >= MIN_EXERCISES, f"expected at least {MIN_EXERCISES} checker verdicts, got {found}"
    assert all(mark == "correct" for mark, _ in found), f"with the solutions in place, checkers failed: {found}"
