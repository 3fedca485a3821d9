"""Tests of the Sphinx extension that restarts exercise and equation numbers in each document.

Each test builds a three-page Sphinx project (reStructuredText, no notebooks) in a temporary
folder with ``python -m sphinx``, in a fresh process per build as ``jupyter-book build`` does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ml4es
from ml4es.sphinx_numbering import restart_numbers

CONF = """
extensions = {extensions!r}
numfig = True
"""

INDEX = """
Book
====

.. toctree::

   first
   second
"""

FIRST = """
First
=====

{extra}.. exercise:: Alpha
   :label: first-alpha

   Do alpha.

.. math::
   :label: first-energy

   E = m c^2

.. exercise:: Beta
   :label: first-beta

   Do beta.

.. math::
   :label: first-momentum

   p = m v

Later: :numref:`second-gamma`.
"""

NEW_EXERCISE = """.. exercise:: New
   :label: {label}

   Do the new one.

"""

SECOND = """
Second
======

{extra}.. exercise:: Gamma
   :label: second-gamma

   Do gamma.

.. math::
   :label: second-wave

   u_{{tt}} = c^2 u_{{xx}}

See :numref:`first-beta`, :ref:`first-beta`, :eq:`first-momentum` and :eq:`second-wave`.
"""

EXTENSIONS = ["sphinx_exercise", "ml4es.sphinx_numbering"]


def write_project(source: Path, extensions: list[str] = EXTENSIONS) -> None:
    source.mkdir(exist_ok=True)
    (source / "conf.py").write_text(CONF.format(extensions=extensions))
    (source / "index.rst").write_text(INDEX)
    (source / "first.rst").write_text(FIRST.format(extra=""))
    (source / "second.rst").write_text(SECOND.format(extra=""))


def build(source: Path, output: Path) -> list[str]:
    """Build the project into ``output`` and return the documents Sphinx wrote."""
    # The build imports ml4es from the same place as this test, not from an installed copy.
    package_root = str(Path(ml4es.__file__).resolve().parents[1])
    python_path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", str(source), str(output)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": python_path},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return re.findall(r"writing output\.\.\. \[ *\d+%\] (\S+)", result.stdout)


def exercise_titles(page: Path) -> list[str]:
    return re.findall(r'<span class="caption-number">(Exercise \d+) </span>', page.read_text())


def equation_labels(page: Path) -> list[str]:
    return re.findall(r'<span class="eqno">\((\d+)\)', page.read_text())


def reference_texts(page: Path, start: str = "See") -> list[str]:
    """Return the text of every internal link in the paragraph that begins with ``start``."""
    paragraph = re.search(rf"<p>{start} (.*?)</p>", page.read_text(), re.DOTALL).group(1)
    return [re.sub(r"<[^>]+>", "", link) for link in re.findall(r'<a class="reference internal"[^>]*>(.*?)</a>', paragraph)]


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """A freshly built project, for tests that edit it and build again."""
    source, output = tmp_path / "source", tmp_path / "html"
    write_project(source)
    build(source, output)
    return source, output


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML of the project, built once for the tests that only read it."""
    folder = tmp_path_factory.mktemp("numbering")
    write_project(folder / "source")
    build(folder / "source", folder / "html")
    return folder / "html"


def test_book_wide_numbers_without_extension(tmp_path: Path):
    # The project does reproduce the book-wide numbering that the extension replaces.
    write_project(tmp_path / "source", extensions=["sphinx_exercise"])
    build(tmp_path / "source", tmp_path / "html")

    assert exercise_titles(tmp_path / "html" / "second.html") == ["Exercise 3"]
    assert equation_labels(tmp_path / "html" / "second.html") == ["3"]


def test_numbers_restart_in_each_document(site):
    output = site

    assert exercise_titles(output / "first.html") == ["Exercise 1", "Exercise 2"]
    assert equation_labels(output / "first.html") == ["1", "2"]
    assert exercise_titles(output / "second.html") == ["Exercise 1"]
    assert equation_labels(output / "second.html") == ["1"]


def test_references_show_target_document_numbers(site):
    output = site

    numref, ref, other_equation, own_equation = reference_texts(output / "second.html")
    assert numref == "Exercise 2"
    assert ref == "Exercise 2"
    assert other_equation == "(2)"
    assert own_equation == "(1)"
    assert reference_texts(output / "first.html", start="Later:") == ["Exercise 1"]


def test_unchanged_rebuild_writes_no_document(built):
    source, output = built

    written = build(source, output)

    assert not {"first", "second"} & set(written)


def test_edit_of_earlier_document_renumbers_it(built):
    source, output = built
    (source / "first.rst").write_text(FIRST.format(extra=NEW_EXERCISE.format(label="first-new")))

    written = build(source, output)

    assert "second" in written
    assert exercise_titles(output / "first.html") == ["Exercise 1", "Exercise 2", "Exercise 3"]
    assert exercise_titles(output / "second.html") == ["Exercise 1"]
    numref, ref, other_equation, _ = reference_texts(output / "second.html")
    assert numref == "Exercise 3"
    assert ref == "Exercise 3"
    assert other_equation == "(2)"


def test_edit_of_later_document_updates_references(built):
    # The first document's own numbers stay the same, so only its reference to the second one
    # makes it outdated.
    source, output = built
    (source / "second.rst").write_text(SECOND.format(extra=NEW_EXERCISE.format(label="second-new")))

    written = build(source, output)

    assert "first" in written
    assert exercise_titles(output / "second.html") == ["Exercise 1", "Exercise 2"]
    assert exercise_titles(output / "first.html") == ["Exercise 1", "Exercise 2"]
    assert reference_texts(output / "first.html", start="Later:") == ["Exercise 2"]


def test_restart_numbers_keeps_order_and_prefix():
    numbers = {"c": (7,), "a": (5,), "b": (6,)}
    assert restart_numbers(numbers) == {"a": (1,), "b": (2,), "c": (3,)}

    sectioned = {"x": (2, 4), "y": (3, 9), "z": (2, 5)}
    assert restart_numbers(sectioned) == {"x": (2, 1), "z": (2, 2), "y": (3, 1)}
    assert restart_numbers({}) == {}
