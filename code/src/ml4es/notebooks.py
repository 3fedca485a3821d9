"""Student and instructor notebooks generated from the chapters' MyST markdown sources.

A student notebook is the chapter with every solution removed. Cells tagged ``solution`` are
deleted, solution regions inside other cells become ``...`` and ``{solution}`` blocks disappear.
Outputs are cleared, MyST syntax becomes Markdown that Colab renders, and a setup cell that
installs ``ml4es`` on Colab comes first. An instructor notebook keeps the solutions, with outputs
cleared. The repository URL comes from ``repository.url`` in the book's ``_config.yml``.
"""

from __future__ import annotations

import copy
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
import yaml

from ml4es import myst

logger = logging.getLogger(__name__)

SOLUTION_TAG = "solution"
BEGIN_SOLUTION = re.compile(r"^(?P<indent>\s*)#\s*BEGIN SOLUTION\s*$")
END_SOLUTION = re.compile(r"^\s*#\s*END SOLUTION\s*$")
SOLUTION_LINE = re.compile(r"^(?P<code>.*?)\s*#\s*SOLUTION\s*$")
SOLUTION_MARKERS = re.compile(r"#\s*(BEGIN SOLUTION|END SOLUTION|SOLUTION\s*$)", re.MULTILINE)
SETUP_TAG = "colab-setup"


@dataclass(frozen=True)
class BookSettings:
    """Settings read from ``_config.yml``: the repository, and the site and raw-file URLs derived from it."""

    root: Path
    repository_url: str
    main_branch: str = "main"
    base_url: str = ""

    @property
    def site_url(self) -> str:
        """The published site: ``html.baseurl`` of ``_config.yml``, or else the repository's GitHub Pages URL."""
        if self.base_url:
            return self.base_url.rstrip("/")
        owner, name = self.repository_url.rstrip("/").split("/")[-2:]
        return f"https://{owner.lower()}.github.io/{name}"

    @property
    def raw_url(self) -> str:
        owner, name = self.repository_url.rstrip("/").split("/")[-2:]
        return f"https://raw.githubusercontent.com/{owner}/{name}/{self.main_branch}"

    @property
    def install_requirement(self) -> str:
        return f"ml4es @ git+{self.repository_url}@{self.main_branch}#subdirectory=code"


def read_settings(root: Path) -> BookSettings:
    """Read the repository URL and the site's URL (``html.baseurl``, optional) from ``<root>/_config.yml``."""
    config_path = root / "_config.yml"
    if not config_path.exists():
        raise FileNotFoundError(f"book configuration {config_path} not found; pass the repository root")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    url = (config.get("repository") or {}).get("url")
    if not url or not re.match(r"^https://github\.com/[^/]+/[^/]+/?$", url):
        raise ValueError(
            f"invalid repository.url {url!r} in {config_path}; expected https://github.com/<owner>/<name>"
        )
    base_url = str((config.get("html") or {}).get("baseurl") or "")
    if base_url and not re.match(r"^https?://[^/\s]+", base_url):
        raise ValueError(f"invalid html.baseurl {base_url!r} in {config_path}; expected the site's URL, https://...")
    return BookSettings(root=root, repository_url=url.rstrip("/"), base_url=base_url)


