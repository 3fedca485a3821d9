"""Headless-browser tests of the built course site, with no network.

A local HTTP server on 127.0.0.1 serves the built site (``_build/html``), and Debian's Chromium,
driven by Playwright, opens the pages of ``_toc.yml``. Chromium resolves no host name except
127.0.0.1, and every request to another host is blocked and recorded, so a page that tries to
load anything from elsewhere (MathJax, the widget manager, fonts) fails its test.

Environment variables:

- ``ML4ES_BOOK_ROOT``: the book's source folder, containing ``_toc.yml`` (default: this repository).
- ``ML4ES_SITE_DIR``: the built HTML (default: ``<book root>/_build/html``). Screenshots go to
  ``screenshots/`` beside it, so to ``_build/screenshots`` by default.
- ``ML4ES_CHROMIUM``: the browser executable (default: Debian's ``/usr/bin/chromium``).
- ``ML4ES_BOOK_BUILT=1``: fail, instead of skip, when the built site is missing.
- ``ML4ES_REQUIRE_BROWSER=1``: fail, instead of skip, when Chromium or Playwright is missing.
"""

from __future__ import annotations

import http.server
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOK_ROOT = Path(os.environ.get("ML4ES_BOOK_ROOT") or REPO_ROOT)
SITE_DIR = Path(os.environ.get("ML4ES_SITE_DIR") or BOOK_ROOT / "_build" / "html")
SCREENSHOT_DIR = SITE_DIR.parent / "screenshots"
CHROMIUM = Path(os.environ.get("ML4ES_CHROMIUM") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

CHAPTER_PAGE = "book/pinns/heat_equation.html"
COLAB_URL = (
    "https://colab.research.google.com/github/cemac/LIFD_ENV_ML_NOTEBOOKS/blob/notebooks/"
    "book/pinns/heat_equation.ipynb"
)
BINDER_URL = (
    "https://mybinder.org/v2/gh/cemac/LIFD_ENV_ML_NOTEBOOKS/notebooks"
    "?urlpath=lab/tree/book/pinns/heat_equation.ipynb"
)

# Uncaught errors that the pinned upstream packages raise on every page. Any other console
# error fails the tests. The one that was here, sphinx-thebe's inline script written twice, is
# gone since ml4es.sphinx_scripts drops repeated scripts.
KNOWN_UPSTREAM_ERRORS: tuple[str, ...] = ()

# How long Playwright waits for a page, for MathJax and for the widget manager, in milliseconds.
TIMEOUT_MS = 30_000

# TeX that MathJax should have typeset: $$, \(, \[, \begin{...}, and $...$ spans that contain
# a backslash, ^, _ or a brace, so that prices such as "$5 and $10" do not count.
RAW_TEX = re.compile(r"\$\$|\\\(|\\\[|\\begin\{|\$[^$\n]*[\\^_{}][^$\n]*\$")

pytestmark = [pytest.mark.book, pytest.mark.browser]


def toc_documents(toc_path: Path) -> list[str]:
    """Return the documents of a Jupyter Book ``_toc.yml``, root first, without suffixes."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8")) or {}
    documents = [toc["root"]] if "root" in toc else []

    def collect(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                documents.append(entry["file"])
            collect(entry.get("sections", []))

    for part in toc.get("parts", []) or []:
        collect(part.get("chapters", []))
    collect(toc.get("chapters", []))
    collect(toc.get("sections", []))
    return [re.sub(r"\.(md|ipynb)$", "", document) for document in documents]


def toc_pages() -> list[str]:
    """Return the HTML path of every page in the book's table of contents."""
    toc_path = BOOK_ROOT / "_toc.yml"
    if not toc_path.is_file():
        return []
    return [f"{document}.html" for document in toc_documents(toc_path)]


PAGES = toc_pages()
# Pages that Sphinx writes besides the table of contents, checked for loading cleanly too.
GENERATED_PAGES = ["search.html", "genindex.html"] if PAGES else []


def skip_or_fail(variable: str, reason: str) -> None:
    """Fail the test when ``variable`` is set to 1, otherwise skip it, with ``reason``."""
    if os.environ.get(variable) == "1":
        pytest.fail(f"{reason} ({variable}=1 requires it)")
    pytest.skip(reason)


@dataclass
class PageVisit:
    """A page opened in the browser, with what went wrong while it loaded."""

    page: object
    status: int | None
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


def is_known_upstream_error(message: str) -> bool:
    return any(known in message for known in KNOWN_UPSTREAM_ERRORS)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static file handler that does not log every request to stderr."""

    def log_message(self, format: str, *args: object) -> None:
        pass


class SiteVisitor:
    """A browser context that opens site pages and waits until each settles.

    It blocks requests to any host but 127.0.0.1, and records them, the console errors,
    the uncaught exceptions and the failed requests to the local server of each page.
    """

    def __init__(self, browser, site_url: str) -> None:
        self.site_url = site_url
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.route("**/*", block_outside)

    def open(self, path: str) -> PageVisit:
        page = self.context.new_page()
        visit = PageVisit(page=page, status=None)
        page.on("request", lambda request: record_outside(visit, request.resource_type, request.url))
        page.on("websocket", lambda socket: record_outside(visit, "websocket", socket.url))
        page.on("console", lambda message: record_console(visit, message))
        page.on("pageerror", lambda error: record_page_error(visit, str(error)))
        page.on("requestfailed", lambda request: record_failure(visit, request.url, request.failure))
        page.on("response", lambda response: record_status(visit, response.url, response.status))

        response = page.goto(self.site_url + path, wait_until="load")
        visit.status = response.status if response else None
        page.wait_for_load_state("networkidle")
        wait_for_mathjax(page)
        wait_for_widgets(page)
        # Fonts for typeset math and widgets load after rendering.
        page.wait_for_load_state("networkidle")
        return visit

    def close(self) -> None:
        self.context.close()


def block_outside(route) -> None:
    if is_local(route.request.url):
        route.continue_()
    else:
        route.abort("blockedbyclient")


@pytest.fixture(scope="session")
def loaded_page(browser, site_url: str) -> Iterator[Callable[[str], PageVisit]]:
    """Function that returns a site page opened once per session, for tests that only read it."""
    visitor = SiteVisitor(browser, site_url)
    visits: dict[str, PageVisit] = {}

    def load(path: str) -> PageVisit:
        if path not in visits:
            visits[path] = visitor.open(path)
        return visits[path]

    yield load
    visitor.close()


@pytest.fixture
def open_page(browser, site_url: str) -> Iterator[Callable[[str], PageVisit]]:
    """Function that opens a site page in a fresh browser context, for tests that click."""
    visitor = SiteVisitor(browser, site_url)
    yield visitor.open
    visitor.close()


def record_outside(visit: PageVisit, kind: str, url: str) -> None:
    if not is_local(url):
        visit.outside_requests.append(f"{kind} {url}")


def record_console(visit: PageVisit, message) -> None:
    if message.type == "error" and not is_known_upstream_error(message.text):
        visit.console_errors.append(message.text)


def record_page_error(visit: PageVisit, message: str) -> None:
    if not is_known_upstream_error(message):
        visit.page_errors.append(message)


def record_failure(visit: PageVisit, url: str, failure: str | None) -> None:
    if is_local(url):
        visit.failed_requests.append(f"{url}: {failure}")


def record_status(visit: PageVisit, url: str, status: int) -> None:
    if is_local(url) and status >= 400:
        visit.failed_requests.append(f"{url}: HTTP {status}")


def wait_for_mathjax(page) -> None:
    """Wait until MathJax, where the page loads it, has typeset the page."""
    page.evaluate(
        """async () => {
            if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
                await MathJax.startup.promise;
            }
        }"""
    )


def wait_for_widgets(page) -> None:
    """Wait until the widget manager has rendered every saved widget view, or time out.

    A timeout is not an error here: the widget tests then report which views are missing.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(
            """() => document.querySelectorAll('.widget-subarea').length >=
                     document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length""",
            timeout=TIMEOUT_MS,
        )
    except PlaywrightTimeoutError:
        pass


