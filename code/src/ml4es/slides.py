"""Reveal.js slide decks built from the chapters' executed notebooks.

A deck shows only the cells whose metadata names a slide type, ``slideshow.slide_type``:

- ``slide`` starts a new slide, and ``subslide`` a new slide below the current one;
- ``fragment`` adds the cell to the current slide, shown on the next key press;
- ``-`` adds the cell to the current slide (to the current fragment, after one);
- ``notes`` adds the cell to the current slide's speaker notes;
- ``skip``, like no ``slideshow`` metadata at all, leaves the cell out.

Cells tagged ``solution`` or ``remove-cell`` never appear. Markdown goes through
``ml4es.myst.convert``, which removes ``{solution}`` blocks. A code cell shows its outputs
(figures, tables, printed text) but not its source, unless it is tagged ``slide-show-code``;
then its source appears with its solution regions replaced by ``...``. A slide that does not
start with a heading gets the chapter's most recent heading as its title.

Decks are written from the notebooks that the book build executed, so that figures are the
site's figures: ``_build/jupyter_execute/<docname>.ipynb`` becomes
``_build/html/slides/<docname without book/>.html``. reveal.js and MathJax are copied from
``_build/assets/npm`` (``tools/bundle_assets.py``) to ``_build/html/slides/_static``, so the
slides folder works offline and on its own.
"""

from __future__ import annotations

import copy
import html
import logging
import os
import posixpath
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat
import yaml

from ml4es import myst, slide_html
from ml4es.notebooks import SOLUTION_TAG, BookSettings, read_settings, strip_solution_regions

logger = logging.getLogger(__name__)

SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "notes", "skip")
SHOW_CODE_TAG = "slide-show-code"
REMOVE_TAGS = ("remove-cell",)
REMOVE_OUTPUT_TAGS = ("remove-output",)
SLIDES_DIR = "slides"
STATIC_DIR = "_static"
# Folders of the npm packages (under _build/assets/npm) that the decks load, copied whole.
DECK_PACKAGES = ("reveal.js", "mathjax")
PDF_PAGE = re.compile(rb"/Type\s*/Page\b")


@dataclass
class Block:
    """Part of a slide: the HTML of one or more cells, shown at once or as one fragment."""

    html: str
    fragment: bool = False


@dataclass
class Slide:
    """One reveal.js slide: its blocks, in order, and its speaker notes."""

    blocks: list[Block] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Deck:
    """A chapter's deck: the HTML page, its slides, and a notebook of what the slides show.

    ``stacks`` contains the horizontal slides, each a list whose first slide is followed by its
    subslides. ``notebook`` contains one cell per cell put on the deck, with the Markdown and the
    code source as shown, for checks such as ``ml4es.notebooks.solution_leaks``.
    """

    title: str
    stacks: list[list[Slide]]
    notebook: nbformat.NotebookNode
    html: str = ""

    @property
    def slide_count(self) -> int:
        return sum(len(stack) for stack in self.stacks)


def slide_type(cell: dict) -> str | None:
    """Return the cell's ``slideshow.slide_type``, or None when it has none."""
    slideshow = cell.get("metadata", {}).get("slideshow") or {}
    kind = slideshow.get("slide_type")
    if kind is None:
        return None
    if kind not in SLIDE_TYPES:
        raise ValueError(f"invalid slideshow.slide_type {kind!r}; expected one of {', '.join(SLIDE_TYPES)}")
    return kind


def is_on_deck(cell: dict) -> bool:
    """Return whether a cell goes on the deck: a slide type other than skip, and no solution."""
    tags = cell.get("metadata", {}).get("tags", [])
    if SOLUTION_TAG in tags or any(tag in tags for tag in REMOVE_TAGS):
        return False
    kind = slide_type(cell)
    return kind is not None and kind != "skip"


def deck_relative_path(docname: str) -> PurePosixPath:
    """Return the deck's path under the site's output folder: ``book/a/b`` -> ``slides/a/b.html``."""
    parts = PurePosixPath(docname).parts
    if parts and parts[0] == "book":
        parts = parts[1:]
    if not parts:
        raise ValueError(f"invalid chapter document name {docname!r}")
    return PurePosixPath(SLIDES_DIR, *parts).with_suffix(".html")


