"""Checkers for the exercises of the chapter on discovering the Navier–Stokes equations."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from ml4es.checks import CheckFailed, NotImplementedYet, as_tensor, assert_close, call, checker, is_stub
from ml4es.pinns import navier_stokes as ns
from ml4es.pinns.probes import PROBE_BOUNDS, probe_points, random_network

PROBE_LAMBDAS = (0.93, 0.013)
"""lambda1 and lambda2 unlike the true ones, so an answer that ignores its arguments fails."""


class TaylorGreenVortex(nn.Module):
    """The decaying Taylor–Green vortex: an exact Navier–Stokes solution with lambda1 = 1, lambda2 = nu.

    psi = cos(x) cos(y) exp(-2 nu t), so u = -cos(x) sin(y) exp(-2 nu t),
    v = sin(x) cos(y) exp(-2 nu t) and p = -(cos 2x + cos 2y) exp(-4 nu t) / 4.
    """

    def __init__(self, viscosity: float = 0.01):
        super().__init__()
        self.viscosity = viscosity

    def forward(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        decay = torch.exp(-2 * self.viscosity * t)
        psi = torch.cos(x) * torch.cos(y) * decay
        p = -0.25 * (torch.cos(2 * x) + torch.cos(2 * y)) * decay**2
        return psi, p


def probe_model() -> ns.NavierStokesPINN:
    """Return a small random float64 network, the same on every call, leaving the global seed alone."""
    return random_network(lambda: ns.NavierStokesPINN(PROBE_BOUNDS, width=12, depth=3, dtype=torch.float64), seed=4321)


def probe_derivatives(model: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """Return the derivatives of ``model`` (the probe network by default) at the probe points, detached."""
    model = model or probe_model()
    t, x, y = probe_points()
    return {name: value.detach() for name, value in ns.autograd_derivatives(model, t, x, y).items()}


def _pair(answer: Any, name: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Convert an answer that should be two ``(n, 1)`` tensors into two float64 tensors."""
    if is_stub(answer):
        raise NotImplementedYet
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        kind = type(answer).__name__
        raise CheckFailed(f"`{name}` should return two tensors (a tuple), but it returned {kind}.")
    if any(is_stub(item) for item in answer):
        raise NotImplementedYet
    first = as_tensor(answer[0], f"the first value of {name}", shape=(n, 1))
    second = as_tensor(answer[1], f"the second value of {name}", shape=(n, 1))
    return first, second


# --- Exercise 2: the residuals f and g ----------------------------------------------------------


@checker("Exercise 2 (residuals f and g)")
def check_residuals(residuals: Any) -> str:
    """Compare ``residuals(d, lambda1, lambda2)`` with the reference on a random network and the vortex."""
    d = probe_derivatives()
    n = d["psi"].shape[0]
    lambda1, lambda2 = PROBE_LAMBDAS
    # Copies, so that an answer that changes the tensors in place cannot change the reference below.
    answer = call(residuals, {key: value.clone() for key, value in d.items()}, lambda1, lambda2, name="residuals")
    f, g = _pair(answer, "residuals(d, lambda1, lambda2)", n)

    expected_f, expected_g = ns.residuals(d, lambda1, lambda2)
    _diagnose_residuals(f, g, d)
    error_f = assert_close(f, expected_f, "f", rtol=1e-6, atol=1e-9)
    error_g = assert_close(g, expected_g, "g", rtol=1e-6, atol=1e-9)

    viscosity = 0.01
    exact = probe_derivatives(TaylorGreenVortex(viscosity))
    f_exact, g_exact = _pair(call(residuals, dict(exact), 1.0, viscosity, name="residuals"), "residuals of the vortex", n)
    largest = float(torch.cat([f_exact, g_exact]).abs().max())
    if largest > 1e-9:
        raise CheckFailed(
            f"on the Taylor–Green vortex, an exact solution with lambda1 = 1 and lambda2 = {viscosity}, "
            f"the residuals should vanish, but yours reach {largest:.3g}."
        )
    return f"f and g match to {max(error_f, error_g):.1e}, and they vanish on the Taylor–Green vortex ({largest:.1e})."