def visible_raw_tex(page) -> list[str]:
    """Return text in the page's main content that looks like TeX MathJax did not typeset.

    Code, preformatted text and typeset math are left out.
    """
    texts = page.evaluate(
        """() => {
            const root = document.querySelector('main') || document.body;
            const skip = 'pre, code, script, style, textarea, mjx-container, .math';
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            const texts = [];
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                if (!node.parentElement.closest(skip)) texts.push(node.textContent);
            }
            return texts;
        }"""
    )
    return [match.group(0) for text in texts for match in RAW_TEX.finditer(text)]


def require_chapter() -> None:
    if CHAPTER_PAGE not in PAGES:
        pytest.fail(f"{CHAPTER_PAGE} is not in {BOOK_ROOT / '_toc.yml'}")


# Every page of the table of contents.


@pytest.mark.parametrize("path", PAGES + GENERATED_PAGES)
def test_page_loads_cleanly(loaded_page, path: str):
    visit = loaded_page(path)

    assert visit.status == 200, f"{path} returned HTTP {visit.status}"
    assert visit.outside_requests == [], f"{path} requested other hosts: {visit.outside_requests}"
    assert visit.failed_requests == [], f"{path} has failed requests: {visit.failed_requests}"
    assert visit.console_errors == [], f"{path} logged console errors: {visit.console_errors}"
    assert visit.page_errors == [], f"{path} raised uncaught exceptions: {visit.page_errors}"


