"""Sphinx extension that links the chapter pages to their slide decks.

Each chapter page (a MyST notebook with a kernelspec) gets a "Slides" button in the header of
sphinx-book-theme, and the ``slide-decks`` directive writes a table of every chapter with its
deck and instructor notebook. The decks themselves are written after the Sphinx build by
``python -m ml4es slides`` at the paths that ``ml4es.slides.deck_relative_path`` returns.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from ml4es.slides import deck_relative_path, is_chapter, toc_documents

BUTTON_LABEL = "slides-button"
# The folder of the instructor notebooks that `make notebooks` writes.
INSTRUCTOR_FOLDER = "_build/notebooks/instructor"
# The course's style sheet and icon.
STATIC = Path(__file__).parent / "static"
TEMPLATES = Path(__file__).parent / "templates"


class slide_decks_placeholder(nodes.General, nodes.Element):
    """Replaced by the table of decks once every page's title is known."""


class SlideDecks(SphinxDirective):
    """The ``slide-decks`` directive: a table of the chapters, their decks and notebooks."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        return [slide_decks_placeholder()]


def _chapters(app: Sphinx) -> list[str]:
    source_dir = Path(app.srcdir)
    try:
        documents = toc_documents(source_dir)
    except FileNotFoundError:
        documents = sorted(app.env.found_docs)
    return [document for document in documents if is_chapter(Path(app.env.doc2path(document)))]


def _deck_uri(from_docname: str, chapter: str) -> str:
    return posixpath.relpath(str(deck_relative_path(chapter)), posixpath.dirname(from_docname) or ".")


def _paragraph(*children: nodes.Node) -> nodes.paragraph:
    paragraph = nodes.paragraph()
    paragraph.extend(children)
    return paragraph


def _table(app: Sphinx, from_docname: str) -> nodes.table:
    headers = ("Chapter", "Slide deck", f"Instructor notebook, in {INSTRUCTOR_FOLDER}/ after make notebooks")
    table = nodes.table(classes=["slide-decks"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in (40, 20, 40):
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for header in headers:
        row += nodes.entry("", _paragraph(nodes.Text(header)))
    head += row

    body = nodes.tbody()
    group += body
    for chapter in _chapters(app):
        title = app.env.titles.get(chapter)
        page = nodes.reference(
            "", title.astext() if title else chapter, internal=True,
            refuri=app.builder.get_relative_uri(from_docname, chapter),
        )
        deck = nodes.reference("", "slides", internal=False, refuri=_deck_uri(from_docname, chapter))
        notebook = _instructor_notebook(chapter)
        row = nodes.row()
        row += nodes.entry("", _paragraph(page))
        row += nodes.entry("", _paragraph(deck))
        row += nodes.entry("", _paragraph(nodes.literal("", notebook)))
        body += row
    return table


def _instructor_notebook(chapter: str) -> str:
    """Return the chapter's instructor notebook, relative to ``INSTRUCTOR_FOLDER``."""
    relative = chapter[len("book/") :] if chapter.startswith("book/") else chapter
    return f"{relative}.ipynb"


def replace_placeholders(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for placeholder in doctree.findall(slide_decks_placeholder):
        placeholder.replace_self(_table(app, docname))


def add_slides_button(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Add a header button that opens the chapter's deck, on chapter pages of sphinx-book-theme."""
    buttons = context.get("header_buttons")
    if buttons is None or doctree is None or pagename not in app.env.found_docs:
        return
    if not is_chapter(Path(app.env.doc2path(pagename))):
        return
    buttons.append(
        {
            "type": "link",
            "url": _deck_uri(pagename, pagename),
            "text": "Slides",
            "tooltip": "Slides of this chapter",
            "icon": "fas fa-person-chalkboard",
            "label": BUTTON_LABEL,
        }
    )


def add_static_folder(app: Sphinx) -> None:
    """Put the package's static folder (the course's style sheet) among the site's static files."""
    app.config.html_static_path.append(str(STATIC))


def add_templates_folder(app: Sphinx, config) -> None:
    """Put the package's templates (a layout that names the front page once) before the theme's."""
    config.templates_path.append(str(TEMPLATES))


def setup(app: Sphinx) -> dict:
    # Before the builder starts, because it reads the template folders when it starts.
    app.connect("config-inited", add_templates_folder)
    app.connect("builder-inited", add_static_folder)
    app.add_css_file("ml4es.css")
    app.add_node(slide_decks_placeholder)
    app.add_directive("slide-decks", SlideDecks)
    app.connect("doctree-resolved", replace_placeholders)
    # sphinx-book-theme fills header_buttons at priority 500 and 501; this runs after it.
    app.connect("html-page-context", add_slides_button, priority=510)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
