"""Fixtures for tests that fetch the course's data sets without network access, and for the
tests that open the built site in a browser.

The tests read data files from a local mirror laid out as ``<host>/<URL path>``: the folder in
``$ML4ES_TEST_MIRROR``, else ``$ML4ES_DATA_MIRROR``, else ``shared/data/mirror`` next to the repository. Tests that need
it are skipped when it is missing.

The site fixtures live here so that ``test_site.py`` and ``test_slides.py`` share one browser:
Playwright's sync API runs only one instance in a thread at a time.
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from test_site import CHROMIUM, CHROMIUM_ARGS, SITE_DIR, QuietHandler, skip_or_fail

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEST_MIRROR = REPO_ROOT.parent / "shared" / "data" / "mirror"


def load_script(name: str, folder: str = "scripts"):
    """Import ``<folder>/<name>.py`` as a module; skip the test outside a repository checkout."""
    path = REPO_ROOT / folder / f"{name}.py"
    if not path.is_file():
        pytest.skip(f"{path} not found: the test needs the repository checkout")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def data_mirror() -> Path:
    """Local data mirror folder; skips the test if there is none."""
    path = Path(os.environ.get("ML4ES_TEST_MIRROR") or os.environ.get("ML4ES_DATA_MIRROR") or DEFAULT_TEST_MIRROR)
    if not path.is_dir():
        pytest.skip(
            f"no data mirror at {path}: set ML4ES_TEST_MIRROR or ML4ES_DATA_MIRROR to a folder laid out as "
            f"<host>/<URL path> to run the data tests offline"
        )
    return path


@pytest.fixture
def data_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty ml4es.data cache folder under tmp_path, with no mirror set."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ML4ES_DATA_DIR", str(cache))
    monkeypatch.delenv("ML4ES_DATA_MIRROR", raising=False)
    return cache


@pytest.fixture
def mirrored_data(data_cache: Path, data_mirror: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty ml4es.data cache folder under tmp_path that fetches from the local mirror."""
    monkeypatch.setenv("ML4ES_DATA_MIRROR", str(data_mirror))
    return data_cache


@pytest.fixture(scope="session")
def site_dir() -> Path:
    """The built site; skips, or fails under ML4ES_BOOK_BUILT=1, when it is missing."""
    if not (SITE_DIR / "index.html").is_file():
        skip_or_fail("ML4ES_BOOK_BUILT", f"no built site in {SITE_DIR}: run `make book` first")
    return SITE_DIR


@pytest.fixture(scope="session")
def site_url(site_dir: Path) -> Iterator[str]:
    """Base URL of a local HTTP server on 127.0.0.1 that serves the built site."""
    handler = partial(QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="session")
def browser():
    """Chromium under Playwright; skips, or fails under ML4ES_REQUIRE_BROWSER=1, when it is missing."""
    if not CHROMIUM.is_file():
        skip_or_fail(
            "ML4ES_REQUIRE_BROWSER",
            f"browser {CHROMIUM} not found: install Debian's chromium package or set ML4ES_CHROMIUM",
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("ML4ES_REQUIRE_BROWSER", "playwright is not installed: pip install -r requirements.txt")

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