def _diagnose_residuals(f: torch.Tensor, g: torch.Tensor, d: dict[str, torch.Tensor]) -> None:
    """Raise a specific hint when ``f`` or ``g`` matches a common mistake."""
    lambda1, lambda2 = PROBE_LAMBDAS
    u, v = d["psi_y"], -d["psi_x"]
    u_t, u_x, u_y = d["psi_ty"], d["psi_xy"], d["psi_yy"]
    v_t, v_x, v_y = -d["psi_tx"], -d["psi_xx"], -d["psi_xy"]
    laplacian_u = d["psi_xxy"] + d["psi_yyy"]
    laplacian_v = -(d["psi_xxx"] + d["psi_xyy"])
    mistakes_f = [
        (u_t + lambda1 * (u * u_x + v * u_y) - d["p_x"] - lambda2 * laplacian_u, "the pressure term of f has the wrong sign: the equation has -p_x on the right, so f contains +p_x."),
        (u_t + lambda1 * (u * u_x + v * u_y) + d["p_x"] + lambda2 * laplacian_u, "the viscous term of f has the wrong sign: f = u_t + lambda1 (u u_x + v u_y) + p_x - lambda2 (u_xx + u_yy)."),
        (u_t + (u * u_x + v * u_y) + d["p_x"] - lambda2 * laplacian_u, "the advection term of f is missing the factor lambda1."),
        (u_t + lambda1 * (u * u_x + v * u_y) + d["p_x"] - laplacian_u, "the viscous term of f is missing the factor lambda2."),
        (u_t + lambda1 * (u * u_x + v * u_y) + d["p_x"] - 0.01 * laplacian_u, "you used lambda2 = 1/Re instead of the `lambda2` argument."),
        (d["psi_tx"] + lambda1 * (u * u_x + v * u_y) + d["p_x"] - lambda2 * laplacian_u, "u_t is psi_ty (u = psi_y), not psi_tx."),
    ]
    mistakes_g = [
        (v_t + lambda1 * (u * v_x + v * v_y) - d["p_y"] - lambda2 * laplacian_v, "the pressure term of g has the wrong sign: g contains +p_y."),
        (-v_t + lambda1 * (u * v_x + v * v_y) + d["p_y"] - lambda2 * laplacian_v, "v_t has the wrong sign: v = -psi_x, so v_t = -psi_tx."),
        (v_t + lambda1 * (u * v_x + v * v_y) + d["p_y"] + lambda2 * laplacian_v, "the Laplacian of v has the wrong sign: v = -psi_x, so v_xx + v_yy = -(psi_xxx + psi_xyy)."),
        (v_t + lambda1 * (u * v_x + v * v_y) + d["p_x"] - lambda2 * laplacian_v, "g needs the pressure gradient in y, p_y, not p_x."),
    ]
    for values, mistakes in ((f, mistakes_f), (g, mistakes_g)):
        for candidate, hint in mistakes:
            if torch.allclose(values, candidate.double(), rtol=1e-6, atol=1e-9):
                raise CheckFailed(hint)


# --- Exercise 1: velocities from the stream function ----------------------------------------------


@checker("Exercise 1 (velocities from the stream function)")
def check_velocities(velocities: Any) -> str:
    """Compare ``velocities(model, t, x, y)`` with u = psi_y, v = -psi_x on a random network."""
    model = probe_model()
    t, x, y = probe_points()
    n = t.shape[0]
    answer = _call_velocities(velocities, model, t, x, y)
    u, v = _pair(answer, "velocities(model, t, x, y)", n)

    d = probe_derivatives(model)
    mistakes = [
        ((d["psi_x"], -d["psi_y"]), "u and v are swapped: u = psi_y and v = -psi_x."),
        ((-d["psi_y"], d["psi_x"]), "both signs are wrong: u = +psi_y and v = -psi_x."),
        ((d["psi_y"], d["psi_x"]), "v has the wrong sign: v = -psi_x."),
        ((d["psi_x"], d["psi_y"]), "u = psi_y and v = -psi_x: differentiate psi with respect to y for u and to x for v."),
        ((-d["psi_x"], d["psi_y"]), "u and v are right but returned in the wrong order: return (u, v), with u = psi_y first."),
    ]
    for (candidate_u, candidate_v), hint in mistakes:
        if torch.allclose(u, candidate_u, rtol=1e-6, atol=1e-9) and torch.allclose(v, candidate_v, rtol=1e-6, atol=1e-9):
            raise CheckFailed(hint)
    error = max(
        assert_close(u, d["psi_y"], "u", rtol=1e-6, atol=1e-9),
        assert_close(v, -d["psi_x"], "v", rtol=1e-6, atol=1e-9),
    )
    _check_velocity_graph(answer, model, t, x, y)

    # Continuity holds whatever the network: u_x + v_y = psi_yx - psi_xy = 0.
    vortex_u, vortex_v = _pair(_call_velocities(velocities, TaylorGreenVortex(), t, x, y), "velocities of the vortex", n)
    decay = torch.exp(-0.02 * t)
    assert_close(vortex_u, -torch.cos(x) * torch.sin(y) * decay, "u of the Taylor–Green vortex", rtol=1e-6, atol=1e-9)
    assert_close(vortex_v, torch.sin(x) * torch.cos(y) * decay, "v of the Taylor–Green vortex", rtol=1e-6, atol=1e-9)
    return f"u and v match psi_y and -psi_x to {error:.1e}, and the Taylor–Green vortex's velocities are right."


