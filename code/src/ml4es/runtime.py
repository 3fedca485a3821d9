"""Choice of compute device and seeding of every random source."""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import torch

logger = logging.getLogger(__name__)

DEVICES = ("cuda", "mps", "cpu")


def device(prefer: str | None = None) -> torch.device:
    """Return the fastest available device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` (or the environment variable ``ML4ES_DEVICE``) forces one of ``"cuda"``,
    ``"mps"`` or ``"cpu"``; asking for one that is not available raises ``RuntimeError``.
    """
    choice = prefer or os.environ.get("ML4ES_DEVICE")
    if choice is not None:
        if choice not in DEVICES:
            raise ValueError(f"invalid device {choice!r}; expected one of {', '.join(DEVICES)}")
        if not _available(choice):
            raise RuntimeError(f"device {choice!r} was requested but is not available here")
        return torch.device(choice)

    for name in DEVICES:
        if _available(name):
            return torch.device(name)
    return torch.device("cpu")


def _available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return True


def seed_everything(seed: int = 0, deterministic: bool = True) -> int:
    """Seed Python's, NumPy's and PyTorch's generators, and return the seed.

    With ``deterministic``, PyTorch uses deterministic algorithms where it has them (on the CPU
    every operation the course uses is), so a chapter prints the same numbers on every run.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"invalid seed {seed!r}; expected a non-negative integer")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if torch.cuda.is_available():
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return seed


def machine_info() -> dict:
    """Describe the hardware and software of this run, for benchmark results and weight records."""
    import platform

    import ml4es

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "ml4es": ml4es.__version__,
    }
