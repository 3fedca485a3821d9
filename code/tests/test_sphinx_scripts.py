"""Tests of the Sphinx extensions that change every page: each script written once, the front page titled once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sphinx.builders.html._assets import _JavaScript

from ml4es.sphinx_scripts import unique_scripts

# An extension that adds an inline script the way sphinx-thebe 0.3.1 does: after the builder
# has started, so that Sphinx 7.4 writes it twice.
LATE_SCRIPT = '''
def add_late_script(app, env, docnames):
    app.add_js_file(None, body='const LATE_SCRIPT = 1')


def setup(app):
    app.connect("env-before-read-docs", add_late_script)
    return {"parallel_read_safe": True}
'''


def build(tmp_path: Path, extensions: list[str]) -> str:
    source = tmp_path / "source"
    source.mkdir()
    (source / "late_script.py").write_text(LATE_SCRIPT)
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(source)!r})\nextensions = {extensions!r}\n"
    )
    (source / "index.rst").write_text("Page\n====\n\nText.\n")
    out = tmp_path / "html"
    subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(source), str(out)],
        check=True, capture_output=True, text=True,
    )
    return (out / "index.html").read_text()


def test_unique_scripts_none_and_empty_names():
    first = _JavaScript(None, body="const A = 1")
    again = _JavaScript("", body="const A = 1")
    other = _JavaScript("", body="const B = 2")
    loaded = _JavaScript("app.js", priority=200)
    assert unique_scripts([first, loaded, again, other, loaded]) == [first, loaded, other]


def test_unique_scripts_other_priority():
    early = _JavaScript("app.js", priority=200)
    late = _JavaScript("app.js", priority=800)
    assert unique_scripts([early, late]) == [early, late]


@pytest.mark.parametrize(("extensions", "copies"), [(["late_script"], 2), (["late_script", "ml4es.sphinx_scripts"], 1)])
def test_late_inline_script_written(tmp_path, extensions, copies):
    # Without the extension the page has two copies, so the test detects the problem it guards against.
    assert build(tmp_path, extensions).count("const LATE_SCRIPT = 1") == copies


@pytest.mark.parametrize(("extensions", "front_title"), [
    ([], "Course &#8212; Course"),
    (["ml4es.sphinx_slides"], "Course"),
])
def test_front_page_title_named_once(tmp_path, extensions, front_title):
    # The front page's heading is the project's name, which the theme also adds after every title.
    source = tmp_path / "source"
    source.mkdir()
    (source / "conf.py").write_text(
        f"project = 'Course'\nhtml_title = 'Course'\nhtml_theme = 'sphinx_book_theme'\nextensions = {extensions!r}\n"
    )
    (source / "index.rst").write_text("Course\n======\n\n.. toctree::\n\n   other\n")
    (source / "other.rst").write_text("Other\n=====\n\nText.\n")
    out = tmp_path / "html"
    subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(source), str(out)],
        check=True, capture_output=True, text=True,
    )
    assert f"<title>{front_title}</title>" in (out / "index.html").read_text()
    assert "<title>Other &#8212; Course</title>" in (out / "other.html").read_text()
