"""Checkers for the exercises of the chapter on hidden fluid mechanics (flow from a passive scalar)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from ml4es.checks import CheckFailed, NotImplementedYet, as_float, as_tensor, assert_close, call, checker, is_stub
from ml4es.pinns import hidden_fluid as hf
from ml4es.pinns.probes import PROBE_BOUNDS, probe_points, random_network

PROBE_NUMBERS = (80.0, 130.0)
"""Reynolds and Péclet numbers unlike the wake's, so a reader's function that ignores its arguments fails."""


class AdvectedVortex(nn.Module):
    """A Taylor–Green vortex carried by a uniform stream, with a scalar carried by the stream only.

    Galilean invariance makes u = U + u_TG(xi, eta, t), v = V + v_TG(xi, eta, t),
    p = p_TG(xi, eta, t) with xi = x - U t, eta = y - V t an exact Navier–Stokes solution for
    viscosity 1/Re, where u_TG = -cos xi sin eta F, v_TG = sin xi cos eta F,
    p_TG = -(cos 2 xi + cos 2 eta) F^2 / 4 and F = exp(-2 t / Re). The scalar
    c = 1/2 + sin(k xi) cos(k eta) exp(-2 k^2 t / Pe) / 4 solves the transport equation in the
    uniform stream alone, so with the full velocity its residual e1 equals the vortex's part of
    the advection, u_TG c_x + v_TG c_y (see :meth:`transport_forcing`).
    """

    def __init__(self, reynolds: float = 100.0, peclet: float = 100.0, stream: tuple[float, float] = (1.0, 0.2), wavenumber: float = 1.5):
        super().__init__()
        self.reynolds = reynolds
        self.peclet = peclet
        self.stream = stream
        self.wavenumber = wavenumber

    def _vortex(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        xi = x - self.stream[0] * t
        eta = y - self.stream[1] * t
        decay = torch.exp(-2 * t / self.reynolds)
        u = -torch.cos(xi) * torch.sin(eta) * decay
        v = torch.sin(xi) * torch.cos(eta) * decay
        p = -0.25 * (torch.cos(2 * xi) + torch.cos(2 * eta)) * decay**2
        return u, v, p

    def forward(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return c, u, v and p at ``(t, x, y)``, each ``(n, 1)``."""
        k = self.wavenumber
        xi = x - self.stream[0] * t
        eta = y - self.stream[1] * t
        c = 0.5 + 0.25 * torch.sin(k * xi) * torch.cos(k * eta) * torch.exp(-2 * k**2 * t / self.peclet)
        u, v, p = self._vortex(t, x, y)
        return c, self.stream[0] + u, self.stream[1] + v, p

    def transport_forcing(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return e1 of the exact fields: the vortex's velocity times grad c, in closed form."""
        k = self.wavenumber
        xi = x - self.stream[0] * t
        eta = y - self.stream[1] * t
        amplitude = 0.25 * k * torch.exp(-2 * k**2 * t / self.peclet)
        c_x = amplitude * torch.cos(k * xi) * torch.cos(k * eta)
        c_y = -amplitude * torch.sin(k * xi) * torch.sin(k * eta)
        u, v, _ = self._vortex(t, x, y)
        return u * c_x + v * c_y


def probe_model() -> hf.HiddenFluidPINN:
    """Return a small random float64 network, the same on every call, leaving the global seed alone."""
    return random_network(lambda: hf.HiddenFluidPINN(PROBE_BOUNDS, width=12, depth=3, dtype=torch.float64), seed=2468)


def probe_derivatives(model: nn.Module | None = None, keep_graph: bool = False) -> dict[str, torch.Tensor]:
    """Return the derivatives of ``model`` (the probe network by default) at the probe points.

    With ``keep_graph`` the values stay attached to the model's weights; otherwise they are detached.
    """
    model = model or probe_model()
    d = hf.autograd_derivatives(model, *probe_points())
    return d if keep_graph else {name: value.detach() for name, value in d.items()}


def _column(result: Any, name: str, n: int) -> torch.Tensor:
    if is_stub(result):
        raise NotImplementedYet
    if isinstance(result, (tuple, list)):
        raise CheckFailed(f"`{name}` should return one tensor of shape ({n}, 1), but it returned a {type(result).__name__} of {len(result)} items.")
    return as_tensor(result, name, shape=(n, 1))


def _copies(d: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Return a dict of copies of ``d``'s tensors, so that in-place operations in the reader's function leave ``d`` alone."""
    return {name: value.clone() for name, value in d.items()}


def _transport_term_scale(d: Mapping[str, torch.Tensor], peclet: float) -> float:
    """Return the largest magnitude of the four terms of e1: c_t, u c_x, v c_y and (c_xx + c_yy) / Pe."""
    terms = (d["c_t"], d["u"] * d["c_x"], d["v"] * d["c_y"], (d["c_xx"] + d["c_yy"]) / peclet)
    return max(float(term.abs().max()) for term in terms)


def _machine_epsilon(result: Any) -> float:
    """Return the machine epsilon of ``result``'s floating-point dtype, or float64's for other results."""
    dtype = getattr(result, "dtype", None)
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return torch.finfo(dtype).eps
    if isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.floating):
        return float(np.finfo(dtype).eps)
    return float(np.finfo(np.float64).eps)


def _absolute_tolerance(result: Any, scale: float) -> float:
    """Return the absolute tolerance for a result computed in ``result``'s floating-point precision.

    A float64 result must match to 1e-9. A float32 result can only match to a small multiple of
    its machine epsilon times ``scale``, the largest of the terms that were added up.
    """
    epsilon = _machine_epsilon(result)
    if epsilon <= np.finfo(np.float64).eps:
        return 1e-9
    return max(1e-9, 20 * epsilon * scale)


# --- Exercise 1: the transport residual ----------------------------------------------------------


@checker("Exercise 1 (transport residual e1)")
def check_transport_residual(transport_residual: Any) -> str:
    """Compare ``transport_residual(d, peclet)`` with the reference on a random network and an exact flow."""
    d = probe_derivatives()
    n = d["c"].shape[0]
    _, peclet = PROBE_NUMBERS
    result = call(transport_residual, _copies(d), peclet, name="transport_residual")
    e1 = _column(result, "transport_residual(d, peclet)", n)
    if _machine_epsilon(result) > torch.finfo(torch.float32).eps:
        raise CheckFailed(
            f"e1 has dtype {result.dtype}, whose precision is too coarse to show the diffusion term: compute it in float32 or float64."
        )
    atol = _absolute_tolerance(result, _transport_term_scale(d, peclet))

    advection = d["u"] * d["c_x"] + d["v"] * d["c_y"]
    diffusion = (d["c_xx"] + d["c_yy"]) / peclet
    mistakes = [
        (d["c_t"] + advection + diffusion, "the diffusion term has the wrong sign: e1 = c_t + u c_x + v c_y - (c_xx + c_yy) / Pe."),
        (d["c_t"] + advection - peclet * (d["c_xx"] + d["c_yy"]), "the diffusivity is 1/Pe: divide the Laplacian by Pe instead of multiplying."),
        (d["c_t"] + advection - (d["c_xx"] + d["c_yy"]) / 100.0, "you used Pe = 100 instead of the `peclet` argument."),
        (d["c_t"] + advection, "the diffusion term -(c_xx + c_yy) / Pe is missing."),
        (d["c_t"] + d["u"] * d["c_y"] + d["v"] * d["c_x"] - diffusion, "u multiplies c_x and v multiplies c_y, not the other way round."),
        (d["c_t"] + d["c_x"] + d["c_y"] - diffusion, "the advection term needs the velocity: u c_x + v c_y."),
        (advection - diffusion, "the time derivative c_t is missing: e1 = c_t + u c_x + v c_y - (c_xx + c_yy) / Pe."),
        (d["c_t"] + d["v"] * d["c_y"] - diffusion, "the term u c_x is missing: e1 = c_t + u c_x + v c_y - (c_xx + c_yy) / Pe."),
        (d["c_t"] + d["u"] * d["c_x"] - diffusion, "the term v c_y is missing: e1 = c_t + u c_x + v c_y - (c_xx + c_yy) / Pe."),
    ]
    for candidate, hint in mistakes:
        if torch.allclose(e1, candidate, rtol=1e-6, atol=atol):
            raise CheckFailed(hint)
    error = assert_close(e1, hf.transport_residual(d, peclet), "e1", rtol=1e-6, atol=atol)

    flow = AdvectedVortex(peclet=peclet)
    exact = probe_derivatives(flow)
    forcing = flow.transport_forcing(*probe_points())
    result_exact = call(transport_residual, _copies(exact), peclet, name="transport_residual")
    e1_exact = _column(result_exact, "transport_residual on the exact flow", n)
    largest = float((e1_exact - forcing).abs().max())
    if largest > _absolute_tolerance(result_exact, _transport_term_scale(exact, peclet)):
        raise CheckFailed(
            f"on an exact flow (a vortex in a uniform stream) your e1 differs from the known value by up to {largest:.3g}."
        )
    return f"e1 matches the reference to {error:.1e} and is right on an exact flow ({largest:.1e})."


# --- Exercise 2: the loss --------------------------------------------------------------------------


def _probe_observations(d: Mapping[str, torch.Tensor], seed: int = 11) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (d["c"].detach() + 0.1 * torch.randn(d["c"].shape, generator=generator, dtype=torch.float64)).clone()


def reference_loss(d: Mapping[str, torch.Tensor], c_observed: torch.Tensor, reynolds: float, peclet: float) -> torch.Tensor:
    """Return mean((c - c_obs)^2) + mean(e1^2 + e2^2 + e3^2 + e4^2) for one set of points."""
    e1, e2, e3, e4 = hf.residuals(d, reynolds, peclet)
    return ((d["c"] - c_observed) ** 2).mean() + (e1**2 + e2**2 + e3**2 + e4**2).mean()


@checker("Exercise 2 (the loss)")
def check_loss(hfm_loss: Any) -> str:
    """Compare ``hfm_loss(d, c_observed, reynolds, peclet)`` with the reference and check it can be trained."""
    model = probe_model()
    d = probe_derivatives(model, keep_graph=True)
    c_observed = _probe_observations(d)
    reynolds, peclet = PROBE_NUMBERS
    result = call(hfm_loss, _copies(d), c_observed.clone(), reynolds, peclet, name="hfm_loss")
    if isinstance(result, (tuple, list, dict)):
        raise CheckFailed(f"`hfm_loss` should return one number (a 0-d tensor), but it returned a {type(result).__name__}.")
    value = as_float(result, "hfm_loss(d, c_observed, reynolds, peclet)")

    detached = {name: item.detach() for name, item in d.items()}
    expected = float(reference_loss(detached, c_observed, reynolds, peclet))
    e1, e2, e3, e4 = hf.residuals(detached, reynolds, peclet)
    data = float(((detached["c"] - c_observed) ** 2).mean())
    pde_mean = float((e1**2 + e2**2 + e3**2 + e4**2).mean())
    n = detached["c"].shape[0]
    mistakes = [
        (data, "that is only the data misfit: add the mean squared residuals of the four equations."),
        (pde_mean, "that is only the residual term: add the data misfit mean((c - c_obs)^2)."),
        (data + float((e1**2 + e2**2 + e3**2).mean()), "the continuity residual e4 = u_x + v_y is missing."),
        (data + float((e2**2 + e3**2 + e4**2).mean()), "the transport residual e1 is missing: it is the only term that links c to the velocity."),
        (n * data + n * pde_mean, "take means over the points, not sums."),
        (math.sqrt(data) + math.sqrt(pde_mean), "square the misfits and residuals and average them, without a square root."),
        (data + float((e1 + e2 + e3 + e4).pow(2).mean()), "square each residual separately: e1^2 + e2^2 + e3^2 + e4^2, not (e1 + e2 + e3 + e4)^2."),
        (data + float((e1.abs() + e2.abs() + e3.abs() + e4.abs()).mean()), "square the residuals instead of taking their absolute values."),
        (float(reference_loss(detached, c_observed, 100.0, 100.0)), "you used Re = Pe = 100 instead of the `reynolds` and `peclet` arguments."),
        (
            float(reference_loss(detached, c_observed, peclet, reynolds)),
            "Re and Pe are swapped: the momentum equations e2 and e3 divide the Laplacian by Re, "
            "the transport equation e1 divides it by Pe.",
        ),
        (
            10 * data + pde_mean,
            "you weighted the data misfit by w = 10: this exercise asks for w = 1, "
            "mean((c - c_obs)^2) + mean(e1^2 + e2^2 + e3^2 + e4^2). The training later in the chapter uses w = 10.",
        ),
    ]
    for candidate, hint in mistakes:
        if math.isclose(value, candidate, rel_tol=1e-6) and not math.isclose(value, expected, rel_tol=1e-6):
            raise CheckFailed(hint)
    if math.isclose(value, expected, rel_tol=1e-2) and not math.isclose(value, expected, rel_tol=1e-6):
        # The 1/Re and 1/Pe terms are small: on the probe network, a wrong sign, a missing term
        # or swapped numbers there change the loss by 0.02% to 0.2%.
        raise CheckFailed(
            f"close: the loss is {value:.6g}, expected {expected:.6g}, a difference of "
            f"{100 * abs(value - expected) / expected:.2g}%. Check the 1/Re and 1/Pe terms of each residual."
        )
    if not math.isclose(value, expected, rel_tol=1e-6):
        raise CheckFailed(f"the loss is {value:.6g}, expected {expected:.6g} (of which the data misfit is {data:.3g}).")

    if not isinstance(result, torch.Tensor) or not result.requires_grad:
        raise CheckFailed(
            "the value is right, but it is not a tensor attached to the network's weights, so the optimiser "
            "could not train on it: keep it a torch tensor (no .item(), float() or NumPy)."
        )
    return f"The loss is {value:.4g}; the data misfit is {data:.3g} of it."


# --- Exercise 3: where to observe c ---------------------------------------------------------------


def _outside(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Return a mask of the ``values`` outside ``[low, high]``."""
    # float32 coordinates round the window's edges by up to about 1e-7 relative.
    tolerance = 1e-6 * max(1.0, abs(low), abs(high))
    return (values < low - tolerance) | (values > high + tolerance)


def _as_samples(result: Any, n: int) -> dict[str, np.ndarray]:
    if is_stub(result):
        raise NotImplementedYet
    if isinstance(result, hf.Observations):
        result = (result.t, result.x, result.y, result.c)
    if not isinstance(result, (tuple, list)) or len(result) != 4:
        raise CheckFailed(
            f"`choose_samples` should return four arrays (t, x, y, c) or an Observations, but it returned {type(result).__name__}."
        )
    if any(is_stub(item) for item in result):
        raise NotImplementedYet
    columns = {}
    for name, item in zip(("t", "x", "y", "c"), result):
        columns[name] = as_tensor(item, f"{name} from choose_samples", shape=(n, 1)).numpy().ravel()
    return columns


@checker("Exercise 3 (where to observe c)")
def check_samples(choose_samples: Any, dataset: xr.Dataset, n: int = 2_000) -> str:
    """Check that ``choose_samples(dataset, n)`` returns ``n`` points inside the window with the data's c there.

    The points may lie on the grid or between grid points; c must match the data linearly
    interpolated there to 2e-3. Any region is accepted: the verdict reports what it covers.
    """
    samples = _as_samples(call(choose_samples, dataset, n, name="choose_samples"), n)
    bounds = hf.domain_bounds(dataset)
    outside = {name: _outside(samples[name], *bounds[name]) for name in ("t", "x", "y")}
    in_window = not (outside["x"].any() or outside["y"].any())
    in_swapped_window = not (_outside(samples["x"], *bounds["y"]).any() or _outside(samples["y"], *bounds["x"]).any())
    if in_swapped_window and not in_window:
        raise CheckFailed(
            f"x and y look swapped: your x values lie within y's range {bounds['y'][0]:g}..{bounds['y'][1]:g} and your "
            f"y values within x's range {bounds['x'][0]:g}..{bounds['x'][1]:g}. Return (t, x, y, c) in that order."
        )
    for name in ("t", "x", "y"):
        low, high = bounds[name]
        if outside[name].any():
            index = int(np.flatnonzero(outside[name])[0])
            raise CheckFailed(
                f"{int(outside[name].sum())} of the points lie outside the window in {name}, such as {name} = "
                f"{samples[name][index]:.4g} (sample {index}); expected {low:g} <= {name} <= {high:g}."
            )

        samples[name] = np.clip(samples[name], low, high)

    points = {
        "time": xr.DataArray(samples["t"], dims="sample"),
        "y": xr.DataArray(samples["y"], dims="sample"),
        "x": xr.DataArray(samples["x"], dims="sample"),
    }
    expected = dataset["c"].astype(np.float64).interp(points).values
    difference = np.abs(samples["c"] - expected)
    if difference.max() > 2e-3:
        index = int(np.argmax(difference))
        swapped = dataset["c"].astype(np.float64).interp(
            time=points["time"], y=xr.DataArray(np.clip(samples["x"], *bounds["y"]), dims="sample"),
            x=xr.DataArray(np.clip(samples["y"], *bounds["x"]), dims="sample"),
        ).values
        hint = " The values look like c at (y, x) swapped: the array's axes are (time, y, x)." if np.abs(samples["c"] - swapped).max() < 2e-3 else ""
        raise CheckFailed(
            f"c at sample {index} (t = {samples['t'][index]:.4g}, x = {samples['x'][index]:.4g}, y = {samples['y'][index]:.4g}) "
            f"is {samples['c'][index]:.4g}, but the data give {expected[index]:.4g} there.{hint}"
        )

    distinct = len({(a, b, c) for a, b, c in zip(samples["t"], samples["x"], samples["y"])})
    if distinct < n / 2:
        raise CheckFailed(f"only {distinct} of the {n} points are distinct: draw points without replacement.")
    in_dye = float((samples["c"] > 0.05).mean())
    span = {name: (float(samples[name].min()), float(samples[name].max())) for name in ("t", "x", "y")}
    return (
        f"{n} points ({distinct} distinct) span t {span['t'][0]:.1f}..{span['t'][1]:.1f}, x {span['x'][0]:.2f}..{span['x'][1]:.2f}, "
        f"y {span['y'][0]:.2f}..{span['y'][1]:.2f}; {100 * in_dye:.0f}% of them have c > 0.05."
    )


# --- Exercise 4: where the velocity error concentrates -------------------------------------------


def probe_fields(seed: int = 5) -> tuple[xr.Dataset, xr.Dataset]:
    """Return a small reference data set of u, v and a prediction whose error varies in space and time."""
    generator = np.random.default_rng(seed)
    shape = (5, 4, 6)
    coords = {"time": np.arange(5.0), "y": np.linspace(-1.0, 1.0, 4), "x": np.linspace(1.0, 3.5, 6)}
    dims = ("time", "y", "x")
    reference = xr.Dataset({name: (dims, generator.standard_normal(shape)) for name in ("u", "v")}, coords=coords)
    ramp = np.linspace(0.0, 1.0, 6).reshape(1, 1, -1)
    predicted = xr.Dataset(
        {name: (dims, reference[name].values + ramp * generator.standard_normal(shape)) for name in ("u", "v")}, coords=coords
    )
    return predicted, reference


@checker("Exercise 4 (map of the velocity error)")
def check_error_map(error_map: Any) -> str:
    """Compare ``error_map(predicted, reference)`` with the RMS over time of the velocity error's magnitude."""
    predicted, reference = probe_fields()
    result = call(error_map, predicted.copy(), reference.copy(), name="error_map")
    shape = (reference.sizes["y"], reference.sizes["x"])
    values = as_tensor(result, "error_map(predicted, reference)")
    if tuple(values.shape) == tuple(reference["u"].shape):
        raise CheckFailed(f"the map has shape {tuple(values.shape)}, with a time axis: average over time to get one map of shape {shape} (y, x).")
    if tuple(values.shape) == shape[::-1]:
        raise CheckFailed(f"the map's axes are out of order: it has shape {tuple(values.shape)} (x, y), expected {shape} (y, x).")
    values = as_tensor(result, "error_map(predicted, reference)", shape=shape).numpy()

    du = (predicted["u"] - reference["u"]).values
    dv = (predicted["v"] - reference["v"]).values
    expected = np.sqrt((du**2 + dv**2).mean(axis=0))
    mistakes = [
        ((du**2 + dv**2).mean(axis=0), "that is the mean squared error: take the square root."),
        (np.sqrt((du**2).mean(axis=0)), "that is the error of u alone: include v, sqrt(mean((u - u_ref)^2 + (v - v_ref)^2))."),
        (np.sqrt(du**2 + dv**2).mean(axis=0), "that is the mean of the error's magnitude: take the root of the mean of its square."),
        (np.abs(du + dv).mean(axis=0), "combine u and v as a vector magnitude: sqrt(du^2 + dv^2)."),
    ]
    for candidate, hint in mistakes:
        if np.allclose(values, candidate, rtol=1e-6, atol=1e-9) and not np.allclose(values, expected, rtol=1e-6, atol=1e-9):
            raise CheckFailed(hint)
    if np.allclose(values, expected[::-1], rtol=1e-6, atol=1e-9) or np.allclose(values, expected[:, ::-1], rtol=1e-6, atol=1e-9):
        raise CheckFailed(f"the map is flipped: expected (y, x) with y and x increasing, shape {shape}.")
    difference = float(np.abs(values - expected).max())
    if difference > 1e-6 * max(1.0, float(np.abs(expected).max())):
        raise CheckFailed(
            f"the map differs from the RMS over time of the velocity error's magnitude by up to {difference:.3g} "
            f"(values up to {float(expected.max()):.3g})."
        )
    return f"The map has shape {shape} and matches the reference to {difference:.1e}."


__all__ = [
    "AdvectedVortex",
    "check_error_map",
    "check_loss",
    "check_samples",
    "check_transport_residual",
    "probe_fields",
    "probe_model",
    "reference_loss",
]
