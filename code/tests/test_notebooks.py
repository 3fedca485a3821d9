"""Tests of the student and instructor notebook generator, on a small fixture book."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from ml4es import notebooks
from ml4es.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "book"
CHAPTER = FIXTURE / "book" / "demo" / "chapter.md"


@pytest.fixture(scope="module")
def settings():
    return notebooks.read_settings(FIXTURE)


@pytest.fixture(scope="module")
def student(settings):
    return notebooks.make_notebook(CHAPTER, settings, student=True)


@pytest.fixture(scope="module")
def instructor(settings):
    return notebooks.make_notebook(CHAPTER, settings, student=False)


def sources(notebook, cell_type):
    return [cell.source for cell in notebook.cells if cell.cell_type == cell_type]


def test_student_drops_solution_cells(student):
    code = "\n".join(sources(student, "code"))
    assert "total_of_both" not in code
    assert all("solution" not in cell.metadata.get("tags", []) for cell in student.cells)


def test_student_replaces_solution_regions(student):
    scale_cell = next(source for source in sources(student, "code") if "def scale" in source)
    assert scale_cell == "def scale(values):\n    factor = ...\n    ..."


def test_student_keeps_stub(student):
    assert any("raise NotImplementedError" in source for source in sources(student, "code"))


def test_student_has_no_leaks(student):
    assert notebooks.solution_leaks(student, CHAPTER) == []


def test_leak_check_finds_solution(instructor):
    leaks = notebooks.solution_leaks(instructor, CHAPTER)
    assert any("tagged 'solution'" in leak for leak in leaks)
    assert any("solution marker" in leak for leak in leaks)
    assert any("total_of_both = a + b" in leak for leak in leaks)


def test_student_drops_text_solution(student, instructor):
    assert "Because addition" not in "\n".join(sources(student, "markdown"))
    assert "Because addition" in "\n".join(sources(instructor, "markdown"))


def test_instructor_keeps_everything(instructor):
    code = "\n".join(sources(instructor, "code"))
    assert "total_of_both = a + b" in code
    assert "# BEGIN SOLUTION" in code


def test_outputs_cleared(student, instructor):
    for notebook in (student, instructor):
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == []
                assert cell.execution_count is None


def test_setup_cell_first(student, instructor, settings):
    for notebook in (student, instructor):
        first = notebook.cells[0]
        assert first.cell_type == "code"
        assert "google.colab" in first.source
        assert settings.install_requirement in first.source
    assert settings.install_requirement == (
        "ml4es @ git+https://github.com/example-org/example-course@main#subdirectory=code"
    )


def test_no_myst_syntax_left(student, instructor):
    for notebook in (student, instructor):
        markdown = "\n".join(sources(notebook, "markdown"))
        assert "```{" not in markdown
        assert ":::" not in markdown
        assert "{eq}" not in markdown
        assert "{cite" not in markdown
        assert "(demo-chapter)=" not in markdown


def test_equations_numbered(student):
    markdown = "\n".join(sources(student, "markdown"))
    assert "\\tag{1}" in markdown
    assert "The heat equation (1)" in markdown
    assert "Equation (1) is not needed" in markdown


def test_exercises_numbered(student):
    markdown = "\n".join(sources(student, "markdown"))
    assert "**Exercise 1: Add two numbers**" in markdown
    assert "**Exercise 2: Think about it**" in markdown
    assert "Why does Exercise 1 work?" in markdown


def test_citations_and_references(student):
    markdown = "\n".join(sources(student, "markdown"))
    assert "(Smith and Jones 2020)" in markdown
    assert "Lee et al. (2019)" in markdown
    assert "- Smith, Jones (2020). A Study of Heat." in markdown
    assert "https://doi.org/10.0000/example.1" in markdown


def test_figure_points_at_repository(student):
    markdown = "\n".join(sources(student, "markdown"))
    url = "https://raw.githubusercontent.com/example-org/example-course/main/book/demo/images/diagram.png"
    assert f'<img src="{url}"' in markdown
    assert "*The caption of the figure.*" in markdown


def test_page_links_point_at_site(student):
    markdown = "\n".join(sources(student, "markdown"))
    site = "https://example-org.github.io/example-course"
    assert f"[page]({site}/book/other/page.html)" in markdown
    assert f"[the notes]({site}/book/demo/notes.html#top)" in markdown
    assert f"[the appendix]({site}/book/appendix.html)" in markdown
    assert "[a figure](images/diagram.png)" in markdown
    assert "[another site](https://example.org/page.md)" in markdown
    assert "/../" not in markdown


def test_site_url_from_config_baseurl(tmp_path):
    config = "repository:\n  url: https://github.com/a/b\nhtml:\n  baseurl: https://docs.example.org/course/\n"
    (tmp_path / "_config.yml").write_text(config)
    assert notebooks.read_settings(tmp_path).site_url == "https://docs.example.org/course"


def test_invalid_baseurl_rejected(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/a/b\nhtml:\n  baseurl: course/\n")
    with pytest.raises(ValueError, match="invalid html.baseurl 'course/'"):
        notebooks.read_settings(tmp_path)


def test_dropdown_becomes_details(student):
    markdown = "\n".join(sources(student, "markdown"))
    assert "<summary>More details</summary>" in markdown


def test_notebooks_are_valid(student, instructor):
    nbformat.validate(student)
    nbformat.validate(instructor)
    assert student.metadata["ml4es"]["kind"] == "student"
    assert instructor.metadata["ml4es"]["kind"] == "instructor"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = 1  # SOLUTION", "x = ..."),
        ("    total += value  # SOLUTION", "    total += ..."),
        ("    print(x)  # SOLUTION", "    ..."),
        ("a\n# BEGIN SOLUTION\nb\nc\n# END SOLUTION\nd", "a\n...\nd"),
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION", "def f():\n    ..."),
        ("unchanged = True", "unchanged = True"),
    ],
)
def test_strip_solution_regions(source, expected):
    assert notebooks.strip_solution_regions(source) == expected


@pytest.mark.parametrize(
    "source",
    ["# BEGIN SOLUTION\nx = 1", "x = 1\n# END SOLUTION", "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION"],
)
def test_unbalanced_regions_rejected(source):
    with pytest.raises(ValueError, match="SOLUTION"):
        notebooks.strip_solution_regions(source)


def test_write_notebooks_layout(tmp_path):
    root = tmp_path / "book_copy"
    shutil.copytree(FIXTURE, root)
    written = notebooks.write_notebooks(root, tmp_path / "out", beside_sources=True)
    assert tmp_path / "out" / "student" / "demo" / "chapter.ipynb" in written
    assert tmp_path / "out" / "instructor" / "demo" / "chapter.ipynb" in written
    beside = root / "book" / "demo" / "chapter.ipynb"
    assert beside in written
    assert nbformat.read(beside, as_version=4).metadata["ml4es"]["kind"] == "student"


def test_missing_config_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="_config.yml"):
        notebooks.read_settings(tmp_path)


def test_invalid_repository_url_rejected(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: not-a-url\n")
    with pytest.raises(ValueError, match="not-a-url"):
        notebooks.read_settings(tmp_path)


def test_cli_reports_missing_chapters(tmp_path, capsys):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/a/b\n")
    (tmp_path / "book").mkdir()
    assert main(["notebooks", "--root", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    assert "no MyST chapters" in capsys.readouterr().err


def test_page_titles_skip_front_matter(tmp_path):
    from ml4es import myst

    page = tmp_path / "book" / "part" / "page.md"
    page.parent.mkdir(parents=True)
    page.write_text("---\n# not a title\nkernelspec: {}\n---\n\n```python\n# not a title either\n```\n\n# The page\n\n# Later\n")
    (tmp_path / "book" / "untitled.md").write_text("Text only.\n")
    assert myst.read_page_titles(tmp_path) == {"book/part/page": "The page"}


def test_doc_link_shows_page_title():
    from ml4es import myst

    context = myst.Context(site_url="https://example.org", source_dir="book/part", page_titles={"book/other/page": "Another page"})
    converted = myst.convert("See {doc}`../other/page` and {doc}`../other/untitled`.", context)
    assert "[Another page](https://example.org/book/other/page.html)" in converted
    assert "[untitled](https://example.org/book/other/untitled.html)" in converted
