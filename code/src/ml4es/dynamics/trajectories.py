"""Trajectories of the Lorenz systems, generated once and cached as netCDF, keyed by their parameters."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import xarray as xr

from ml4es.data import cache_dir
from ml4es.dynamics import systems

logger = logging.getLogger(__name__)

INTEGRATION_DT = 0.01
"""RK4 step in model time units; samples are saved at multiples of it."""


def trajectories(
    system: str = "lorenz96",
    n_trajectories: int = 1,
    duration: float = 100.0,
    sample_dt: float = 0.05,
    seed: int = 0,
    noise: float = 0.0,
    noise_seed: int | None = None,
    n_variables: int = systems.N_LORENZ96,
    cache: bool = True,
) -> xr.Dataset:
    """Return trajectories of ``system`` as a Dataset with variable ``x(trajectory, time, variable)``.

    Each trajectory starts from its own state on the attractor (drawn with ``seed``) and is
    integrated with RK4 at :data:`INTEGRATION_DT`, saved every ``sample_dt`` for ``duration`` MTU.
    ``noise`` adds independent Gaussian observation noise with a standard deviation of ``noise``
    times the climatological standard deviation of the clean trajectories (``noise_seed``, by
    default ``seed + 1``), and the clean values are kept as ``x_clean``. The clean trajectories are
    cached in ``cache_dir() / "dynamics"`` under a name made from a hash of the parameters.
    """
    systems._check_count("n_trajectories", n_trajectories)
    if not (np.isfinite(duration) and duration > 0):
        raise ValueError(f"invalid duration={duration} MTU; expected a positive number")
    steps_per_sample = int(round(sample_dt / INTEGRATION_DT))
    if steps_per_sample < 1 or not np.isclose(steps_per_sample * INTEGRATION_DT, sample_dt):
        raise ValueError(f"sample_dt={sample_dt} must be a positive multiple of {INTEGRATION_DT}")
    if noise < 0:
        raise ValueError(f"invalid noise={noise}; expected a non-negative fraction of the standard deviation")

    parameters = {
        "system": system,
        "n_trajectories": int(n_trajectories),
        "duration": float(duration),
        "sample_dt": float(sample_dt),
        "seed": int(seed),
        "n_variables": int(n_variables) if system == "lorenz96" else 3,
        "integration_dt": INTEGRATION_DT,
    }
    path = _cache_path(parameters)
    if cache and path.is_file():
        dataset = xr.load_dataset(path)
    else:
        dataset = _generate(parameters, steps_per_sample)
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            dataset.to_netcdf(temporary)
            temporary.replace(path)
            logger.info("cached trajectories in %s", path)

    if noise > 0:
        rng = np.random.default_rng(seed + 1 if noise_seed is None else noise_seed)
        clean = dataset["x"].values
        noisy = clean + noise * clean.std() * rng.standard_normal(clean.shape)
        dataset = dataset.rename({"x": "x_clean"})
        dataset["x"] = (("trajectory", "time", "variable"), noisy)
        dataset.attrs["noise"] = noise
    return dataset


def _cache_path(parameters: dict) -> Path:
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / "dynamics" / f"{parameters['system']}_{digest}.nc"


def _generate(parameters: dict, steps_per_sample: int) -> xr.Dataset:
    system, n = parameters["system"], parameters["n_trajectories"]
    if system == "lorenz96":
        start = systems.lorenz96_initial_states(n, parameters["n_variables"], seed=parameters["seed"])
    elif system == "lorenz63":
        start = systems.lorenz63_initial_states(n, seed=parameters["seed"])
    else:
        raise ValueError(f"unknown system {system!r}; expected 'lorenz63' or 'lorenz96'")

    n_samples = int(round(parameters["duration"] / parameters["sample_dt"]))
    states = systems.integrate(
        systems.tendency(system), start, n_samples * steps_per_sample, INTEGRATION_DT, save_every=steps_per_sample
    )
    states = np.moveaxis(states, 0, 1)
    time = np.arange(n_samples + 1) * parameters["sample_dt"]
    return xr.Dataset(
        {"x": (("trajectory", "time", "variable"), states, {"long_name": "state", "units": "non-dimensional"})},
        coords={"time": ("time", time, {"units": "model time units"}), "variable": np.arange(states.shape[-1])},
        attrs={key: str(value) for key, value in parameters.items()} | {"integrator": "classical RK4"},
    )
