"""Fixtures for tests that fetch the course's data sets without network access.

The tests read data files from a local mirror laid out as ``<host>/<URL path>``: the folder in
``$ML4ES_TEST_MIRROR``, else ``$ML4ES_DATA_MIRROR``, else ``shared/data/mirror`` next to the repository. Tests that need
it are skipped when it is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEST_MIRROR = REPO_ROOT.parent / "shared" / "data" / "mirror"


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
