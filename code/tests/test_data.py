"""Tests of ml4es.data: registries, cache, local mirror, errors and the CLI entry points.

Every test runs offline. Files come from the local mirror (see conftest.py) or from HTTP servers
that the tests start on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import http.server
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pooch
import pytest

from ml4es import data

REPO_ROOT = Path(__file__).resolve().parents[2]

EXPECTED_FILE_COUNTS = {"camvid": 938, "leewaves": 164}

LEEWAVES_NC = "700hPa/20210101T0000Z-PT0000H00M-wind_vertical_velocity_at_700hPa.nc"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _known_sha256(dataset: str, filename: str) -> str:
    algorithm, _, digest = data.DATASETS[dataset].registry[filename].partition(":")
    assert algorithm == "sha256"
    return digest


def _mirror_file(mirror: Path, dataset: str, filename: str) -> Path:
    return data.mirror_path(data.DATASETS[dataset].url(filename), mirror)


def _set_url_prefix(monkeypatch: pytest.MonkeyPatch, dataset: str, url_prefix: str) -> None:
    """Point a data set at another URL prefix for the rest of the test."""
    info = dataclasses.replace(data.DATASETS[dataset], url_prefix=url_prefix)
    monkeypatch.setitem(data.DATASETS, dataset, info)


def _closed_port() -> int:
    """Return a local TCP port that nothing listens on, so connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 and yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def manifest(data_mirror: Path) -> list[tuple[str, str]]:
    """(sha256, URL) pairs of the manifest next to the mirror. Skips the test if there is none."""
    path = data_mirror.parent / "MANIFEST.sha256"
    if not path.is_file():
        pytest.skip(f"no manifest at {path}")
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            sha256, url = line.split()
            pairs.append((sha256, url))
    return pairs


# Registries


@pytest.mark.parametrize("dataset", sorted(EXPECTED_FILE_COUNTS))
def test_registry_matches_manifest(dataset, manifest):
    info = data.DATASETS[dataset]
    expected = {
        url[len(info.url_prefix):]: f"sha256:{sha256}"
        for sha256, url in manifest
        if url.startswith(info.url_prefix)
    }

    assert len(expected) == EXPECTED_FILE_COUNTS[dataset]
    assert dict(info.registry) == expected


def test_manifest_urls_all_in_datasets(manifest):
    prefixes = tuple(info.url_prefix for info in data.list_datasets())
    unmatched = [url for _, url in manifest if not url.startswith(prefixes)]

    assert unmatched == []


