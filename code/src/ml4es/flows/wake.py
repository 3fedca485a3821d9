"""The cylinder wake: snapshots of a lattice-Boltzmann run as a labelled, cached data set.

:func:`wake_dataset` runs :class:`~ml4es.flows.lbm.CylinderFlow` past the transient and returns
u, v, p and c on the lattice nodes of the wake region as an ``xarray.Dataset``, non-dimensionalised
by the diameter D, the inflow speed U and the density: lengths in D, times in D/U, velocities in
U and pressure in rho U^2 (relative to the outlet pressure). The result is cached as netCDF in
``ml4es.data.cache_dir() / "cylinder_wake"``, under a name that hashes every parameter.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from ml4es.data import cache_dir
from ml4es.flows.lbm import CS2, CylinderFlow, CylinderSetup, mach_number

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bumped whenever the solver or the data layout changes, so that old cache files are not reused."""

WAKE_REGION = {"x": (1.0, 8.0), "y": (-2.0, 2.0)}


def wake_dataset(
    re: float = 100.0,
    diameter: int = 20,
    snapshots: int = 200,
    snapshot_interval: float = 0.1,
    spinup: float = 60.0,
    inflow: float = 0.05,
    peclet: float = 100.0,
    height: float = 8.0,
    length: float = 16.0,
    upstream: float = 4.0,
    sponge: float = 3.0,
    x_range: tuple[float, float] = WAKE_REGION["x"],
    y_range: tuple[float, float] = WAKE_REGION["y"],
    cache: bool = True,
    progress: bool = True,
    compile: bool | None = None,
) -> xr.Dataset:
    """Return ``snapshots`` snapshots of the wake behind a cylinder, simulating them if not cached.

    ``re`` and ``peclet`` are the Reynolds and Péclet numbers ``U D / nu`` and ``U D / kappa``;
    ``diameter`` is the cylinder's diameter in lattice nodes (the grid spacing is ``1/diameter``
    D); ``inflow`` is U in lattice units; ``height`` is the distance between the periodic sides
    and ``length`` the domain's length, in D, the cylinder ``upstream`` D from the inlet; the last
    ``sponge`` D before the outlet damp sound waves (see :mod:`ml4es.flows.lbm`) and must lie
    downstream of ``x_range``.
    Recording starts after ``spinup`` time units (D/U) and keeps one snapshot every
    ``snapshot_interval`` time units (rounded to whole lattice steps). ``compile`` uses
    ``torch.compile`` for the time step; by default it does so for runs of more than 1e9 node
    updates, where compilation (about 40 s) pays for itself.

    Returns u, v, p, c of shape ``(time, y, x)`` and the drag and lift coefficients of shape
    ``(time,)``, with the parameters, Strouhal number and mean drag coefficient as attributes.
    """
    # Check every argument before the simulation starts, because a NaN would otherwise show up
    # only as a diverged run.
    setup = CylinderSetup(
        reynolds=re, peclet=peclet, diameter=diameter, inflow=inflow, upstream=upstream, length=length, height=height,
        sponge=sponge,
    )
    if isinstance(snapshots, bool) or not isinstance(snapshots, (int, np.integer)) or snapshots < 2:
        raise ValueError(f"invalid snapshots={snapshots!r}; expected an integer of at least 2")
    if not (math.isfinite(spinup) and spinup >= 0):
        raise ValueError(f"invalid spinup={spinup}; expected a non-negative number of time units D/U")
    if not (math.isfinite(snapshot_interval) and snapshot_interval > 0):
        raise ValueError(f"invalid snapshot_interval={snapshot_interval}; expected a positive number of time units D/U")
    if len(x_range) != 2 or len(y_range) != 2:
        raise ValueError(f"invalid x_range={x_range} or y_range={y_range}; expected two bounds each, in D")
    if not all(math.isfinite(value) for value in (*x_range, *y_range)):
        raise ValueError(f"invalid x_range={x_range} or y_range={y_range}; expected finite bounds in D")
    if not (0 < x_range[0] < x_range[1] <= length - upstream - 1):
        raise ValueError(f"x_range {x_range} must lie behind the cylinder and 1 D before the outlet ({length - upstream} D)")
    if x_range[1] > length - upstream - sponge + 1e-9:
        raise ValueError(
            f"x_range {x_range} reaches into the sponge, which starts {length - upstream - sponge:g} D behind the "
            "cylinder: shorten x_range or the sponge"
        )
    if not (-height / 2 <= y_range[0] < y_range[1] < height / 2):
        raise ValueError(f"y_range {y_range} must lie within the sides at +-{height / 2} D")

    # Numbers are normalised (100 and 100.0 alike) so that the cache key depends on values only.
    parameters = {
        "re": float(re),
        "peclet": float(peclet),
        "diameter": int(diameter),
        "inflow": float(inflow),
        "height": float(height),
        "length": float(length),
        "upstream": float(upstream),
        "sponge": float(sponge),
        "snapshots": int(snapshots),
        "snapshot_interval": float(snapshot_interval),
        "spinup": float(spinup),
        "x_range": [float(value) for value in x_range],
        "y_range": [float(value) for value in y_range],
        "format_version": FORMAT_VERSION,
    }
    path = cache_path(parameters)
    if cache and path.is_file():
        logger.info("reading the cached cylinder wake from %s", path)
        with xr.open_dataset(path) as cached:
            dataset = cached.load()
        # Files cached before the sponge was described keep their key and values but get the
        # current description of the domain.
        dataset.attrs.update(domain_attributes(setup))
        return dataset

    dataset = simulate_wake(setup, snapshots, snapshot_interval, spinup, x_range, y_range, progress, compile)
    dataset.attrs["parameters"] = json.dumps(parameters)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.nc")
        dataset.to_netcdf(temporary)
        temporary.replace(path)
        logger.info("cached the cylinder wake in %s", path)
    return dataset


