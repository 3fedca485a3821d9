"""Command-line interface: ``python -m ml4es notebooks`` and ``python -m ml4es data``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


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
        description="Write the course's student and instructor notebooks, or list and fetch its data sets.",
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
