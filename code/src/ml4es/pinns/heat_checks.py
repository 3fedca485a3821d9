"""Checkers for the exercises of the chapter on PINNs for the heat equation."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ml4es.checks import (
    CheckFailed,
    NotImplementedYet,
    as_float,
    as_tensor,
    assert_close,
    call,
    checker,
    check_finite_number,
    is_stub,
)
from ml4es.pinns import heat

PROBE_ALPHA = 0.037
"""A diffusivity unlike the chapter's, so an answer that ignores its ``alpha`` argument fails."""


class ExactSolution(nn.Module):
    """The analytic solution wrapped as a model ``u(t, x)``, so autograd can differentiate it."""

    def __init__(self, alpha: float = heat.ALPHA):
        super().__init__()
        self.alpha = alpha

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return heat.analytic_solution(t, x, self.alpha)


def probe_model() -> heat.HeatPINN:
    """Return a small randomly initialised network, the same on every call.

    The global random state is saved and restored, so checking an answer does not change the
    numbers the rest of the chapter prints.
    """
    with torch.random.fork_rng():
        torch.manual_seed(1234)
        return heat.HeatPINN(width=8, depth=2)


def probe_points(n: int = 24, seed: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``n`` fixed interior points ``(t, x)``, each ``(n, 1)`` float64."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.rand(n, 1, generator=generator, dtype=heat.DTYPE)
    x = 0.05 + 0.9 * torch.rand(n, 1, generator=generator, dtype=heat.DTYPE)
    return t, x


# --- Exercise 1: the PDE residual ---------------------------------------------------------------


def _derivatives(model: nn.Module, t: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return {name: value.detach() for name, value in heat.derivatives(model, t, x).items()}


def _call_residual(residual: Any, model: nn.Module, t: torch.Tensor, x: torch.Tensor, alpha: float) -> Any:
    try:
        return call(residual, model, t.clone(), x.clone(), alpha, name="residual")
    except CheckFailed as failure:
        if "does not require grad" in str(failure):
            raise CheckFailed(
                f"{failure}. Autograd can only differentiate tensors that are part of a graph. "
                "Call `t.requires_grad_(True)` and `x.requires_grad_(True)` (on copies, "
                "`t = t.clone()`) before evaluating the model, and pass `create_graph=True` "
                "to the first `torch.autograd.grad` so that `u_x` can be differentiated again."
            ) from failure
        if "implicitly created only for scalar outputs" in str(failure):
            raise CheckFailed(
                f"{failure}. `u` has one value per point, so `torch.autograd.grad` needs "
                "`grad_outputs=torch.ones_like(u)` to sum the derivatives of all of them."
            ) from failure
        raise


@checker("Exercise 1 (PDE residual)")
def check_residual(residual: Any) -> str:
    """Compare ``residual(model, t, x, alpha)`` with u_t - alpha u_xx on a random network."""
    model = probe_model()
    t, x = probe_points()
    n = t.shape[0]

    answer = _call_residual(residual, model, t, x, PROBE_ALPHA)
    values = as_tensor(answer, "residual(model, t, x, alpha)", shape=(n, 1))

    d = _derivatives(model, t, x)
    expected = d["u_t"] - PROBE_ALPHA * d["u_xx"]
    _diagnose_residual(values, d)
    max_error = assert_close(values, expected, "residual(model, t, x, alpha)", rtol=1e-6, atol=1e-9)
    _check_residual_graph(answer, residual, model, t, x)

    exact = as_tensor(_call_residual(residual, ExactSolution(), t, x, heat.ALPHA), "residual of the exact solution")
    largest = float(exact.abs().max())
    if largest > 1e-8:
        raise CheckFailed(
            f"the residual of the exact solution should be 0, but yours reaches {largest:.3g}."
        )
    return (
        f"It matches u_t - alpha u_xx to {max_error:.1e}, and on the exact solution it is "
        f"{largest:.1e}."
    )


def _diagnose_residual(values: torch.Tensor, d: dict[str, torch.Tensor]) -> None:
    """Raise a specific hint when ``values`` matches a common mistake."""
    mistakes = [
        (d["u_t"] + PROBE_ALPHA * d["u_xx"], "the sign of the diffusion term is wrong: the residual is u_t - alpha u_xx."),
        (d["u_t"] - heat.ALPHA * d["u_xx"], "you used the chapter's alpha instead of the `alpha` argument."),
        (d["u_t"] - d["u_xx"], "the diffusion term is missing the factor `alpha`."),
        (d["u_t"] - PROBE_ALPHA * d["u_x"], "you used the first derivative u_x where the PDE has u_xx: differentiate u_x once more with respect to x."),
        (d["u_t"], "the diffusion term alpha u_xx is missing."),
        (-PROBE_ALPHA * d["u_xx"], "the time derivative u_t is missing."),
    ]
    for candidate, hint in mistakes:
        if torch.allclose(values, candidate, rtol=1e-6, atol=1e-9):
            raise CheckFailed(hint)


def _check_residual_graph(answer: Any, residual: Any, model: nn.Module, t: torch.Tensor, x: torch.Tensor) -> None:
    """Check that the residual can be differentiated with respect to the network's weights."""
    hint = (
        "pass `create_graph=True` to every `torch.autograd.grad` call and do not detach the "
        "result, so that training can differentiate the residual with respect to the weights."
    )
    if not isinstance(answer, torch.Tensor):
        raise CheckFailed(
            f"the residual values are right, but your function returns type {type(answer).__name__}, "
            "not a tensor: return the tensor itself, so that training can differentiate it."
        )
    if not answer.requires_grad:
        raise CheckFailed(f"the residual values are right, but they are not connected to the network: {hint}")

    parameters = list(model.parameters())
    model.zero_grad(set_to_none=True)
    try:
        gradients = torch.autograd.grad(answer.pow(2).sum(), parameters, allow_unused=True)
    except RuntimeError as error:
        # A graph freed by a `torch.autograd.grad` call without `create_graph=True` ends up here.
        raise CheckFailed(
            f"the residual values are right, but differentiating them with respect to the weights "
            f"failed ({error.args[0].split('.')[0]}): {hint}"
        ) from error
    expected = torch.autograd.grad(
        heat.residual(model, t, x, PROBE_ALPHA).pow(2).sum(), parameters, allow_unused=True
    )
    for parameter, got, want in zip(parameters, gradients, expected):
        # The output bias does not enter any derivative, so its gradient is None (unused).
        got = torch.zeros_like(parameter) if got is None else got.to(parameter.dtype)
        want = torch.zeros_like(parameter) if want is None else want
        if not torch.allclose(got, want, rtol=1e-6, atol=1e-9):
            raise CheckFailed(
                f"the residual values are right, but their gradient with respect to the weights is not: {hint}"
            )


# --- Exercise 2: the initial and boundary loss --------------------------------------------------


@checker("Exercise 2 (initial and boundary loss)")
def check_initial_boundary_loss(initial_boundary_loss: Any) -> str:
    """Compare ``initial_boundary_loss(model, x_initial, t_boundary)`` with the reference."""
    model = probe_model()
    generator = torch.Generator().manual_seed(11)
    x_initial = torch.rand(16, 1, generator=generator, dtype=heat.DTYPE)
    t_boundary = torch.rand(12, 1, generator=generator, dtype=heat.DTYPE)

    answer = call(initial_boundary_loss, model, x_initial.clone(), t_boundary.clone(), name="initial_boundary_loss")
    value = as_float(answer, "initial_boundary_loss(model, x_initial, t_boundary)")
    check_finite_number(value, "initial_boundary_loss(model, x_initial, t_boundary)")

    with torch.no_grad():
        initial = float(heat.initial_loss(model, x_initial))
        boundary = float(heat.boundary_loss(model, t_boundary))
        left = float(model(t_boundary, torch.zeros_like(t_boundary)).pow(2).mean())
        right = float(model(t_boundary, torch.ones_like(t_boundary)).pow(2).mean())
        misfit_sum = float((model(torch.zeros_like(x_initial), x_initial) - heat.initial_condition(x_initial)).pow(2).sum())
        # The same loss with the network's arguments swapped, model(x, t) for model(t, x).
        swapped_initial = float((model(x_initial, torch.zeros_like(x_initial)) - heat.initial_condition(x_initial)).pow(2).mean())
        ends = torch.cat([torch.zeros_like(t_boundary), torch.ones_like(t_boundary)])
        swapped_boundary = float(model(ends, torch.cat([t_boundary, t_boundary])).pow(2).mean())
    expected = initial + boundary

    mistakes = [
        (initial, "only the initial term is there: add the mean of u^2 at both ends, x = 0 and x = 1."),
        (boundary, "only the boundary term is there: add the mean squared misfit between u(0, x) and the initial condition."),
        (initial + left, "the boundary term covers x = 0 only: include x = 1 as well."),
        (initial + right, "the boundary term covers x = 1 only: include x = 0 as well."),
        (initial + left + right, "the two ends are averaged separately and added: take one mean over the values at both ends together."),
        (misfit_sum + boundary, "the initial term is a sum of squares: take the mean instead."),
        (swapped_initial + swapped_boundary, "the network is called as model(x, t): its arguments are model(t, x), time first."),
        (swapped_initial + boundary, "the initial term calls model(x, 0): at t = 0 the call is model(0, x), time first."),
        (initial + swapped_boundary, "the boundary term calls model(x, t): at the ends the call is model(t, 0) and model(t, 1)."),
    ]
    for candidate, hint in mistakes:
        if math.isclose(value, candidate, rel_tol=1e-8, abs_tol=1e-12) and not math.isclose(value, expected, rel_tol=1e-8, abs_tol=1e-12):
            raise CheckFailed(hint)
    if not math.isclose(value, expected, rel_tol=1e-8, abs_tol=1e-12):
        raise CheckFailed(
            f"the loss is {value:.6g}, expected {expected:.6g} (initial term {initial:.6g} + "
            f"boundary term {boundary:.6g})."
        )

    if not isinstance(answer, torch.Tensor) or not answer.requires_grad:
        raise CheckFailed(
            "the value is right, but it is not a tensor connected to the network's weights, so "
            "training could not reduce it: return the tensor itself, without `.item()` or `float()`."
        )

    exact = as_float(
        call(initial_boundary_loss, ExactSolution(), x_initial.clone(), t_boundary.clone(), name="initial_boundary_loss"),
        "initial_boundary_loss of the exact solution",
    )
    # In float64 the exact solution's loss is 0 or near 1e-32; float32 rounding of the target leaves near 1e-16.
    if abs(exact) > 1e-20:
        if abs(exact) < 1e-10:
            raise CheckFailed(
                f"the loss of the exact solution should be 0, but yours is {exact:.3g}: that is the size of "
                "float32 rounding. Compute the initial condition in float64, for example with "
                "`heat.initial_condition(x)` or a tensor made with `dtype=x.dtype`."
            )
        raise CheckFailed(f"the loss of the exact solution should be 0, but yours is {exact:.3g}.")
    return f"The loss is {value:.6g} on a random network and 0 on the exact solution."


# --- Exercise 4: a learnable diffusivity --------------------------------------------------------


@checker("Exercise 4 (learnable alpha)")
def check_learnable_alpha(alpha: Any) -> str:
    """Check that ``alpha`` is a positive scalar tensor an optimiser can update."""
    if not isinstance(alpha, torch.Tensor):
        kind = type(alpha).__name__
        raise CheckFailed(
            f"`alpha` is a {kind}, which an optimiser cannot update: make it a tensor that "
            "requires grad, such as `torch.nn.Parameter(torch.tensor(0.1, dtype=torch.float64))`."
        )
    if not alpha.is_floating_point():
        raise CheckFailed(f"`alpha` has dtype {alpha.dtype}; a learnable value must be floating point (float64 here).")
    if alpha.numel() != 1:
        raise CheckFailed(f"`alpha` should hold a single number, but it has shape {tuple(alpha.shape)}.")
    if not alpha.requires_grad:
        raise CheckFailed(
            "`alpha` does not require grad, so no gradient reaches it: wrap it in "
            "`torch.nn.Parameter(...)` or create it with `requires_grad=True`."
        )
    if not alpha.is_leaf:
        raise CheckFailed(
            "`alpha` is the result of a computation (not a leaf tensor), so an optimiser cannot "
            "update it: create the tensor with `requires_grad=True` in one step, for example "
            "`torch.nn.Parameter(torch.tensor(0.1, dtype=torch.float64))`."
        )
    start = float(alpha.detach().reshape(()))
    check_finite_number(start, "alpha")
    if start <= 0:
        raise CheckFailed(f"`alpha` starts at {start:g}; a diffusivity is positive, so start from a guess such as 0.1.")

    t, x = probe_points()
    derivatives = _derivatives(ExactSolution(), t, x)
    loss = (derivatives["u_t"] - alpha.reshape(()).cpu() * derivatives["u_xx"]).pow(2).mean()
    (gradient,) = torch.autograd.grad(loss, alpha)
    if not torch.isfinite(gradient).all():
        raise CheckFailed("the gradient of the residual with respect to `alpha` is not finite.")

    fitted = _fit_alpha(start, derivatives)
    return (
        f"In a quick fit to the exact solution, a copy of your alpha moves from {start:.4g} to "
        f"{fitted:.4f} (true value {heat.ALPHA})."
    )


def _fit_alpha(start: float, derivatives: dict[str, torch.Tensor], steps: int = 300) -> float:
    alpha = nn.Parameter(torch.tensor(start, dtype=heat.DTYPE))
    optimizer = torch.optim.Adam([alpha], lr=0.01 * max(start, heat.ALPHA))
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (derivatives["u_t"] - alpha * derivatives["u_xx"]).pow(2).mean()
        loss.backward()
        optimizer.step()
    return alpha.item()


# --- Exercise 3: number of collocation points ---------------------------------------------------


COLLOCATION_REFERENCE = {10: 0.0346, 50: 0.00484, 500: 0.00392}
"""Relative L2 errors of the exercise's recipe (seed 0, 100 Adam and 200 L-BFGS steps) for the
numbers of collocation points it suggests, measured with torch 2.13 and 2 threads on a shared
2-core x86 CPU. One thread gave 0.0295, 0.00418 and 0.00375."""

COLLOCATION_FACTOR = 3.0
"""How far, as a factor either way, a reader's error may lie from ``COLLOCATION_REFERENCE``."""

UNTRAINED_ERROR = 0.9
"""An error at or above this is that of an untrained network: its output is close to 0, and the
relative L2 error of predicting u = 0 everywhere is 1."""


@checker("Exercise 3 (collocation points)")
def check_collocation_study(errors: Any) -> str:
    """Check a mapping ``{number of collocation points: relative L2 error}`` and describe it.

    Every error must be positive and below that of an untrained network, and the errors must
    not all be equal. The numbers of points the exercise suggests must give about
    ``COLLOCATION_REFERENCE``. Ten times as many points as 20 or fewer must lower the error.
    """
    if is_stub(errors):
        raise NotImplementedYet
    if not isinstance(errors, Mapping):
        raise CheckFailed(
            f"`errors` should be a dict from the number of collocation points to the relative "
            f"L2 error, but it is of type {type(errors).__name__}."
        )
    if len(errors) == 0:
        raise NotImplementedYet
    if len(errors) < 3:
        raise CheckFailed(f"`errors` has {len(errors)} {'entry' if len(errors) == 1 else 'entries'}; "
            "train with at least 3 different numbers of points.")

    table: list[tuple[int, float]] = []
    for key, value in errors.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral) or key < 1:
            raise CheckFailed(f"the key {key!r} of `errors` should be a positive whole number of points.")
        if is_stub(value):
            raise NotImplementedYet
        error = as_float(value, f"errors[{key}]")
        check_finite_number(error, f"errors[{key}]")
        if error <= 0:
            raise CheckFailed(f"errors[{key}] is {error:g}; a relative L2 error is positive.")
        if error >= UNTRAINED_ERROR:
            percent = " If it is a percentage, store the fraction instead (divide by 100)." if error > 1 else ""
            raise CheckFailed(
                f"errors[{key}] is {error:.3g}, about the error of an untrained network (1 for u = 0 everywhere). "
                f"Measure `heat.relative_l2_error(network)` after training that same network.{percent}"
            )
        table.append((int(key), error))

    table.sort()
    # Equal errors mean the same points trained every network, which is reported before any reference comparison.
    if len({error for _, error in table}) == 1:
        raise CheckFailed(
            f"every number of points gives the same error, {table[0][1]:.4g}: train each network on its own "
            "points, `heat.sample_points(n_interior=n)`."
        )
    for n_points, error in table:
        _compare_with_reference(n_points, error)
    _check_more_points_help(table)
    (n_few, error_few), (n_many, error_many) = table[0], table[-1]
    trend = "falls" if error_many < error_few else "does not fall"
    return (
        f"The error {trend} from {error_few:.2g} with {n_few} points to {error_many:.2g} with "
        f"{n_many} points. Write down why before you open the model answer on the course website."
    )


def _compare_with_reference(n: int, error: float) -> None:
    """Raise :class:`CheckFailed` when the error for a suggested number of points is far from the reference."""
    expected = COLLOCATION_REFERENCE.get(n)
    if expected is None or expected / COLLOCATION_FACTOR <= error <= expected * COLLOCATION_FACTOR:
        return
    hint = ""
    if error < expected / 10:
        hint = " Is it the final training loss rather than `heat.relative_l2_error(network)`?"
    raise CheckFailed(
        f"errors[{n}] is {error:.2g}, but the exercise's recipe gives about {expected:.2g} with {n} points.{hint} "
        "Start each run from `ml4es.seed_everything(0)` and a new `heat.HeatPINN()`, with "
        "`adam_steps=100, lbfgs_steps=200`."
    )


def _check_more_points_help(table: list[tuple[int, float]]) -> None:
    """Raise :class:`CheckFailed` when ten times more than a few points does not lower the error.

    With 20 points or fewer the network overfits the residual, so ten times as many points
    must give a smaller error. Above that, the error levels off and may rise a little.
    """
    for n_few, error_few in table:
        if n_few > 20:
            break
        for n_many, error_many in table:
            if n_many >= 10 * n_few and error_many >= error_few:
                raise CheckFailed(
                    f"the error with {n_many} points ({error_many:.2g}) is not below the error with {n_few} "
                    f"({error_few:.2g}). With so few points the network overfits, so check that each network "
                    "is trained on its own points and stored under its own number."
                )
