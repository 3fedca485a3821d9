"""Checks that every Colab and Binder launch link of the built site opens a student notebook.

The links name a file on the repository's ``notebooks`` branch, which CI fills with the student
notebooks of ``_build/notebooks/student``, each beside its chapter. Here each link's
``book/<part>/<chapter>.ipynb`` is mapped to ``_build/notebooks/student/<part>/<chapter>.ipynb``,
written by ``make book``, and that file is checked: a student notebook, with no solution in it.

``ML4ES_BOOK_ROOT`` and ``ML4ES_SITE_DIR`` choose the book and its built HTML, as in
test_site.py, and ``ML4ES_BOOK_BUILT=1`` turns a missing site into a failure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, urlsplit

import nbformat
import pytest
import yaml

from ml4es.notebooks import SOLUTION_TAG, solution_leaks

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOK_ROOT = Path(os.environ.get("ML4ES_BOOK_ROOT") or REPO_ROOT)
SITE_DIR = Path(os.environ.get("ML4ES_SITE_DIR") or BOOK_ROOT / "_build" / "html")

COLAB_PREFIX = "https://colab.research.google.com/github/"
BINDER_PREFIX = "https://mybinder.org/v2/gh/"

pytestmark = pytest.mark.book


@dataclass(frozen=True)
class LaunchLink:
    """A launch button's link, and the repository file that it opens."""

    page: str
    service: str
    url: str
    repository: str
    branch: str
    path: str


class AnchorParser(HTMLParser):
    """Collects the href of every ``<a>`` element of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def parse_colab(page: str, url: str) -> LaunchLink:
    """Parse ``https://colab.research.google.com/github/<owner>/<name>/blob/<branch>/<path>``."""
    parts = url[len(COLAB_PREFIX) :].split("/", 4)
    if len(parts) < 5 or parts[2] != "blob":
        raise ValueError(f"{page}: invalid Colab link {url}: expected github/<owner>/<name>/blob/<branch>/<path>")
    owner, name, _, branch, path = parts
    return LaunchLink(page, "Colab", url, f"{owner}/{name}", branch, path)


def parse_binder(page: str, url: str) -> LaunchLink:
    """Parse ``https://mybinder.org/v2/gh/<owner>/<name>/<branch>?urlpath=lab/tree/<path>``.

    The classic notebook interface's ``urlpath=tree/<path>`` is accepted too.
    """
    parts = urlsplit(url)
    repository_and_branch = parts.path[len(urlsplit(BINDER_PREFIX).path) :].split("/")
    urlpaths = parse_qs(parts.query).get("urlpath", [])
    if len(repository_and_branch) != 3 or len(urlpaths) != 1:
        raise ValueError(f"{page}: invalid Binder link {url}: expected <owner>/<name>/<branch>?urlpath=...")
    owner, name, branch = repository_and_branch
    urlpath = urlpaths[0]
    for prefix in ("lab/tree/", "tree/"):
        if urlpath.startswith(prefix):
            return LaunchLink(page, "Binder", url, f"{owner}/{name}", branch, urlpath[len(prefix) :])
    raise ValueError(f"{page}: Binder link {url} has urlpath {urlpath!r}, expected lab/tree/<path> or tree/<path>")


def read_launch_links(site_dir: Path) -> list[LaunchLink]:
    """Return the Colab and Binder links of every HTML page under ``site_dir``."""
    links = []
    for page_path in sorted(site_dir.rglob("*.html")):
        parser = AnchorParser()
        parser.feed(page_path.read_text(encoding="utf-8"))
        page = page_path.relative_to(site_dir).as_posix()
        for href in dict.fromkeys(parser.hrefs):
            if href.startswith(COLAB_PREFIX):
                links.append(parse_colab(page, href))
            elif href.startswith(BINDER_PREFIX):
                links.append(parse_binder(page, href))
    return links


@pytest.fixture(scope="module")
def launch_links() -> list[LaunchLink]:
    """The built site's launch links; skips, or fails under ML4ES_BOOK_BUILT=1, with no site."""
    if not (SITE_DIR / "index.html").is_file():
        reason = f"no built site in {SITE_DIR}: run `make book` first"
        if os.environ.get("ML4ES_BOOK_BUILT") == "1":
            pytest.fail(f"{reason} (ML4ES_BOOK_BUILT=1 requires it)")
        pytest.skip(reason)
    return read_launch_links(SITE_DIR)


@pytest.fixture(scope="module")
def repository() -> tuple[str, str]:
    """The ``owner/name`` and branch of the repository in the book's ``_config.yml``."""
    config = yaml.safe_load((BOOK_ROOT / "_config.yml").read_text(encoding="utf-8"))
    url = config["repository"]["url"].rstrip("/")
    return "/".join(url.split("/")[-2:]), config["repository"]["branch"]


def chapter_source(link: LaunchLink) -> Path:
    """Return the MyST source of the chapter whose notebook ``link`` opens."""
    return BOOK_ROOT.joinpath(*PurePosixPath(link.path).with_suffix(".md").parts)


def linked_file(link: LaunchLink) -> Path:
    relative = PurePosixPath(link.path)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"{link.page}: {link.service} link {link.url} names a path outside the repository")
    if relative.parts[0] != "book":
        raise ValueError(f"{link.page}: {link.service} link {link.url} names a file outside book/")
    return BOOK_ROOT.joinpath("_build", "notebooks", "student", *relative.parts[1:])


def test_site_has_launch_links(launch_links):
    services = {link.service for link in launch_links}

    assert "Colab" in services, f"no Colab launch link in any page of {SITE_DIR}"
    assert "Binder" in services, f"no Binder launch link in any page of {SITE_DIR}"


def test_launch_links_name_repository(launch_links, repository):
    name, branch = repository
    wrong_repository = [link.url for link in launch_links if link.repository != name]
    wrong_branch = [link.url for link in launch_links if link.branch != branch]

    assert wrong_repository == [], f"launch links to a repository other than {name}"
    assert wrong_branch == [], f"launch links to a branch other than {branch}"


def test_launch_links_open_notebooks(launch_links):
    not_notebooks = [link.url for link in launch_links if not link.path.endswith(".ipynb")]
    missing = [f"{link.url} -> {linked_file(link)}" for link in launch_links if not linked_file(link).is_file()]

    assert not_notebooks == [], "launch links that open a file other than a notebook"
    assert missing == [], "launch links to notebooks that `make notebooks` did not write"


def test_launch_notebooks_are_student(launch_links):
    for link in launch_links:
        path = linked_file(link)
        if not path.is_file():
            continue
        notebook = nbformat.read(path, as_version=4)
        kind = notebook.metadata.get("ml4es", {}).get("kind")
        solution_cells = [
            index for index, cell in enumerate(notebook.cells) if SOLUTION_TAG in cell.metadata.get("tags", [])
        ]

        assert kind == "student", f"{link.url} opens {path}, whose metadata.ml4es.kind is {kind!r}"
        assert solution_cells == [], f"{path} has cells tagged {SOLUTION_TAG!r}: {solution_cells}"


def test_launch_notebooks_leak_no_solutions(launch_links):
    for link in launch_links:
        path = linked_file(link)
        if not path.is_file():
            continue
        source = chapter_source(link)
        notebook = nbformat.read(path, as_version=4)

        assert source.is_file(), f"{path} has no chapter source {source}"
        leaks = solution_leaks(notebook, source)
        assert leaks == [], f"{path} contains solutions from {source}: {leaks}"