def toc_documents(root: Path) -> list[str]:
    """Return the document names of ``<root>/_toc.yml`` in reading order, without suffixes."""
    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        raise FileNotFoundError(f"table of contents {toc_path} not found; pass the repository root")
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8")) or {}
    documents = [toc["root"]] if "root" in toc else []

    def collect(entries: list[dict] | None) -> None:
        for entry in entries or []:
            if "file" in entry:
                documents.append(entry["file"])
            collect(entry.get("sections"))

    for part in toc.get("parts") or []:
        collect(part.get("chapters"))
    collect(toc.get("chapters"))
    return [re.sub(r"\.(md|ipynb)$", "", document) for document in documents]


def is_chapter(path: Path) -> bool:
    """Return whether a MyST file is a notebook chapter: its front matter has a kernelspec."""
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    return text.startswith("---") and "kernelspec" in text.split("\n---", 1)[0]


def chapter_documents(root: Path) -> list[str]:
    """Return the document names of the chapters in ``_toc.yml`` that are notebooks, in order."""
    return [document for document in toc_documents(root) if is_chapter(root / f"{document}.md")]


class _DeckBuilder:
    """Puts the deck's cells on slides in order, keeping track of the current slide and heading."""

    def __init__(self, context: myst.Context, source_dir: Path) -> None:
        self.context = context
        self.source_dir = source_dir
        self.stacks: list[list[Slide]] = []
        self.cells: list[nbformat.NotebookNode] = []
        self.heading = ""
        self.last_kind: str | None = None

    def add(self, cell: nbformat.NotebookNode) -> None:
        markdown = myst.convert(cell.source, self.context) if cell.cell_type == "markdown" else ""
        if is_on_deck(cell):
            self._place(cell, markdown)
        if markdown:
            found = [text for level, text in slide_html.headings(markdown) if level <= 3]
            if found:
                self.heading = found[-1]

    def _place(self, cell: nbformat.NotebookNode, markdown: str) -> None:
        kind = slide_type(cell)
        fragment_html, deck_cell = self._render(cell, markdown)
        self.cells.append(deck_cell)
        if not fragment_html:
            logger.warning("a cell marked %r shows nothing on a slide: %.60r", kind, cell.source)
            return

        if kind == "slide" or not self.stacks:
            self.stacks.append([Slide()])
        elif kind == "subslide":
            self.stacks[-1].append(Slide())
        slide = self.stacks[-1][-1]
        if not slide.blocks and kind != "notes" and not slide_html.starts_with_heading(fragment_html):
            title = slide_html.inline_markdown_to_html(self.heading) if self.heading else ""
            if title:
                slide.blocks.append(Block(f'<h2 class="section-title">{title}</h2>'))

        if kind == "notes":
            slide.notes.append(slide_html.without_math_typesetting(fragment_html))
        elif kind == "fragment":
            slide.blocks.append(Block(fragment_html, fragment=True))
        elif kind == "-" and slide.blocks and slide.blocks[-1].fragment and self.last_kind in ("fragment", "-"):
            slide.blocks[-1].html += fragment_html
        else:
            slide.blocks.append(Block(fragment_html))
        self.last_kind = kind

    def _render(self, cell: nbformat.NotebookNode, markdown: str) -> tuple[str, nbformat.NotebookNode]:
        """Return the cell's HTML for the slide, and the cell as the deck shows it."""
        if cell.cell_type == "markdown":
            fragment = slide_html.markdown_to_html(markdown) if markdown.strip() else ""
            deck_cell = nbformat.v4.new_markdown_cell(markdown)
        elif cell.cell_type == "code":
            tags = cell.metadata.get("tags", [])
            code = strip_solution_regions(cell.source) if SHOW_CODE_TAG in tags else ""
            parts = [slide_html.code_to_html(code)] if code.strip() else []
            if not any(tag in tags for tag in REMOVE_OUTPUT_TAGS):
                parts.extend(slide_html.output_to_html(output) for output in cell.get("outputs", []))
            fragment = "\n".join(part for part in parts if part)
            deck_cell = nbformat.v4.new_code_cell(code)
        else:
            return "", nbformat.v4.new_raw_cell("")
        deck_cell.metadata = copy.deepcopy(cell.metadata)
        return slide_html.embed_local_images(fragment, self.source_dir), deck_cell