def _call_velocities(velocities: Any, model: nn.Module, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> Any:
    """Call ``velocities`` on copies of the points, with a hint when autograd finds no graph to x or y."""
    try:
        return call(velocities, model, t.clone(), x.clone(), y.clone(), name="velocities")
    except CheckFailed as failure:
        error = failure.__cause__
        if isinstance(error, RuntimeError) and "does not require grad" in str(error):
            raise CheckFailed(
                f"{failure}. Autograd can differentiate psi with respect to x and y only if they require "
                "gradients: write `x = x.clone().requires_grad_(True)`, and the same for y, before calling the model."
            ) from error
        raise


def _check_velocity_graph(answer: Any, model: nn.Module, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> None:
    """Check that u and v can be differentiated again, here with respect to the network's weights.

    Without ``create_graph=True``, ``torch.autograd.grad`` returns tensors with no graph: their
    values are right, but a further derivative of them (u_x, or the gradient of a loss with
    respect to the weights) fails.
    """
    hint = (
        "pass `create_graph=True` to `torch.autograd.grad` and do not detach the results, so that "
        "u and v can be differentiated again, as the residuals and the training loss need."
    )
    u, v = answer
    if not all(isinstance(value, torch.Tensor) for value in (u, v)):
        kinds = " and ".join(sorted({type(value).__name__ for value in (u, v)}))
        raise CheckFailed(
            f"u and v have the right values, but your function returns {kinds}, not tensors: return the "
            "tensors that `torch.autograd.grad` gives, so that they can be differentiated again."
        )
    if not (u.requires_grad and v.requires_grad):
        raise CheckFailed(
            f"u and v have the right values, but they carry no graph, so a second derivative of them fails: {hint}"
        )

    parameters = list(model.parameters())
    try:
        gradients = torch.autograd.grad((u.pow(2) + v.pow(2)).sum(), parameters, allow_unused=True)
    except RuntimeError as error:
        raise CheckFailed(
            f"u and v have the right values, but differentiating them with respect to the weights failed "
            f"({error.args[0].split('.')[0]}): {hint}"
        ) from error
    d = ns.autograd_derivatives(model, t, x, y, names=ns.VELOCITY_DERIVATIVES)
    expected = torch.autograd.grad((d["psi_x"].pow(2) + d["psi_y"].pow(2)).sum(), parameters, allow_unused=True)
    for parameter, got, want in zip(parameters, gradients, expected):
        # The output bias does not enter a derivative of psi, so its gradient is None (unused).
        got = torch.zeros_like(parameter) if got is None else got.to(parameter.dtype)
        want = torch.zeros_like(parameter) if want is None else want
        if not torch.allclose(got, want, rtol=1e-5, atol=1e-8):
            raise CheckFailed(
                "u and v have the right values, but their gradient with respect to the network's weights is "
                f"wrong, so they are not connected to the network as they should be: {hint}"
            )


# --- Exercise 3: the pressure error with the mean removed -----------------------------------------


def _pressure_fields(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Return a reference pressure ``(time, y, x)`` and a prediction with a different offset per snapshot."""
    generator = np.random.default_rng(seed)
    reference = generator.standard_normal((4, 5, 6)) * 0.2
    offsets = np.array([0.3, -0.5, 1.1, 0.05]).reshape(-1, 1, 1)
    predicted = reference + offsets + 0.01 * generator.standard_normal(reference.shape)
    return predicted, reference


def _reference_pressure_error(predicted: np.ndarray, reference: np.ndarray) -> float:
    predicted = predicted - predicted.mean(axis=(1, 2), keepdims=True)
    reference = reference - reference.mean(axis=(1, 2), keepdims=True)
    return float(np.linalg.norm(predicted - reference) / np.linalg.norm(reference))


def _mean_per_snapshot_error(predicted: np.ndarray, reference: np.ndarray) -> float:
    """Return the mean over snapshots of each snapshot's relative error, a common mistake."""
    predicted = predicted - predicted.mean(axis=(1, 2), keepdims=True)
    reference = reference - reference.mean(axis=(1, 2), keepdims=True)
    errors = np.linalg.norm(predicted - reference, axis=(1, 2)) / np.linalg.norm(reference, axis=(1, 2))
    return float(errors.mean())


# A DataArray keeps the size-1 axes of `keepdims=True` under the same dim names, and xarray does not
# broadcast a size-1 dim against a longer one of the same name, so one `mean` call cannot serve both.
BOTH_KINDS_HINT = (
    "Your function must accept both NumPy arrays and DataArrays of dims (time, y, x): convert both "
    "inputs with `np.asarray` first, then take the means with `axis=(1, 2), keepdims=True`."
)


def _accepts(pressure_error: Any, inputs: tuple[xr.DataArray, xr.DataArray]) -> bool:
    """Return True when ``pressure_error(*inputs)`` runs and returns something other than a stub."""
    try:
        call(pressure_error, *inputs, name="pressure_error")
    except (CheckFailed, NotImplementedYet):
        return False
    return True


def _raised(failure: CheckFailed) -> str:
    """Return "`pressure_error` raised TypeError: ..." for the exception behind ``failure``."""
    error = failure.__cause__
    if error is None:
        return str(failure)
    return f"`pressure_error` raised {type(error).__name__}: {error}"


@checker("Exercise 3 (pressure error up to a constant)")
def check_pressure_error(pressure_error: Any) -> str:
    """Compare ``pressure_error(p_predicted, p_true)`` on arrays ``(time, y, x)`` with the reference."""
    predicted, reference = _pressure_fields()
    dims = ("time", "y", "x")
    data_arrays = (xr.DataArray(predicted.copy(), dims=dims), xr.DataArray(reference.copy(), dims=dims))
    try:
        answer = call(pressure_error, predicted.copy(), reference.copy(), name="pressure_error")
    except CheckFailed as failure:
        if _accepts(pressure_error, data_arrays):
            raise CheckFailed(f"on NumPy arrays {_raised(failure)}, but on DataArrays it runs. {BOTH_KINDS_HINT}") from failure
        raise
    if is_stub(answer):
        raise NotImplementedYet
    values = as_tensor(answer, "pressure_error(p_predicted, p_true)")
    if values.numel() != 1:
        raise CheckFailed(
            f"`pressure_error` returned {values.numel()} values; expected one number, the relative L2 error over all snapshots."
        )
    value = float(values.reshape(()))

    expected = _reference_pressure_error(predicted, reference)
    no_removal = float(np.linalg.norm(predicted - reference) / np.linalg.norm(reference))
    global_removal = float(
        np.linalg.norm((predicted - predicted.mean()) - (reference - reference.mean())) / np.linalg.norm(reference - reference.mean())
    )
    centred = reference - reference.mean(axis=(1, 2), keepdims=True)
    wrong_denominator = float(np.linalg.norm(predicted - predicted.mean(axis=(1, 2), keepdims=True) - centred) / np.linalg.norm(reference))
    per_snapshot = _mean_per_snapshot_error(predicted, reference)
    per_snapshot_hint = (
        "that is the mean of one relative error per snapshot: compute a single relative error over all "
        "snapshots, the norm of the whole difference array over the norm of the whole reference array."
    )
    per_cent_hint = "that is a percentage: return the relative error as a fraction (0.05, not 5)."
    mistakes = [
        (per_snapshot, per_snapshot_hint),
        (100 * expected, per_cent_hint),
        (100 * per_snapshot, f"{per_cent_hint} It is also the mean of one error per snapshot, so compute one relative error over all snapshots instead."),
        (no_removal, "the error still contains the pressure offset: subtract each snapshot's spatial mean from both fields first."),
        (global_removal, "you removed one mean over all snapshots, but the offset of the pressure may change with time: remove the mean over x and y of each snapshot."),
        (wrong_denominator, "divide by the norm of the reference with its mean removed as well."),
        (expected**2, "that is the squared relative error: take the square root (a ratio of norms, not of sums of squares)."),
    ]
    for candidate, hint in mistakes:
        if math.isclose(value, candidate, rel_tol=1e-6) and not math.isclose(value, expected, rel_tol=1e-6):
            raise CheckFailed(hint)
    if not math.isclose(value, expected, rel_tol=1e-6):
        raise CheckFailed(f"the error is {value:.6g}, expected {expected:.6g} (without removing the means it would be {no_removal:.3g}).")

    # DataArrays, which the exercise allows as well, must give the same number.
    try:
        as_data_array = call(pressure_error, *data_arrays, name="pressure_error")
    except CheckFailed as failure:
        raise CheckFailed(f"on DataArrays {_raised(failure)}, but on NumPy arrays it runs. {BOTH_KINDS_HINT}") from failure
    value_xarray = float(as_tensor(as_data_array, "pressure_error on xarray inputs").reshape(-1)[0])
    if not math.isclose(value_xarray, expected, rel_tol=1e-6):
        raise CheckFailed(f"on xarray.DataArray inputs of dims {dims} the error is {value_xarray:.6g}, expected {expected:.6g}.")
    return f"The error is {value:.4g}; without removing the means it would be {no_removal:.3g}."


# --- Exercise 4: lambdas by least squares from the network's derivatives ------------------------


@checker("Exercise 4 (lambdas by least squares)")
def check_least_squares_lambdas(fit_lambdas: Any) -> str:
    """Compare ``fit_lambdas(d)`` with the least-squares lambda1, lambda2 on the vortex and a random network."""
    viscosity = 0.01
    exact = probe_derivatives(TaylorGreenVortex(viscosity))
    answer = call(fit_lambdas, dict(exact), name="fit_lambdas")
    values = as_tensor(answer, "fit_lambdas(d)", shape=(2,))
    if not torch.allclose(values, torch.tensor([1.0, viscosity], dtype=torch.float64), rtol=1e-6, atol=1e-9):
        raise CheckFailed(
            f"on the Taylor–Green vortex the fit should give lambda1 = 1 and lambda2 = {viscosity}, but yours gives "
            f"{values[0].item():.6g} and {values[1].item():.6g}."
        )

    d = probe_derivatives()
    expected = least_squares_lambdas(d)
    values = as_tensor(call(fit_lambdas, dict(d), name="fit_lambdas"), "fit_lambdas(d)", shape=(2,))
    if not torch.allclose(values, expected, rtol=1e-5, atol=1e-9):
        raise CheckFailed(
            f"on a random network the fit gives {values.tolist()}, expected {expected.tolist()}: stack the x and y "
            "equations into one least-squares problem with two columns (advection and Laplacian)."
        )
    return "Your fit recovers the Taylor–Green vortex's lambdas exactly and matches the reference on a random network."


def least_squares_lambdas(d: dict[str, torch.Tensor]) -> torch.Tensor:
    """Return (lambda1, lambda2) that minimise the sum of f^2 + g^2 for fixed derivatives ``d``.

    The residuals are linear in the lambdas, f = a_f - lambda1 b_f + lambda2 c_f with
    a = u_t + p_x, b = -(u u_x + v u_y), c = -(u_xx + u_yy), and likewise for g, so the
    minimiser solves a 2 x 2 least-squares problem.
    """
    d = {name: value.detach().double() for name, value in d.items()}
    zero_f, zero_g = ns.residuals(d, 0.0, 0.0)
    advection_f, advection_g = (a - b for a, b in zip(ns.residuals(d, 1.0, 0.0), (zero_f, zero_g)))
    viscous_f, viscous_g = (a - b for a, b in zip(ns.residuals(d, 0.0, 1.0), (zero_f, zero_g)))
    design = torch.cat([torch.cat([advection_f, viscous_f], dim=1), torch.cat([advection_g, viscous_g], dim=1)])
    target = -torch.cat([zero_f, zero_g])
    return torch.linalg.lstsq(design, target).solution.reshape(2)


__all__ = [
    "TaylorGreenVortex",
    "check_least_squares_lambdas",
    "check_pressure_error",
    "check_residuals",
    "check_velocities",
    "least_squares_lambdas",
    "probe_model",
]
