"""Checkers for the exercises of the chapter on data-driven models of dynamical systems."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ml4es.checks import (
    CheckFailed,
    as_float,
    as_tensor,
    assert_close,
    call,
    check_finite_number,
    checker,
)
from ml4es.dynamics import emulators, metrics, reservoir, systems

LORENZ63_TERMS = ("1", "x", "y", "z", "x^2", "x y", "x z", "y^2", "y z", "z^2")


def lorenz63_coefficients() -> np.ndarray:
    """Return the true Lorenz-63 coefficients on the library :data:`LORENZ63_TERMS`, shape (3, 10)."""
    true = np.zeros((3, len(LORENZ63_TERMS)))
    true[0, 1], true[0, 2] = -systems.SIGMA, systems.SIGMA
    true[1, 1], true[1, 2], true[1, 6] = systems.RHO, -1.0, -1.0
    true[2, 3], true[2, 5] = -systems.BETA, 1.0
    return true


# --- Exercise 3: SINDy ----------------------------------------------------------------------------


@checker("Exercise 3 (SINDy)")
def check_sindy(fit_sindy: Any) -> str:
    """Fit ``fit_sindy(x, dt)`` to a clean Lorenz-63 trajectory and compare with the true coefficients."""
    dt = 0.01
    start = systems.lorenz63_initial_states(1, seed=5)
    x = systems.integrate(systems.lorenz63, start, 1500, dt)[:, 0]
    answer = call(fit_sindy, x.copy(), dt, name="fit_sindy")
    true = lorenz63_coefficients()
    if np.shape(answer) == (10, 3):
        raise CheckFailed("the coefficients have shape (10, 3); expected (3, 10), one row per equation: return `model.coefficients()`.")
    coefficients = as_tensor(answer, "fit_sindy(x, dt)", shape=true.shape).numpy()

    active = true != 0
    missing = [f"{'xyz'[i]}' <- {LORENZ63_TERMS[j]}" for i, j in zip(*np.nonzero(active & (coefficients == 0)))]
    if missing:
        raise CheckFailed(f"the terms {', '.join(missing)} are missing: the threshold is too high for them.")
    spurious = [f"{'xyz'[i]}' <- {LORENZ63_TERMS[j]}" for i, j in zip(*np.nonzero(~active & (np.abs(coefficients) > 1e-8)))]
    if spurious:
        raise CheckFailed(
            f"the model has {len(spurious)} terms that Lorenz-63 does not ({', '.join(spurious[:4])}): "
            "raise the STLSQ threshold or use a more accurate derivative."
        )
    relative = np.abs(coefficients[active] - true[active]) / np.abs(true[active])
    worst = float(relative.max())
    if worst > 0.05:
        raise CheckFailed(
            f"the right terms are found, but the largest coefficient error is {100 * worst:.1f} % "
            "(expected below 5 %): a more accurate derivative helps, such as `ps.FiniteDifference(order=4)`."
        )
    return f"All 7 terms found, none extra; the largest coefficient error is {100 * worst:.2f} %."


# --- Exercise 2: valid prediction time ------------------------------------------------------------


def _vpt_cases() -> list[tuple[np.ndarray, np.ndarray, float, float, float]]:
    """Hand-made forecasts: (forecast, truth, dt, climate_std, threshold)."""
    rng = np.random.default_rng(3)
    truth = rng.standard_normal((40, 8))
    growing = truth + 0.05 * np.exp(0.15 * np.arange(40))[:, None] * rng.standard_normal(8)
    perfect = truth.copy()
    at_once = truth + 10.0
    constant_offset = truth + 0.3
    return [
        (growing, truth, 0.05, 1.0, 0.5),
        (growing, truth, 0.1, 2.0, 0.5),
        (growing, truth, 0.05, 1.0, 0.3),
        (perfect, truth, 0.05, 1.0, 0.5),
        (at_once, truth, 0.05, 1.0, 0.5),
        (constant_offset, truth, 0.05, 0.5, 0.5),
    ]


@checker("Exercise 2 (valid prediction time)")
def check_valid_prediction_time(valid_prediction_time: Any) -> str:
    """Compare ``valid_prediction_time(forecast, truth, dt, climate_std, threshold)`` on hand-made cases."""
    for number, (forecast, truth, dt, std, threshold) in enumerate(_vpt_cases(), start=1):
        answer = call(valid_prediction_time, forecast.copy(), truth.copy(), dt, std, threshold, name="valid_prediction_time")
        value = as_float(answer, "valid_prediction_time(...)")
        check_finite_number(value, "valid_prediction_time(...)")
        expected = float(metrics.valid_prediction_time(forecast, truth, dt, std, threshold))
        if math.isclose(value, expected, abs_tol=1e-9):
            continue
        error = metrics.normalised_rmse(forecast, truth, std)
        first = int(np.argmax(error > threshold)) if (error > threshold).any() else None
        hint = ""
        if first is not None and math.isclose(value, first * dt, abs_tol=1e-9):
            hint = " You returned the time of the first invalid row: the forecast was last valid one step earlier."
        elif math.isclose(value, expected / dt, abs_tol=1e-9):
            hint = " It looks like a number of steps: multiply by dt to get model time units."
        elif math.isclose(value, float(metrics.valid_prediction_time(forecast, truth, dt, 1.0, threshold)), abs_tol=1e-9):
            hint = " Divide the error by `climate_std` before comparing it with the threshold."
        if first == 0 and not hint:
            hint = " In this case the forecast is already wrong at the first row, so it was never valid."
        elif first is None and not hint:
            hint = " In this case the forecast never crosses the threshold, so it is valid for the whole series."
        raise CheckFailed(
            f"case {number} (dt = {dt}, climate_std = {std}, threshold = {threshold}): got {value:.4g} MTU, "
            f"expected {expected:.4g}.{hint}"
        )
    return f"All {len(_vpt_cases())} hand-made cases agree, including a perfect forecast and one wrong from the start."


# --- Exercise 4: rollout loss ----------------------------------------------------------------------


def _probe_emulator() -> emulators.PeriodicCNN:
    with torch.random.fork_rng():
        torch.manual_seed(21)
        return emulators.PeriodicCNN(mean=2.3, std=3.6, channels=8, depth=2)


@checker("Exercise 4 (rollout loss)")
def check_rollout_loss(rollout_loss: Any) -> str:
    """Compare ``rollout_loss(model, x0, targets)`` and its gradient with the reference."""
    model = _probe_emulator()
    generator = torch.Generator().manual_seed(4)
    x0 = 2.3 + 3.6 * torch.randn(6, 12, generator=generator)
    targets = 2.3 + 3.6 * torch.randn(6, 4, 12, generator=generator)

    answer = call(rollout_loss, model, x0.clone(), targets.clone(), name="rollout_loss")
    value = as_float(answer, "rollout_loss(model, x0, targets)")
    check_finite_number(value, "rollout_loss(model, x0, targets)")
    expected = float(emulators.rollout_loss(model, x0, targets).detach())

    with torch.no_grad():
        teacher = torch.stack(
            [((model(torch.cat([x0[:, None], targets[:, :-1]], 1)[:, k]) - targets[:, k]) / model.std).pow(2).mean() for k in range(4)]
        ).mean()
        first_only = ((model(x0) - targets[:, 0]) / model.std).pow(2).mean()
    if not math.isclose(value, expected, rel_tol=1e-4):
        if math.isclose(value, float(teacher), rel_tol=1e-4):
            raise CheckFailed(
                "this is the one-step loss with the true state fed in at every step (teacher forcing): "
                "feed the model its own prediction instead."
            )
        if math.isclose(value, float(first_only), rel_tol=1e-4):
            raise CheckFailed("only the first step is scored: loop over all K = targets.shape[1] steps.")
        if math.isclose(value, expected * model.std.item() ** 2, rel_tol=1e-4):
            raise CheckFailed("divide the errors by `model.std` so that the loss is in normalised units.")
        if math.isclose(value, expected * 4, rel_tol=1e-4):
            raise CheckFailed("the loss is the sum over the steps; divide by the number of steps K.")
        raise CheckFailed(f"the loss is {value:.6g}, expected {expected:.6g}.")

    if not isinstance(answer, torch.Tensor):
        raise CheckFailed(
            f"the value is right, but it is {type(answer).__name__}, not a tensor: the optimiser needs the loss as a "
            "tensor connected to the weights, so leave out `.item()`, `float(...)` and NumPy."
        )
    if not answer.requires_grad:
        raise CheckFailed(
            "the value is right, but the loss is cut off from the weights: leave out `.detach()` and "
            "`torch.no_grad()`, and keep each prediction a tensor so that the gradient flows through every step."
        )
    parameters = list(model.parameters())
    gradient = torch.autograd.grad(answer, parameters[0])[0]
    reference = torch.autograd.grad(emulators.rollout_loss(model, x0, targets), parameters[0])[0]
    assert_close(gradient, reference, "the gradient of your loss", rtol=1e-4, atol=1e-7)
    return f"The loss over 4 steps is {value:.4f} and its gradient matches."


# --- Exercise 5: reservoir readout ---------------------------------------------------------------


@checker("Exercise 5 (ridge readout)")
def check_ridge_readout(ridge_readout: Any) -> str:
    """Compare ``ridge_readout(features, targets, ridge)`` with the closed-form ridge solution."""
    rng = np.random.default_rng(8)
    features = rng.standard_normal((200, 30))
    targets = features @ rng.standard_normal((30, 3)) + 0.1 * rng.standard_normal((200, 3))
    ridge = 5.0
    answer = call(ridge_readout, features.copy(), targets.copy(), ridge, name="ridge_readout")
    expected = reservoir.ridge_readout(features, targets, ridge)
    if np.shape(answer) == expected.T.shape:
        raise CheckFailed(f"W_out has shape {expected.T.shape}; expected {expected.shape} (outputs by features), so that y = W_out @ g(r).")
    values = as_tensor(answer, "ridge_readout(features, targets, ridge)", shape=expected.shape)
    unregularised = reservoir.ridge_readout(features, targets, 0.0)
    if torch.allclose(values, torch.as_tensor(unregularised), rtol=1e-6, atol=1e-9):
        raise CheckFailed("this is the least-squares solution without regularisation: add `ridge` times the identity to F^T F.")
    error = assert_close(values, torch.as_tensor(expected), "W_out", rtol=1e-6, atol=1e-8)
    return f"W_out matches the closed form to {error:.1e}."


# --- Exercise 1: ensemble from perturbed initial conditions ---------------------------------------


@checker("Exercise 1 (perturbed ensemble)")
def check_ensemble(ensemble_forecast: Any) -> str:
    """Check ``ensemble_forecast(x0, n_members, sigma, n_samples, seed)`` against the reference dynamics."""
    x0 = systems.lorenz96_initial_states(1, seed=11)[0]
    n_members, sigma, n_samples = 8, 0.01, 10
    answer = call(ensemble_forecast, x0.copy(), n_members, sigma, n_samples, 3, name="ensemble_forecast")
    shape = (n_samples + 1, n_members, x0.size)
    states = as_tensor(answer, "ensemble_forecast(...)", shape=shape).numpy()

    initial = states[0]
    if np.allclose(initial, x0):
        raise CheckFailed("every member starts at x0: add `sigma` times Gaussian noise to each member's initial state.")
    # The mean of 8 x 40 draws of N(0, sigma^2) lies within 0.3 sigma of 0 for all but about 1e-7 of seeds.
    offset = float((initial - x0).mean())
    if abs(offset) > 0.3 * sigma:
        raise CheckFailed(
            f"the members start around x0 + {offset:.3g}, not around x0: add only `sigma` times the Gaussian noise."
        )
    spread = float((initial - x0).std())
    if not 0.5 * sigma < spread < 2 * sigma:
        raise CheckFailed(f"the initial perturbations have a standard deviation of {spread:.3g}; expected about sigma = {sigma}.")
    if np.allclose(initial - x0, (initial - x0)[:1]):
        raise CheckFailed("every member has the same perturbation: draw a different one for each member.")

    again = call(ensemble_forecast, x0.copy(), n_members, sigma, n_samples, 3, name="ensemble_forecast")
    if not np.allclose(as_tensor(again, "ensemble_forecast(...)", shape=shape).numpy(), states):
        raise CheckFailed(
            "two calls with the same seed give different ensembles: draw the noise from np.random.default_rng(seed)."
        )
    reference = systems.integrate(systems.lorenz96, initial, n_samples * 5, 0.01, save_every=5)
    difference = float(np.abs(states - reference).max())
    single = getattr(answer, "dtype", None) in (np.float32, torch.float32)
    if difference > 1e-6 and single and difference < 1e-3:
        raise CheckFailed(
            f"the members differ from Lorenz-96 by up to {difference:.3g}, about float32's rounding over 50 steps: "
            "keep the states in float64, the dtype of x0."
        )
    if difference > 1e-6:
        raise CheckFailed(
            f"starting from your perturbed states, the members differ from Lorenz-96 integrated with RK4 "
            f"(dt = 0.01, saved every 0.05) by up to {difference:.3g}."
        )
    growth = float((states[-1] - states[-1].mean(0)).std() / (initial - initial.mean(0)).std())
    return f"The members follow Lorenz-96, and their spread grows {growth:.1f}-fold in 0.5 MTU."