def test_registry_script_check_passes(data_mirror):
    manifest_path = data_mirror.parent / "MANIFEST.sha256"
    if not manifest_path.is_file():
        pytest.skip(f"no manifest at {manifest_path}")

    script = REPO_ROOT / "tools" / "make_registries.py"
    result = subprocess.run(
        [sys.executable, str(script), str(manifest_path), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_datasets_describe_source():
    assert sorted(data.DATASETS) == ["camvid", "leewaves"]
    for name, info in data.DATASETS.items():
        assert info.name == name
        assert info.url_prefix.startswith("https://")
        assert info.url_prefix.endswith("/")
        assert info.description
        assert info.citation
        assert info.licence
        assert len(info.registry) == EXPECTED_FILE_COUNTS[name]
    assert data.list_datasets() == list(data.DATASETS.values())


# Cache and mirror folders


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ML4ES_DATA_DIR", str(tmp_path))
    assert data.cache_dir() == tmp_path

    monkeypatch.delenv("ML4ES_DATA_DIR")
    assert data.cache_dir() == Path(pooch.os_cache("ml4es"))


def test_mirror_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ML4ES_DATA_MIRROR", str(tmp_path))
    assert data.mirror_dir() == tmp_path

    monkeypatch.setenv("ML4ES_DATA_MIRROR", "")
    assert data.mirror_dir() is None

    monkeypatch.delenv("ML4ES_DATA_MIRROR")
    assert data.mirror_dir() is None


def test_mirror_path_layout(tmp_path):
    url = "https://example.org/some/data/file.nc"
    assert data.mirror_path(url, tmp_path) == tmp_path / "example.org" / "some" / "data" / "file.nc"


def test_missing_mirror_folder_raises(data_cache, tmp_path, monkeypatch):
    missing = tmp_path / "no-such-mirror"
    monkeypatch.setenv("ML4ES_DATA_MIRROR", str(missing))

    with pytest.raises(NotADirectoryError) as error:
        data.fetch("camvid", "train.txt")

    assert str(missing) in str(error.value)
    assert "ML4ES_DATA_MIRROR" in str(error.value)


# fetch from the mirror and the cache


@pytest.mark.parametrize(
    ("dataset", "filename"),
    [
        ("camvid", "train.txt"),
        ("camvid", "trainannot/0001TP_006690.png"),
        ("leewaves", LEEWAVES_NC),
    ],
)
def test_fetch_returns_verified_file(dataset, filename, mirrored_data, data_mirror):
    path = data.fetch(dataset, filename)

    assert path == mirrored_data / dataset / filename
    assert _sha256(path) == _known_sha256(dataset, filename)
    assert path.read_bytes() == _mirror_file(data_mirror, dataset, filename).read_bytes()


def test_fetch_uses_cached_file_offline(mirrored_data, tmp_path, monkeypatch):
    first = data.fetch("camvid", "train.txt")
    empty_mirror = tmp_path / "empty-mirror"
    empty_mirror.mkdir()
    monkeypatch.setenv("ML4ES_DATA_MIRROR", str(empty_mirror))
    _set_url_prefix(monkeypatch, "camvid", f"http://127.0.0.1:{_closed_port()}/")

    second = data.fetch("camvid", "train.txt")

    assert second == first
    assert _sha256(second) == _known_sha256("camvid", "train.txt")


def test_fetch_replaces_corrupted_cache_file(mirrored_data, caplog):
    path = data.fetch("camvid", "train.txt")
    path.write_bytes(b"corrupted\n")

    with caplog.at_level(logging.WARNING, logger="ml4es.data"):
        refetched = data.fetch("camvid", "train.txt")

    assert refetched == path
    assert _sha256(refetched) == _known_sha256("camvid", "train.txt")
    warnings = [
        record.getMessage() for record in caplog.records if record.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert str(path) in warnings[0]


def test_fetch_rejects_corrupted_mirror_file(data_cache, data_mirror, tmp_path, monkeypatch):
    bad_mirror = tmp_path / "bad-mirror"
    bad_file = _mirror_file(bad_mirror, "camvid", "train.txt")
    bad_file.parent.mkdir(parents=True)
    bad_file.write_bytes(b"not the real train.txt\n")
    monkeypatch.setenv("ML4ES_DATA_MIRROR", str(bad_mirror))

    with pytest.raises(data.DataIntegrityError) as error:
        data.fetch("camvid", "train.txt")

    message = str(error.value)
    assert str(bad_file) in message
    assert _known_sha256("camvid", "train.txt") in message
    assert _sha256(bad_file) in message
    cached_files = [path for path in data_cache.rglob("*") if path.is_file()]
    assert cached_files == []


def test_fetch_dataset_copies_all_leewaves(mirrored_data):
    registry = data.DATASETS["leewaves"].registry

    paths = data.fetch_dataset("leewaves", progress=False)

    names = [path.relative_to(mirrored_data / "leewaves").as_posix() for path in paths]
    assert len(paths) == 164
    assert names == list(registry)
    for name, path in zip(names, paths):
        assert registry[name] == f"sha256:{_sha256(path)}", name


# fetch over HTTP, served from 127.0.0.1


def test_fetch_downloads_over_http(data_cache, data_mirror, monkeypatch):
    served = _mirror_file(data_mirror, "camvid", "train.txt").parent
    with _serve_folder(served) as base_url:
        _set_url_prefix(monkeypatch, "camvid", base_url)
        path = data.fetch("camvid", "train.txt")

    assert _sha256(path) == _known_sha256("camvid", "train.txt")


def test_fetch_falls_back_when_mirror_lacks_file(data_cache, data_mirror, tmp_path, monkeypatch):
    empty_mirror = tmp_path / "empty-mirror"
    empty_mirror.mkdir()
    monkeypatch.setenv("ML4ES_DATA_MIRROR", str(empty_mirror))
    served = _mirror_file(data_mirror, "camvid", "val.txt").parent
    with _serve_folder(served) as base_url:
        _set_url_prefix(monkeypatch, "camvid", base_url)
        path = data.fetch("camvid", "val.txt")

    assert _sha256(path) == _known_sha256("camvid", "val.txt")


def test_fetch_rejects_corrupted_download(data_cache, tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    (served / "train.txt").write_bytes(b"not the real train.txt\n")
    with _serve_folder(served) as base_url:
        _set_url_prefix(monkeypatch, "camvid", base_url)
        with pytest.raises(ValueError, match="hash"):
            data.fetch("camvid", "train.txt")

    cached_files = [path for path in data_cache.rglob("*") if path.is_file()]
    assert cached_files == []


def test_fetch_http_not_found(data_cache, tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    with _serve_folder(served) as base_url:
        _set_url_prefix(monkeypatch, "camvid", base_url)
        with pytest.raises(data.DataUnavailableError) as error:
            data.fetch("camvid", "train.txt")

    assert "404" in str(error.value)


def test_fetch_without_mirror_or_network(data_cache, monkeypatch):
    url_prefix = f"http://127.0.0.1:{_closed_port()}/CamVid/"
    _set_url_prefix(monkeypatch, "camvid", url_prefix)

    start = time.monotonic()
    with pytest.raises(data.DataUnavailableError) as error:
        data.fetch("camvid", "val.txt")
    elapsed = time.monotonic() - start

    message = str(error.value)
    assert isinstance(error.value, OSError)
    assert "'val.txt'" in message
    assert f"{url_prefix}val.txt" in message
    assert "ML4ES_DATA_MIRROR" in message
    assert str(data_cache / "camvid" / "val.txt") in message
    assert elapsed < 5


def test_fetch_times_out_on_silent_server(data_cache, monkeypatch):
    # The socket accepts connections into its backlog but never sends a response, so only the
    # read timeout can end the request.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent_server:
        silent_server.bind(("127.0.0.1", 0))
        silent_server.listen(4)
        port = silent_server.getsockname()[1]
        _set_url_prefix(monkeypatch, "camvid", f"http://127.0.0.1:{port}/")
        monkeypatch.setattr(data, "HTTP_TIMEOUT", (2.0, 0.5))

        start = time.monotonic()
        with pytest.raises(data.DataUnavailableError, match="timed out"):
            data.fetch("camvid", "train.txt")
        elapsed = time.monotonic() - start

    # The read timeout is 0.5 s. The margin allows for a slow test machine.
    assert elapsed < 2.5


# Invalid names


@pytest.mark.parametrize(
    "function", [data.fetch_dataset, lambda name: data.fetch(name, "train.txt")]
)
def test_unknown_dataset_lists_choices(function):
    with pytest.raises(ValueError) as error:
        function("nope")

    message = str(error.value)
    assert "'nope'" in message
    assert "camvid" in message
    assert "leewaves" in message


def test_unknown_filename_suggests_close_match():
    with pytest.raises(ValueError) as error:
        data.fetch("camvid", "train.tx")

    assert "'train.tx'" in str(error.value)
    assert "'train.txt'" in str(error.value)


def test_unknown_filename_shows_examples():
    with pytest.raises(ValueError) as error:
        data.fetch("leewaves", "zzzz")

    message = str(error.value)
    assert "'zzzz'" in message
    assert "164 files" in message
    assert "'leewaves'" in message


# CLI entry points


def test_main_list_output(data_cache, capsys):
    assert data.main_list() == 0

    output = capsys.readouterr().out
    assert "camvid: 938 files, 0 in the cache" in output
    assert "leewaves: 164 files, 0 in the cache" in output
    assert f"cache folder: {data_cache}" in output
    assert "mirror: not set" in output


def test_main_list_counts_cached_files(mirrored_data, data_mirror, capsys):
    data.fetch("camvid", "train.txt")

    assert data.main_list() == 0

    output = capsys.readouterr().out
    assert "camvid: 938 files, 1 in the cache" in output
    assert f"mirror: {data_mirror}" in output


@pytest.mark.parametrize("names", [["nope"], ["leewaves", "nope"], []])
def test_main_fetch_invalid_names(names, data_cache, capsys):
    assert data.main_fetch(names) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: ")
    assert "camvid" in captured.err
    assert not any(data_cache.rglob("*"))


def test_main_fetch_leewaves(mirrored_data, capsys):
    assert data.main_fetch(["leewaves"]) == 0

    output = capsys.readouterr().out
    assert f"leewaves: 164 files in {mirrored_data / 'leewaves'}" in output


def test_main_fetch_network_failure(data_cache, monkeypatch, capsys):
    _set_url_prefix(monkeypatch, "leewaves", f"http://127.0.0.1:{_closed_port()}/")

    assert data.main_fetch(["leewaves"]) == 1

    stderr = capsys.readouterr().err
    error_lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert "ML4ES_DATA_MIRROR" in error_lines[0]
    assert "Traceback" not in stderr
