"""Tests of the command line, run as a reader runs it: ``python -m ml4es ...``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

FIXTURE = Path(__file__).parent / "fixtures" / "book"


def run_cli(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ml4es", *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "notebooks" in result.stdout
    assert "data" in result.stdout


def test_notebooks_command_writes_both_kinds(tmp_path):
    result = run_cli("notebooks", "--root", str(FIXTURE), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    student = nbformat.read(tmp_path / "student" / "demo" / "chapter.ipynb", as_version=4)
    instructor = nbformat.read(tmp_path / "instructor" / "demo" / "chapter.ipynb", as_version=4)
    assert student.metadata["ml4es"]["kind"] == "student"
    assert instructor.metadata["ml4es"]["kind"] == "instructor"


def test_notebooks_command_missing_root(tmp_path):
    result = run_cli("notebooks", "--root", str(tmp_path / "absent"), "--out", str(tmp_path))
    assert result.returncode == 1
    assert "_config.yml" in result.stderr
    assert "Traceback" not in result.stderr


def test_data_list_names_datasets(tmp_path):
    result = run_cli("data", "list", env={"ML4ES_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "camvid" in result.stdout
    assert "leewaves" in result.stdout


def test_data_fetch_unknown_dataset(tmp_path):
    result = run_cli("data", "fetch", "nope", env={"ML4ES_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_data_fetch_camvid_from_mirror(data_mirror, tmp_path):
    result = run_cli(
        "data", "fetch", "camvid", env={"ML4ES_DATA_DIR": str(tmp_path), "ML4ES_DATA_MIRROR": str(data_mirror)}
    )
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "camvid").rglob("*.png"))) == 936
    assert (tmp_path / "camvid" / "train.txt").exists()