@pytest.mark.parametrize("path", PAGES)
def test_page_prefetches_nothing_outside(loaded_page, path: str):
    # Preconnect and prefetch hints reach other hosts without a request event.
    page = loaded_page(path).page
    hints = page.evaluate(
        """() => [...document.querySelectorAll(
                'link[rel~="preconnect"], link[rel~="dns-prefetch"], link[rel~="prefetch"], link[rel~="preload"]'
            )].map(link => link.href)"""
    )

    outside = [href for href in hints if not is_local(href)]
    assert outside == [], f"{path} has resource hints to other hosts: {outside}"


@pytest.mark.parametrize("path", PAGES)
def test_page_math_typeset(loaded_page, path: str):
    page = loaded_page(path).page
    untypeset = page.evaluate(
        """() => [...document.querySelectorAll('.math')]
                .filter(element => !element.querySelector('mjx-container'))
                .map(element => element.textContent.trim().slice(0, 80))"""
    )

    assert untypeset == [], f"{path} has math that MathJax did not typeset: {untypeset}"
    raw_tex = visible_raw_tex(page)
    assert raw_tex == [], f"{path} shows raw TeX: {raw_tex}"


@pytest.mark.parametrize("path", PAGES)
def test_page_images_visible(loaded_page, path: str):
    page = loaded_page(path).page
    # Lazy images below the fold load only when scrolled to, so make every image eager first.
    broken = page.evaluate(
        """async () => {
            const images = [...document.images];
            for (const image of images) image.loading = 'eager';
            await Promise.all(images.map(image => image.decode().catch(() => null)));
            return images.filter(image => image.naturalWidth === 0).map(image => image.currentSrc || image.src);
        }"""
    )

    assert broken == [], f"{path} has images that did not load: {broken}"


@pytest.mark.parametrize("path", PAGES)
def test_page_widgets_render(loaded_page, path: str):
    page = loaded_page(path).page
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    rendered = page.evaluate(
        """() => [...document.querySelectorAll('.widget-subarea')]
                .filter(area => area.childElementCount > 0).length"""
    )

    assert rendered == views, f"{path}: {rendered} of {views} saved widget views rendered"


# The chapter page.


def test_chapter_math_typeset(loaded_page):
    require_chapter()
    page = loaded_page(CHAPTER_PAGE).page

    assert page.locator("mjx-container").count() > 0, "the chapter has no typeset math"


def test_chapter_solution_cells_hidden(open_page):
    require_chapter()
    page = open_page(CHAPTER_PAGE).page
    cells = page.locator(".cell.tag_hide-input")

    assert cells.count() > 0, "the chapter has no code cell tagged hide-input"
    shown_solutions = page.locator(".cell.tag_solution:not(.tag_hide-input)").count()
    assert shown_solutions == 0, "cells tagged solution must also be tagged hide-input"

    for index in range(cells.count()):
        cell = cells.nth(index)
        details = cell.locator("details.above-input")
        source = cell.locator(".cell_input")

        assert details.count() == 1, f"hide-input cell {index} has no collapsible source"
        assert not details.evaluate("element => element.open"), f"hide-input cell {index} starts open"
        assert not source.is_visible(), f"hide-input cell {index} shows its source before a click"

        details.locator("summary").click()

        assert details.evaluate("element => element.open"), f"hide-input cell {index} did not open"
        assert source.is_visible(), f"hide-input cell {index} hides its source after a click"