def build_deck(
    notebook: nbformat.NotebookNode,
    settings: BookSettings,
    source: Path,
    course_title: str = "",
    static_prefix: str = STATIC_DIR,
) -> Deck:
    """Build the deck of one chapter from its executed ``notebook``.

    ``source`` is the chapter's MyST file: images are looked up beside it, and links to other
    pages of the book point at their HTML pages, relative to the deck's place in the site.
    ``static_prefix`` is the URL of the folder that contains ``reveal.js/`` and ``mathjax/``,
    relative to the deck.
    """
    docname = source.relative_to(settings.root).with_suffix("").as_posix()
    deck_dir = deck_relative_path(docname).parent
    context = myst.Context(
        # Links to other pages are relative, from the deck's folder up to the site's root, so
        # that they work in a built site offline as well as on the published one.
        site_url=posixpath.relpath(".", deck_dir.as_posix()),
        source_dir=source.parent.relative_to(settings.root).as_posix(),
        bibliography=myst.read_bibtex(settings.root / "book" / "references.bib"),
        instructor=False,
        page_titles=myst.read_page_titles(settings.root),
    )
    myst.number_labels([cell.source for cell in notebook.cells if cell.cell_type == "markdown"], context)

    title = _chapter_title(notebook) or source.stem.replace("_", " ")
    builder = _DeckBuilder(context, source.parent)
    for cell in notebook.cells:
        builder.add(cell)
    if not builder.stacks:
        logger.warning("%s has no cells with slideshow metadata: its deck has only a title slide", source)
        builder.stacks.append([Slide([Block(f"<h1>{slide_html.inline_markdown_to_html(title)}</h1>")])])

    first = builder.stacks[0][0].blocks
    if course_title and first and first[0].html.lstrip().startswith("<h1"):
        first.insert(1, Block(f'<p class="deck-subtitle">{html.escape(course_title)}</p>'))

    deck_notebook = nbformat.v4.new_notebook(cells=builder.cells)
    deck = Deck(title=title, stacks=builder.stacks, notebook=deck_notebook)
    footer = f"{course_title}: {title}" if course_title else title
    deck.html = slide_html.page(title, footer, _sections(deck.stacks), static_prefix)
    return deck


def _chapter_title(notebook: nbformat.NotebookNode) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for level, text in slide_html.headings(cell.source):
                if level == 1:
                    return re.sub(r"\{[\w:.-]+\}`([^`]*)`", r"\1", text)
    return ""


def _sections(stacks: list[list[Slide]]) -> str:
    rendered = []
    for stack in stacks:
        slides = [_section(slide) for slide in stack]
        if len(slides) == 1:
            rendered.append(slides[0])
        else:
            rendered.append("<section>\n" + "\n".join(slides) + "\n</section>")
    return "\n".join(rendered)


def _section(slide: Slide) -> str:
    parts = []
    for block in slide.blocks:
        parts.append(f'<div class="fragment">\n{block.html}\n</div>' if block.fragment else block.html)
    if slide.notes:
        parts.append('<aside class="notes">\n' + "\n".join(slide.notes) + "\n</aside>")
    return "<section>\n" + "\n".join(parts) + "\n</section>"


def copy_deck_assets(npm_dir: Path, static_dir: Path) -> None:
    """Copy the reveal.js and MathJax packages from ``npm_dir`` into ``static_dir``."""
    for package in DECK_PACKAGES:
        source = npm_dir / package
        if not source.is_dir():
            raise FileNotFoundError(
                f"{source} not found: run `make assets` (tools/bundle_assets.py) to fetch reveal.js and MathJax"
            )
        shutil.copytree(source, static_dir / package, dirs_exist_ok=True)