def cache_path(parameters: dict) -> Path:
    """Return the netCDF file in the cache that stores the wake with these parameters."""
    key = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:12]
    name = f"wake_re{parameters['re']:g}_d{parameters['diameter']}_n{parameters['snapshots']}_{key}.nc"
    return cache_dir() / "cylinder_wake" / name


def simulate_wake(
    setup: CylinderSetup,
    snapshots: int,
    snapshot_interval: float,
    spinup: float,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    progress: bool = True,
    compile: bool | None = None,
) -> xr.Dataset:
    """Run the simulation and return the wake snapshots (see :func:`wake_dataset`), uncached."""
    steps_per_unit = setup.steps_per_time_unit
    interval = max(1, round(snapshot_interval * steps_per_unit))
    spinup_steps = round(spinup * steps_per_unit)
    total = spinup_steps + interval * (snapshots - 1) + 1
    ny, nx = setup.shape
    if compile is None:
        compile = total * ny * nx > 1e9

    jc, ic = setup.centre
    x = (np.arange(nx) - ic) / setup.diameter
    y = (np.arange(ny) - jc) / setup.diameter
    columns = np.flatnonzero((x >= x_range[0] - 1e-9) & (x <= x_range[1] + 1e-9))
    rows = np.flatnonzero((y >= y_range[0] - 1e-9) & (y <= y_range[1] + 1e-9))
    row_slice = slice(rows[0], rows[-1] + 1)
    column_slice = slice(columns[0], columns[-1] + 1)

    flow = CylinderFlow(setup, compile=compile)
    fields = {name: np.empty((snapshots, len(rows), len(columns)), dtype=np.float32) for name in ("u", "v", "p", "c")}
    drag = np.empty(snapshots)
    lift = np.empty(snapshots)
    # Mean drag over every step of the recording window, not only the snapshots.
    drag_sum = 0.0
    drag_steps = 0

    started = time.perf_counter()
    with torch.no_grad(), tqdm(total=total, desc=f"cylinder wake, D = {setup.diameter}", unit="step", disable=not progress, mininterval=1.0) as bar:
        for step in range(total):
            flow.step()
            if flow.time_step > spinup_steps:
                drag_sum += float(flow.force[0])
                drag_steps += 1
            recorded = flow.time_step - 1 - spinup_steps
            if recorded >= 0 and recorded % interval == 0:
                index = recorded // interval
                state = flow.fields()
                fields["u"][index] = (state["ux"][row_slice, column_slice] / setup.inflow).numpy()
                fields["v"][index] = (state["uy"][row_slice, column_slice] / setup.inflow).numpy()
                pressure = CS2 * (state["rho"][row_slice, column_slice].double() - 1) / setup.inflow**2
                fields["p"][index] = pressure.numpy()
                fields["c"][index] = state["c"][row_slice, column_slice].numpy()
                drag[index], lift[index] = flow.force_coefficients()
            if step % 200 == 0:
                bar.update(min(200, total - bar.n))
        bar.update(total - bar.n)
    seconds = time.perf_counter() - started
    if not all(np.isfinite(array).all() for array in fields.values()):
        raise FloatingPointError(
            f"the lattice-Boltzmann run at D = {setup.diameter}, U = {setup.inflow} diverged (NaN): "
            "raise the diameter or lower the inflow speed"
        )

    # The lift carries acoustic noise from the staircase wall, so the shedding frequency is
    # measured on the transverse velocity on the wake's axis, 2 D behind the cylinder.
    probe_row = int(np.argmin(np.abs(y[rows])))
    probe_column = int(np.argmin(np.abs(x[columns] - 2.0)))
    times = (spinup_steps + np.arange(snapshots) * interval + 1) / steps_per_unit
    scale = 0.5 * setup.inflow**2 * setup.diameter
    dataset = xr.Dataset(
        {
            "u": (("time", "y", "x"), fields["u"], {"long_name": "streamwise velocity", "units": "U"}),
            "v": (("time", "y", "x"), fields["v"], {"long_name": "transverse velocity", "units": "U"}),
            "p": (("time", "y", "x"), fields["p"], {"long_name": "pressure relative to the outlet", "units": "rho U^2"}),
            "c": (("time", "y", "x"), fields["c"], {"long_name": "passive scalar concentration", "units": "peak inflow concentration"}),
            "drag_coefficient": ("time", drag, {"long_name": "drag coefficient F_x / (rho U^2 D / 2)"}),
            "lift_coefficient": ("time", lift, {"long_name": "lift coefficient F_y / (rho U^2 D / 2)"}),
        },
        coords={
            "time": ("time", times, {"units": "D/U"}),
            "y": ("y", y[rows], {"units": "D", "long_name": "transverse distance from the cylinder's centre"}),
            "x": ("x", x[columns], {"units": "D", "long_name": "streamwise distance from the cylinder's centre"}),
        },
        attrs={
            "title": "2-D flow past a circular cylinder, lattice-Boltzmann D2Q9 (regularised BGK) with a D2Q5 passive scalar",
            "reynolds_number": setup.reynolds,
            "peclet_number": setup.peclet,
            "diameter_nodes": setup.diameter,
            "inflow_lattice_units": setup.inflow,
            "mach_number": mach_number(setup),
            "relaxation_time": setup.tau,
            "scalar_relaxation_time": setup.tau_scalar,
            **domain_attributes(setup),
            "blockage_ratio": setup.blockage,
            "scalar_inflow": f"c = exp(-(y / {setup.scalar_width} D)^2) at the inlet",
            "spinup": spinup_steps / steps_per_unit,
            "strouhal_number": strouhal_number(times, fields["v"][:, probe_row, probe_column]),
            "strouhal_probe": f"transverse velocity at x = {x[columns][probe_column]:g} D, y = {y[rows][probe_row]:g} D",
            "mean_drag_coefficient": drag_sum / max(drag_steps, 1) / scale,
            "lattice_steps": total,
            "node_updates": total * ny * nx,
            "seconds": seconds,
            "compiled": int(bool(compile)),
        },
    )
    logger.info(
        "cylinder wake at D = %d: %d steps in %.0f s (%.1f M node updates/s)",
        setup.diameter, total, seconds, total * ny * nx / seconds / 1e6,
    )
    return dataset


