"""Checks that gridded flow snapshots obey the incompressible Navier–Stokes equations.

The derivatives are fourth-order central finite differences in t, y and x, evaluated on the nodes
at least two nodes (and two snapshots) away from the edges of the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr


def central_difference(values: np.ndarray, spacing: float, axis: int, order: int = 1) -> np.ndarray:
    """Fourth-order central difference of ``values`` along ``axis``, trimmed by 2 at each end.

    ``order`` is 1 (first derivative) or 2 (second derivative). The result is shorter than
    ``values`` by 4 along ``axis``.
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    n = values.shape[axis]
    if n < 5:
        raise ValueError(f"need at least 5 points along axis {axis} for a fourth-order stencil, got {n}")

    def shifted(offset: int) -> np.ndarray:
        return np.take(values, np.arange(2 + offset, n - 2 + offset), axis=axis)

    if order == 1:
        return (-shifted(2) + 8 * shifted(1) - 8 * shifted(-1) + shifted(-2)) / (12 * spacing)
    return (-shifted(2) + 16 * shifted(1) - 30 * shifted(0) + 16 * shifted(-1) - shifted(-2)) / (12 * spacing**2)


def _interior(values: np.ndarray, trim: tuple[int, int, int]) -> np.ndarray:
    """Drop ``trim[k]`` entries at each end of axis k of a ``(time, y, x)`` array."""
    slices = tuple(slice(t, values.shape[k] - t) for k, t in enumerate(trim))
    return values[slices]


def _spacing(coordinate: np.ndarray, name: str) -> float:
    steps = np.diff(coordinate)
    if len(steps) == 0 or not np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9):
        raise ValueError(f"coordinate {name} must be evenly spaced with at least 2 points")
    return float(steps[0])


@dataclass(frozen=True)
class NavierStokesFit:
    """Coefficients of u_t + lambda1 (u . grad) u = -grad p + lambda2 laplacian(u), by least squares.

    ``residual`` is the root-mean-square residual of the fitted equations divided by the
    root-mean-square of u_t + grad p.
    """

    lambda1: float
    lambda2: float
    residual: float
    points: int


def fit_navier_stokes(dataset: xr.Dataset) -> NavierStokesFit:
    """Fit lambda1 and lambda2 to the finite-difference derivatives of u, v and p.

    ``dataset`` contains u, v, p of shape ``(time, y, x)`` on evenly spaced coordinates, in units
    where the density is 1 (for the cylinder wake: D, U and D/U, so lambda2 should be 1/Re).
    The u and v equations are stacked into one least-squares problem.
    """
    dt = _spacing(dataset["time"].values, "time")
    dy = _spacing(dataset["y"].values, "y")
    dx = _spacing(dataset["x"].values, "x")
    u = dataset["u"].transpose("time", "y", "x").values.astype(np.float64)
    v = dataset["v"].transpose("time", "y", "x").values.astype(np.float64)
    p = dataset["p"].transpose("time", "y", "x").values.astype(np.float64)

    targets, advection, diffusion = [], [], []
    for velocity in (u, v):
        d_t = _interior(central_difference(velocity, dt, axis=0), (0, 2, 2))
        d_x = _interior(central_difference(velocity, dx, axis=2), (2, 2, 0))
        d_y = _interior(central_difference(velocity, dy, axis=1), (2, 0, 2))
        laplacian = _interior(central_difference(velocity, dx, axis=2, order=2), (2, 2, 0)) + _interior(
            central_difference(velocity, dy, axis=1, order=2), (2, 0, 2)
        )
        pressure_axis = 2 if velocity is u else 1
        pressure_gradient = central_difference(p, dx if velocity is u else dy, axis=pressure_axis)
        pressure_gradient = _interior(pressure_gradient, (2, 2, 0) if velocity is u else (2, 0, 2))
        centre_u = _interior(u, (2, 2, 2))
        centre_v = _interior(v, (2, 2, 2))
        targets.append((d_t + pressure_gradient).ravel())
        advection.append((-(centre_u * d_x + centre_v * d_y)).ravel())
        diffusion.append(laplacian.ravel())

    target = np.concatenate(targets)
    design = np.stack([np.concatenate(advection), np.concatenate(diffusion)], axis=1)
    (lambda1, lambda2), *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = np.sqrt(np.mean((design @ np.array([lambda1, lambda2]) - target) ** 2) / np.mean(target**2))
    return NavierStokesFit(float(lambda1), float(lambda2), float(residual), len(target))


def relative_divergence(dataset: xr.Dataset) -> float:
    """Return rms(u_x + v_y) / rms(u_x): the divergence relative to a typical velocity gradient."""
    dy = _spacing(dataset["y"].values, "y")
    dx = _spacing(dataset["x"].values, "x")
    u = dataset["u"].transpose("time", "y", "x").values.astype(np.float64)
    v = dataset["v"].transpose("time", "y", "x").values.astype(np.float64)
    u_x = _interior(central_difference(u, dx, axis=2), (0, 2, 0))
    v_y = _interior(central_difference(v, dy, axis=1), (0, 0, 2))
    return float(np.sqrt(np.mean((u_x + v_y) ** 2) / np.mean(u_x**2)))


def vorticity(dataset: xr.Dataset) -> xr.DataArray:
    """Return the vorticity v_x - u_y (units U/D) on the interior nodes, shape ``(time, y, x)``.

    Second-order central differences, so only one node is lost at each edge.
    """
    u = dataset["u"].transpose("time", "y", "x")
    v = dataset["v"].transpose("time", "y", "x")
    omega = v.differentiate("x") - u.differentiate("y")
    omega = omega.isel(x=slice(1, -1), y=slice(1, -1))
    omega.attrs = {"long_name": "vorticity", "units": "U/D"}
    return omega.rename("vorticity")