def write_decks(
    root: Path,
    site_dir: Path | None = None,
    executed_dir: Path | None = None,
    npm_dir: Path | None = None,
    documents: list[str] | None = None,
) -> list[Path]:
    """Write the deck of every chapter in ``_toc.yml`` (or of ``documents``) and return their paths.

    Defaults: the site in ``<root>/_build/html``, the executed notebooks in
    ``<root>/_build/jupyter_execute`` and the npm packages in ``<root>/_build/assets/npm``.
    Also writes ``slides/index.html``, which links every deck.
    """
    site_dir = site_dir or root / "_build" / "html"
    executed_dir = executed_dir or root / "_build" / "jupyter_execute"
    npm_dir = npm_dir or root / "_build" / "assets" / "npm"
    settings = read_settings(root)
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    course_title = str(config.get("title", ""))

    chapters = chapter_documents(root)
    if documents is not None:
        unknown = sorted(set(documents) - set(chapters))
        if unknown:
            raise ValueError(
                f"not chapters of {root / '_toc.yml'}: {', '.join(unknown)}. "
                f"Expected some of: {', '.join(chapters)}"
            )
        chapters = [chapter for chapter in chapters if chapter in documents]
    if not chapters:
        raise FileNotFoundError(f"no notebook chapters (MyST files with a kernelspec) in {root / '_toc.yml'}")

    slides_dir = site_dir / SLIDES_DIR
    copy_deck_assets(npm_dir, slides_dir / STATIC_DIR)
    written = []
    index = []
    for docname in chapters:
        executed = executed_dir / f"{docname}.ipynb"
        if not executed.is_file():
            raise FileNotFoundError(
                f"executed notebook {executed} not found: build the book first (`make book`), "
                "because decks show the outputs of the book's execution"
            )
        relative = deck_relative_path(docname)
        target = site_dir / relative
        static_prefix = os.path.relpath(slides_dir / STATIC_DIR, target.parent).replace(os.sep, "/")
        deck = build_deck(
            nbformat.read(executed, as_version=4),
            settings,
            root / f"{docname}.md",
            course_title=course_title,
            static_prefix=static_prefix,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(deck.html, encoding="utf-8")
        logger.info("wrote %s: %d slides", target, deck.slide_count)
        written.append(target)
        index.append((deck.title, relative.relative_to(SLIDES_DIR).as_posix()))

    (slides_dir / "index.html").write_text(slide_html.index_page(course_title, index), encoding="utf-8")
    return written


def export_pdf(deck: Path, pdf: Path, chromium: Path, show_notes: bool = False, browser=None) -> int:
    """Print a deck to PDF, one page per slide, with headless Chromium; return the PDF's page count.

    Opens the deck from disk with reveal.js's ``?print-pdf`` layout (``&show-notes`` adds the
    speaker notes) in Chromium under Playwright, waits for MathJax, and prints. ``browser`` is
    a Playwright browser to use instead of launching ``chromium``.
    """
    if browser is not None:
        return _print_deck(browser, deck, pdf, show_notes)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise RuntimeError("PDF export needs Playwright: pip install -r requirements.txt") from error
    if not chromium.is_file():
        raise FileNotFoundError(f"browser {chromium} not found: install Chromium or pass its path with --chromium")

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            return _print_deck(launched, deck, pdf, show_notes)
        finally:
            launched.close()


def _print_deck(browser, deck: Path, pdf: Path, show_notes: bool, timeout_ms: int = 60_000) -> int:
    url = deck.resolve().as_uri() + "?print-pdf" + ("&show-notes" if show_notes else "")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    try:
        page.set_default_timeout(timeout_ms)
        page.goto(url, wait_until="load")
        page.wait_for_function("() => window.Reveal && Reveal.isReady() && window.MathJax && MathJax.startup")
        page.evaluate("() => MathJax.startup.promise")
        page.wait_for_function("() => document.querySelectorAll('.pdf-page').length > 0")
        slide_pages = page.evaluate("() => document.querySelectorAll('.pdf-page').length")
        page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    finally:
        page.close()

    # Chromium writes each page's dictionary uncompressed, so its "/Type /Page" entries count
    # the pages. Speaker notes on separate pages are not .pdf-page elements, hence the file.
    pages = len(PDF_PAGE.findall(pdf.read_bytes()))
    return pages or int(slide_pages)
