"""Command-line interface: ``python -m ml4es notebooks``, ``slides`` and ``data``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

DEFAULT_CHROMIUM = "/usr/bin/chromium"


def _notebooks(arguments: argparse.Namespace) -> int:
    from ml4es.notebooks import write_notebooks

    try:
        written = write_notebooks(Path(arguments.root), Path(arguments.out), arguments.beside_sources)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def _slides(arguments: argparse.Namespace) -> int:
    from ml4es.slides import export_pdf, write_decks

    root = Path(arguments.root)
    site_dir = Path(arguments.site) if arguments.site else root / "_build" / "html"
    try:
        written = write_decks(root, site_dir=site_dir, documents=arguments.chapters or None)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    if not arguments.pdf:
        return 0

    pdf_dir = Path(arguments.pdf_dir) if arguments.pdf_dir else root / "_build" / "slides-pdf"
    slides_dir = site_dir / "slides"
    for deck in written:
        pdf = pdf_dir / deck.relative_to(slides_dir).with_suffix(".pdf")
        try:
            pages = export_pdf(deck, pdf, Path(arguments.chromium), show_notes=arguments.notes)
        except (FileNotFoundError, RuntimeError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"{pdf} ({pages} pages)")
    return 0


def _data_list(arguments: argparse.Namespace) -> int:
    from ml4es import data

    return data.main_list()


def _data_fetch(arguments: argparse.Namespace) -> int:
    from ml4es import data

    return data.main_fetch(arguments.datasets)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``ml4es`` command."""
    parser = argparse.ArgumentParser(
        prog="python -m ml4es",
        description="Write the course's student and instructor notebooks and slide decks, or list and fetch its data sets.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each step does")
    commands = parser.add_subparsers(dest="command", required=True)

    notebooks = commands.add_parser("notebooks", help="write student and instructor notebooks")
    notebooks.add_argument("--root", default=".", help="repository root, holding _config.yml and book/ (default: .)")
    notebooks.add_argument(
        "--out", default="_build/notebooks", help="output folder for student/ and instructor/ (default: _build/notebooks)"
    )
    notebooks.add_argument(
        "--beside-sources",
        action="store_true",
        help="also copy each student notebook next to its .md chapter, for the site's launch buttons",
    )
    notebooks.set_defaults(run=_notebooks)

    slides = commands.add_parser(
        "slides",
        help="write a reveal.js deck per chapter from the executed notebooks of a book build",
        description="Write _build/html/slides/<chapter>.html for each chapter in _toc.yml, from the "
        "notebooks that `make book` executed, and optionally print each deck to PDF.",
    )
    slides.add_argument("chapters", nargs="*", metavar="DOCNAME", help="only these chapters, e.g. book/pinns/heat_equation")
    slides.add_argument("--root", default=".", help="repository root, holding _config.yml and _toc.yml (default: .)")
    slides.add_argument("--site", help="built site folder; decks go to SITE/slides (default: ROOT/_build/html)")
    slides.add_argument("--pdf", action="store_true", help="also print each deck to PDF with headless Chromium")
    slides.add_argument("--pdf-dir", help="folder for the PDFs (default: ROOT/_build/slides-pdf)")
    slides.add_argument("--notes", action="store_true", help="add the speaker notes to the PDFs, a page after each slide")
    slides.add_argument(
        "--chromium",
        default=os.environ.get("ML4ES_CHROMIUM") or DEFAULT_CHROMIUM,
        help=f"Chromium or Chrome executable for --pdf (default: $ML4ES_CHROMIUM or {DEFAULT_CHROMIUM})",
    )
    slides.set_defaults(run=_slides)

    data = commands.add_parser("data", help="list or fetch the course's data sets")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    listing = data_commands.add_parser("list", help="list the data sets, their sources, file counts and cache state")
    listing.set_defaults(run=_data_list)
    fetch = data_commands.add_parser("fetch", help="download data sets into the cache (ML4ES_DATA_DIR)")
    fetch.add_argument("datasets", nargs="+", metavar="NAME", help="data set names, as `data list` shows")
    fetch.set_defaults(run=_data_fetch)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if arguments.verbose else logging.WARNING, format="%(message)s")
    return arguments.run(arguments)
