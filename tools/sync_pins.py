"""Write environment.yml and binder/environment.yml from the pins in requirements.txt.

requirements.txt is the one source of truth for versions. Run this script after changing it;
a test fails while the generated files disagree with it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_VERSION = "3.11"
# Conda and Binder get PyTorch's CPU wheels from PyTorch's own index: the default
# index would install a CUDA build of several GB. Colab keeps its own torch.
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def read_pins(path: Path = ROOT / "requirements.txt") -> list[str]:
    """Return the requirement lines of ``path``, without comments and blank lines."""
    pins = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pins.append(line)
    return pins


def environment_yml(pins: list[str], name: str, header: str) -> str:
    """Return a conda environment file that installs ``pins`` with pip."""
    lines = [
        f"# {header}",
        "# Generated from requirements.txt by tools/sync_pins.py: edit that file, not this one.",
        f"name: {name}",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={PYTHON_VERSION}",
        "  - pip",
        "  - pip:",
        f"      - --extra-index-url {TORCH_INDEX}",
    ]
    lines += [f"      - {pin}" for pin in pins]
    return "\n".join(lines) + "\n"


def generated_files() -> dict[Path, str]:
    """Return each generated file's path and the text it should have."""
    pins = read_pins()
    return {
        ROOT / "environment.yml": environment_yml(
            pins, "ml4es", "Conda environment for running the course locally; then `pip install -e code`."
        ),
        ROOT / "binder" / "environment.yml": environment_yml(
            pins, "ml4es-binder", "Binder's environment; binder/postBuild installs the course package."
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="report stale files instead of writing them")
    arguments = parser.parse_args()

    stale = []
    for path, text in generated_files().items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if arguments.check:
            stale.append(path)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    for path in stale:
        print(f"{path.relative_to(ROOT)} is out of date: run python tools/sync_pins.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