def test_chapter_solution_dropdowns_closed(open_page):
    require_chapter()
    page = open_page(CHAPTER_PAGE).page
    solutions = page.locator("div.solution")
    if solutions.count() == 0:
        pytest.skip("the chapter has no {solution} blocks")

    undropped = page.locator("div.solution:not(.dropdown)").count()
    assert undropped == 0, "{solution} blocks must use :class: dropdown"

    for index in range(solutions.count()):
        solution = solutions.nth(index)
        content = solution.locator("section")

        assert content.count() > 0, f"solution {index} has no content"
        assert not content.first.is_visible(), f"solution {index} shows its content before a click"

        solution.locator("button.toggle-button").click()

        assert content.first.is_visible(), f"solution {index} hides its content after a click"


def test_chapter_design_dropdowns_closed(open_page):
    require_chapter()
    page = open_page(CHAPTER_PAGE).page
    dropdowns = page.locator("details.sd-dropdown:not([open])")

    for index in range(dropdowns.count()):
        dropdown = dropdowns.nth(index)
        body = dropdown.locator(".sd-summary-content")

        assert not body.is_visible(), f"dropdown {index} shows its content before a click"

        dropdown.locator("summary").click()

        assert body.is_visible(), f"dropdown {index} hides its content after a click"


def test_chapter_launch_buttons(open_page):
    require_chapter()
    page = open_page(CHAPTER_PAGE).page
    colab = page.locator(f'.dropdown-launch-buttons a[href="{COLAB_URL}"]')
    binder = page.locator(f'.dropdown-launch-buttons a[href="{BINDER_URL}"]')

    assert colab.count() == 1, f"no Colab launch button that opens {COLAB_URL}"
    assert binder.count() == 1, f"no Binder launch button that opens {BINDER_URL}"

    # Open the launch menu. The links themselves stay unclicked because they lead off the site.
    page.locator(".dropdown-launch-buttons button.dropdown-toggle").click()

    assert colab.is_visible(), "the Colab launch button is not visible in the launch menu"
    assert binder.is_visible(), "the Binder launch button is not visible in the launch menu"


def test_chapter_progress_bar_renders(loaded_page):
    require_chapter()
    page = loaded_page(CHAPTER_PAGE).page
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    progress_bars = page.locator(".widget-hprogress")

    assert views > 0, "the chapter saved no widget views: its tqdm.auto progress bars are missing"
    assert progress_bars.count() > 0, "no tqdm progress bar rendered as a widget"
    assert progress_bars.first.is_visible(), "the tqdm progress bar is not visible"


def test_chapter_screenshot(loaded_page):
    require_chapter()
    page = loaded_page(CHAPTER_PAGE).page
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOT_DIR / (Path(CHAPTER_PAGE).stem + ".png")

    page.screenshot(path=str(target), full_page=True)

    assert target.stat().st_size > 0, f"empty screenshot {target}"


@pytest.mark.book
def test_pages_load_course_style_sheet(site_dir):
    page = (site_dir / "book" / "instructors.html").read_text(encoding="utf-8")
    assert '_static/ml4es.css' in page
    assert "white-space: pre-wrap" in (site_dir / "_static" / "ml4es.css").read_text(encoding="utf-8")


@pytest.mark.book
def test_page_titles_name_course_once(site_dir):
    course = "Machine Learning for Earth Sciences"
    front = (site_dir / "book" / "intro.html").read_text(encoding="utf-8")
    chapter = (site_dir / "book" / "pinns" / "heat_equation.html").read_text(encoding="utf-8")
    assert f"<title>{course}</title>" in front
    assert re.search(rf"<title>[^<]+ &#8212; {course}</title>", chapter)