def domain_attributes(setup: CylinderSetup) -> dict[str, str | float]:
    """Return the attributes that describe the simulated domain, its sponge layer included.

    ``sponge_start`` is the streamwise distance of the sponge's start from the cylinder's centre,
    in D, on the same axis as the data set's ``x``.
    """
    sponge_start = setup.length - setup.upstream - setup.sponge
    domain = f"{setup.length:g} D long, {setup.height:g} D between periodic sides, cylinder {setup.upstream:g} D from the inlet"
    if setup.sponge > 0:
        domain += (
            f", and a sponge layer over the last {setup.sponge:g} D before the outlet (from x = {sponge_start:g} D) "
            f"that damps sound waves by relaxing the density towards 1, at a rate rising quadratically to "
            f"{setup.sponge_strength:g} per lattice time step at the outlet"
        )
    else:
        domain += ", with no sponge layer before the outlet"
    return {
        "domain": domain,
        "sponge_length": float(setup.sponge),
        "sponge_start": float(sponge_start),
        "sponge_strength": float(setup.sponge_strength),
    }


def strouhal_number(times: np.ndarray, signal: np.ndarray) -> float:
    """Return the frequency ``f D / U`` of a periodic signal from its upward mean crossings.

    ``times`` are in D/U; ``signal`` is a smooth quantity that oscillates once per shedding
    period (the lift, or the transverse velocity on the wake's axis). Returns NaN when the signal
    crosses its mean upwards fewer than twice (less than one full period, or no shedding).
    """
    signal = np.asarray(signal, dtype=float) - np.mean(signal)
    times = np.asarray(times)
    upward = np.flatnonzero((signal[:-1] < 0) & (signal[1:] >= 0))
    if len(upward) < 2:
        return math.nan
    # Linear interpolation between the samples on either side of each crossing.
    fraction = -signal[upward] / (signal[upward + 1] - signal[upward])
    crossings = times[upward] + fraction * (times[upward + 1] - times[upward])
    period = (crossings[-1] - crossings[0]) / (len(crossings) - 1)
    return float(1 / period)


def setup_of(dataset: xr.Dataset) -> dict:
    """Return the parameters a data set was made with (the ``parameters`` attribute, parsed)."""
    return json.loads(dataset.attrs["parameters"])


__all__ = ["wake_dataset", "simulate_wake", "strouhal_number", "cache_path", "WAKE_REGION"]
