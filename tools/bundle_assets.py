"""Fetch the JavaScript that the course site loads, so that the site works with no network.

MathJax, RequireJS, the Jupyter widget manager (@jupyter-widgets/html-manager) and reveal.js
come from the npm registry with ``npm pack``, at the exact versions pinned in ``PACKAGES``
below, the one place where their versions are set. Each tarball must match its pinned sha512
integrity. The files the site needs are unpacked into ``_build/assets/npm/<package name>/``, and
``_config.yml`` lists ``_build/assets`` in ``html_static_path``, so Sphinx publishes them as
``_static/npm/<package name>/``, where ``mathjax_path`` and ``nb_ipywidgets_js`` point. The
slide decks (``python -m ml4es slides``) copy reveal.js and MathJax from ``_build/assets/npm``
into ``_build/html/slides/_static``, so that the slides folder works on its own.

The course's own script for the widget manager, ``tools/widget_manager_setup.js``, is copied
to ``_build/assets/ml4es/`` and published as ``_static/ml4es/widget-manager-setup.js``.

The script fetches nothing when the folder already contains the pinned versions, so ``make book``
can run it every time. To change a version, set ``version`` and ``integrity`` (from
``npm view NAME@VERSION dist.integrity``) and check the paths in ``_config.yml``.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "_build" / "assets"
# Written last, so that an interrupted run leaves no stamp and the next run starts again.
# Sphinx skips dotfiles when it copies html_static_path, so the stamp is not published.
STAMP_NAME = ".bundled.json"
NPM_TIMEOUT_S = 600
# The course's own files that the site loads beside the npm packages: source in the
# repository, destination relative to the output folder.
LOCAL_FILES = {
    ROOT / "tools" / "widget_manager_setup.js": PurePosixPath("ml4es/widget-manager-setup.js"),
}

logger = logging.getLogger("bundle_assets")


@dataclass(frozen=True)
class Package:
    """One npm package: its exact version, tarball integrity and the files the site uses."""

    name: str
    version: str
    integrity: str
    # fnmatch patterns of paths inside the package, where "*" also matches "/".
    files: tuple[str, ...]


PACKAGES = (
    # MathJax 3, the major version Sphinx 7.4's mathjax extension is configured for.
    # tex-mml-chtml.js is the component Sphinx loads by default. It loads TeX extensions,
    # fonts, the accessibility tools and the speech rule engine from the folders beside it.
    Package(
        name="mathjax",
        version="3.2.2",
        integrity="sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        files=(
            "LICENSE",
            "package.json",
            "es5/tex-mml-chtml.js",
            "es5/a11y/*",
            "es5/input/*",
            "es5/output/*",
            "es5/sre/*",
            "es5/ui/*",
        ),
    ),
    # The AMD loader that the widget manager's embed-amd.js needs on the page.
    Package(
        name="requirejs",
        version="2.3.8",
        integrity="sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        files=("package.json", "require.js"),
    ),
    # Renders the ipywidgets state saved in executed notebooks (sliders, tqdm progress
    # bars). Release 1.0.x speaks the widget protocol of ipywidgets 8. embed-amd.js
    # contains the base, controls and output widgets, and the Font Awesome files beside
    # it are the icons its CSS refers to.
    Package(
        name="@jupyter-widgets/html-manager",
        version="1.0.15",
        integrity="sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        files=(
            "package.json",
            "dist/embed-amd.js",
            "dist/*.woff",
            "dist/*.woff2",
            "dist/*.ttf",
            "dist/*.eot",
            "dist/*.svg",
        ),
    ),
    # The slide decks that `python -m ml4es slides` writes (UMD builds, loaded with plain
    # script tags). The white theme embeds its fonts as data URLs, so it loads nothing else.
    Package(
        name="reveal.js",
        version="6.0.2",
        integrity="sha512-JYIg5D9aoxoaLeb84O+OvAwsKWdIavVgEDScxtYEXFCT6t6TQrhNtSgogcjdCpdLsWglhJn3zyE3fUOwiH5KEg==",
        files=(
            "LICENSE",
            "package.json",
            "dist/reveal.js",
            "dist/reveal.css",
            "dist/reset.css",
            "dist/theme/white.css",
            "dist/plugin/notes.js",
        ),
    ),
)


class BundleError(RuntimeError):
    """A failure that the script reports in one message, with no traceback."""


def pins_record(packages: tuple[Package, ...]) -> dict[str, dict[str, str]]:
    """Return the pins as stored in the stamp file, to compare with an earlier run."""
    return {package.name: {"version": package.version, "integrity": package.integrity} for package in packages}


def is_up_to_date(npm_dir: Path, packages: tuple[Package, ...]) -> bool:
    """Return whether ``npm_dir`` contains every file of the pinned versions, per its stamp."""
    stamp = npm_dir / STAMP_NAME
    if not stamp.is_file():
        return False
    try:
        record = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    if record.get("pins") != pins_record(packages):
        return False
    files = record.get("files", [])
    return bool(files) and all((npm_dir / relative).is_file() for relative in files)


def find_npm() -> str:
    """Return the path of the npm executable, or raise BundleError saying how to get it."""
    npm = shutil.which("npm")
    if npm is None:
        raise BundleError(
            "npm not found on PATH. It fetches MathJax and the widget manager for the site: "
            "install Node.js with npm (Debian: `apt-get install npm`) and run this script again."
        )
    return npm


def npm_registry(npm: str) -> str:
    """Return the registry URL from npm's configuration, for error messages."""
    try:
        result = subprocess.run(
            [npm, "config", "get", "registry"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "(unknown registry)"
    return result.stdout.strip() or "(unknown registry)"


def pack_packages(npm: str, packages: tuple[Package, ...], destination: Path) -> dict[str, Path]:
    """Download the pinned tarballs into ``destination`` with one ``npm pack``.

    Returns a map from package name to tarball path.
    """
    specs = [f"{package.name}@{package.version}" for package in packages]
    command = [
        npm,
        "pack",
        *specs,
        "--json",
        "--pack-destination",
        str(destination),
        # The versions are exact and each tarball's hash is checked below, so a tarball
        # from npm's cache is as good as a fresh one, and the build works offline once cached.
        "--prefer-offline",
        "--fetch-retries=1",
        "--fetch-timeout=60000",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ]
    logger.info("fetching %s", ", ".join(specs))
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False, cwd=destination
        )
    except subprocess.TimeoutExpired as error:
        raise BundleError(
            f"`npm pack` timed out after {NPM_TIMEOUT_S} s fetching {', '.join(specs)} from "
            f"{npm_registry(npm)}. Check the network, or point npm at a reachable mirror with "
            "`npm config set registry URL`."
        ) from error
    if result.returncode != 0:
        # Drop the JavaScript stack trace at the end of npm's report.
        report = result.stderr.strip() or result.stdout.strip()
        details = "\n".join(line for line in report.splitlines() if not re.match(r"npm error\s+at ", line))
        raise BundleError(
            f"`npm pack` failed (exit status {result.returncode}) fetching {', '.join(specs)} "
            f"from {npm_registry(npm)}. Is the registry reachable? Check the network, or point "
            f"npm at a reachable mirror with `npm config set registry URL`. npm reported:\n{details[-2000:]}"
        )

    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise BundleError(f"`npm pack --json` printed output that is not JSON:\n{result.stdout[-2000:]}") from error
    tarballs = {report["name"]: destination / report["filename"] for report in reports}
    missing = [package.name for package in packages if package.name not in tarballs]
    if missing:
        raise BundleError(f"`npm pack` returned no tarball for {', '.join(missing)}")
    return tarballs


def check_integrity(package: Package, tarball: Path) -> None:
    """Raise BundleError unless the tarball's sha512 equals the pinned integrity."""
    algorithm, _, expected = package.integrity.partition("-")
    if algorithm != "sha512":
        raise BundleError(f"invalid integrity {package.integrity!r} for {package.name}: expected sha512-<base64>")
    actual = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode("ascii")
    if actual != expected:
        raise BundleError(
            f"{package.name}@{package.version}: tarball integrity sha512-{actual} does not match the "
            f"pinned {package.integrity}. Clear npm's cache (`npm cache clean --force`) and retry. "
            "If it still fails, the registry serves a different file than the pinned one."
        )


def unpack(package: Package, tarball: Path, target: Path) -> list[str]:
    """Extract the package's selected regular files into ``target`` and return their relative paths."""
    written: list[str] = []
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            path = PurePosixPath(member.name)
            # npm tarballs put everything under one top folder, usually "package/".
            relative = PurePosixPath(*path.parts[1:])
            if path.is_absolute() or ".." in path.parts or not relative.parts:
                raise BundleError(f"{tarball.name}: unsafe path {member.name!r} in the tarball")
            if not any(fnmatch.fnmatchcase(str(relative), pattern) for pattern in package.files):
                continue
            destination = target.joinpath(*relative.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            if source is None:
                raise BundleError(f"{tarball.name}: cannot read {member.name!r}")
            with source, open(destination, "wb") as output:
                shutil.copyfileobj(source, output)
            written.append(str(relative))

    unmatched = [
        pattern
        for pattern in package.files
        if not any(fnmatch.fnmatchcase(relative, pattern) for relative in written)
    ]
    if unmatched:
        raise BundleError(
            f"{package.name}@{package.version} contains no file matching {', '.join(unmatched)}. "
            "Update the file patterns in tools/bundle_assets.py"
        )
    return written


def bundle(out_dir: Path, packages: tuple[Package, ...] = PACKAGES, force: bool = False) -> bool:
    """Fetch and unpack the pinned packages into ``out_dir/npm`` and return whether anything changed."""
    npm_dir = out_dir / "npm"
    if not force and is_up_to_date(npm_dir, packages):
        logger.info("assets in %s are up to date", npm_dir)
        return False

    npm = find_npm()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="npm-", dir=out_dir) as scratch:
        scratch_dir = Path(scratch)
        downloads = scratch_dir / "tarballs"
        downloads.mkdir()
        tarballs = pack_packages(npm, packages, downloads)

        staging = scratch_dir / "npm"
        files: list[str] = []
        for package in packages:
            check_integrity(package, tarballs[package.name])
            package_dir = staging.joinpath(*package.name.split("/"))
            for relative in unpack(package, tarballs[package.name], package_dir):
                files.append(f"{package.name}/{relative}")

        record = {"pins": pins_record(packages), "files": sorted(files)}
        (staging / STAMP_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if npm_dir.exists():
            shutil.rmtree(npm_dir)
        staging.rename(npm_dir)

    logger.info("wrote %d files of %d packages to %s", len(files), len(packages), npm_dir)
    return True


def copy_local_files(out_dir: Path) -> None:
    """Copy ``LOCAL_FILES`` into ``out_dir``, rewriting only those whose content changed."""
    for source, relative in LOCAL_FILES.items():
        destination = out_dir.joinpath(*relative.parts)
        content = source.read_bytes()
        if destination.is_file() and destination.read_bytes() == content:
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)
        logger.info("copied %s to %s", source.relative_to(ROOT), destination)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"folder that html_static_path publishes, with the packages in OUT/npm (default: {DEFAULT_OUT})",
    )
    parser.add_argument("--force", action="store_true", help="fetch and unpack again even if up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="bundle_assets: %(message)s")
    try:
        out_dir = args.out.resolve()
        bundle(out_dir, force=args.force)
        copy_local_files(out_dir)
    except BundleError as error:
        logger.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