def chapter_sources(root: Path) -> list[Path]:
    """Return the MyST chapters under ``<root>/book`` that are notebooks (have a kernelspec)."""
    chapters = []
    for path in sorted((root / "book").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        header = text.split("\n---", 1)[0]
        if text.startswith("---") and "kernelspec" in header:
            chapters.append(path)
    return chapters


def strip_solution_regions(source: str) -> str:
    """Replace solution regions of a code cell with ``...``, keeping the indentation.

    ``# BEGIN SOLUTION`` to ``# END SOLUTION`` becomes one ``...`` line; a line ending in
    ``# SOLUTION`` becomes ``name = ...`` for an assignment and ``...`` otherwise.
    """
    output: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        begin = BEGIN_SOLUTION.match(line)
        if begin:
            if inside:
                raise ValueError(f"line {number}: BEGIN SOLUTION inside another solution region")
            inside = True
            output.append(f"{begin.group('indent')}...")
            continue
        if END_SOLUTION.match(line):
            if not inside:
                raise ValueError(f"line {number}: END SOLUTION without a BEGIN SOLUTION")
            inside = False
            continue
        if inside:
            continue
        marked = SOLUTION_LINE.match(line)
        if marked:
            output.append(_stub_line(marked.group("code")))
            continue
        output.append(line)
    if inside:
        raise ValueError("BEGIN SOLUTION without an END SOLUTION")
    return "\n".join(output)


def _stub_line(code: str) -> str:
    indent = code[: len(code) - len(code.lstrip())]
    assignment = re.match(r"^(?P<target>[\w.\[\], ]+?)\s*(?P<op>[+\-*/]?=)(?!=)", code.strip())
    if assignment:
        return f"{indent}{assignment.group('target')} {assignment.group('op')} ..."
    return f"{indent}..."


def colab_setup_cell(settings: BookSettings) -> nbformat.NotebookNode:
    """Return the first cell of every generated notebook: installs ``ml4es`` on Colab only."""
    source = "\n".join(
        [
            "# Setup for Google Colab: install the course package. Elsewhere this cell does nothing,",
            "# because Binder and a local install already have it.",
            "import sys",
            "",
            'if "google.colab" in sys.modules:',
            f'    %pip install --quiet "{settings.install_requirement}"',
        ]
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [SETUP_TAG]
    return cell


def _context(settings: BookSettings, source: Path, instructor: bool) -> myst.Context:
    relative_dir = source.parent.relative_to(settings.root).as_posix()
    return myst.Context(
        site_url=settings.site_url,
        raw_url=settings.raw_url,
        source_dir=relative_dir,
        bibliography=myst.read_bibtex(settings.root / "book" / "references.bib"),
        instructor=instructor,
        page_titles=myst.read_page_titles(settings.root),
    )


def make_notebook(source: Path, settings: BookSettings, student: bool) -> nbformat.NotebookNode:
    """Build the student (``student=True``) or instructor notebook of one MyST chapter."""
    notebook = jupytext.read(source)
    context = _context(settings, source, instructor=not student)
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    myst.number_labels(markdown, context)

    cells = [colab_setup_cell(settings)]
    for cell in notebook.cells:
        cell = copy.deepcopy(cell)
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code":
            if student and SOLUTION_TAG in tags:
                continue
            if student:
                cell.source = strip_solution_regions(cell.source)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = myst.convert(cell.source, context)
            if not cell.source.strip():
                continue
        cells.append(cell)

    result = nbformat.v4.new_notebook(cells=cells)
    result.metadata["kernelspec"] = notebook.metadata.get(
        "kernelspec", {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    )
    result.metadata["language_info"] = {"name": "python"}
    result.metadata["ml4es"] = {
        "source": source.relative_to(settings.root).as_posix(),
        "kind": "student" if student else "instructor",
    }
    return _with_ids(result)


def _with_ids(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Give the cells stable ids, so that regenerating a notebook changes no unchanged cell."""
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:03d}"
    nbformat.validate(notebook)
    return notebook


def write_notebooks(root: Path, out_dir: Path, beside_sources: bool = False) -> list[Path]:
    """Write ``student/`` and ``instructor/`` notebooks of every chapter under ``out_dir``.

    Paths mirror the chapters' paths under ``book/``. With ``beside_sources``, each student
    notebook is also copied next to its ``.md`` source, where the site's launch buttons expect it.
    """
    settings = read_settings(root)
    written: list[Path] = []
    sources = chapter_sources(root)
    if not sources:
        raise FileNotFoundError(f"no MyST chapters with a kernelspec found under {root / 'book'}")

    for source in sources:
        relative = source.relative_to(root / "book").with_suffix(".ipynb")
        for kind in ("student", "instructor"):
            notebook = make_notebook(source, settings, student=kind == "student")
            target = out_dir / kind / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, target)
            written.append(target)
            logger.info("wrote %s", target)
            if kind == "student" and beside_sources:
                beside = source.with_suffix(".ipynb")
                shutil.copyfile(target, beside)
                written.append(beside)
    return written


def solution_leaks(notebook: nbformat.NotebookNode, source: Path) -> list[str]:
    """List the solution code from ``source`` that appears in a generated student ``notebook``.

    A leak is a solution marker, a cell tagged ``solution``, or a line of a solution cell or
    region (other than blank lines, comments, and lines that the stub shares with it) that
    appears in a student code cell.
    """
    leaks: list[str] = []
    chapter = jupytext.read(source)
    stub_lines = set()
    solution_lines = set()
    for cell in chapter.cells:
        if cell.cell_type != "code":
            continue
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            solution_lines.update(_meaningful_lines(cell.source))
        else:
            stub_lines.update(_meaningful_lines(strip_solution_regions(cell.source)))
            solution_lines.update(_meaningful_lines(_solution_region_lines(cell.source)))
    solution_lines -= stub_lines

    for index, cell in enumerate(notebook.cells):
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            leaks.append(f"cell {index} is tagged {SOLUTION_TAG!r}")
        if cell.cell_type == "markdown" and re.search(r"(```|:::)\{solution\}", cell.source):
            leaks.append(f"cell {index} contains a {{solution}} directive")
        if cell.cell_type != "code":
            continue
        if SOLUTION_MARKERS.search(cell.source):
            leaks.append(f"cell {index} contains a solution marker")
        for line in _meaningful_lines(cell.source) & solution_lines:
            leaks.append(f"cell {index} contains solution line {line!r}")
    return leaks


def _solution_region_lines(source: str) -> str:
    lines, inside = [], False
    for line in source.splitlines():
        if BEGIN_SOLUTION.match(line):
            inside = True
        elif END_SOLUTION.match(line):
            inside = False
        elif inside:
            lines.append(line)
        elif SOLUTION_LINE.match(line):
            lines.append(SOLUTION_LINE.match(line).group("code"))
    return "\n".join(lines)


def _meaningful_lines(source: str) -> set[str]:
    lines = set()
    for line in source.splitlines():
        stripped = line.strip()
        if len(stripped) < 8 or stripped.startswith("#") or stripped in ('"""', "'''"):
            continue
        lines.add(stripped)
    return lines
