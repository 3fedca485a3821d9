"""Checkers for the exercises of the chapter on Gaussian processes."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import torch

from ml4es.checks import (
    CheckFailed,
    NotImplementedYet,
    as_float,
    as_tensor,
    assert_close,
    call,
    check_finite_number,
    checker,
    is_stub,
)
from ml4es.gp import by_hand, co2, emulator

DTYPE = torch.float64
TOLERANCE = 1e-6

# Hyperparameters unlike the chapter's, so an answer that ignores its arguments fails.
SEASONAL_PROBE = {"amplitude": 1.7, "decay": 3.0, "smoothness": 0.8, "period": 1.3}
POSTERIOR_PROBE = {"lengthscale": 0.7, "outputscale": 1.9, "noise": 0.05}


def _probe_inputs(n: int, seed: int, low: float = 0.0, high: float = 5.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(n, generator=generator, dtype=DTYPE)


def _probe_data(seed: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x_train = _probe_inputs(7, seed)
    y_train = torch.sin(2 * x_train) + 0.1 * torch.randn(7, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)
    x_test = torch.linspace(-1.0, 6.0, 11, dtype=DTYPE)
    return x_train, y_train, x_test


# --- Exercise 1: a kernel composed by hand ---------------------------------------------------


def seasonal_reference(x1: torch.Tensor, x2: torch.Tensor, amplitude, decay, smoothness, period) -> torch.Tensor:
    """Return GPyTorch's seasonal component of ``co2.co2_kernel`` between ``x1`` and ``x2``."""
    kernel = co2.co2_kernel(
        {"seasonal_amplitude": amplitude, "seasonal_decay": decay, "seasonal_smoothness": smoothness, "period": period}
    ).kernels[1]
    with torch.no_grad():
        return kernel(x1, x2).to_dense()


@checker("Exercise 1 (a kernel by hand)")
def check_seasonal_kernel(seasonal_kernel: Any) -> str:
    """Check ``seasonal_kernel(x1, x2, amplitude, decay, smoothness, period)`` against GPyTorch."""
    x1, x2 = _probe_inputs(6, 1), _probe_inputs(4, 2)
    expected = seasonal_reference(x1, x2, **SEASONAL_PROBE)
    returned = call(seasonal_kernel, x1.clone(), x2.clone(), **SEASONAL_PROBE, name="seasonal_kernel")
    answer = as_tensor(returned, "seasonal_kernel(x1, x2, ...)", shape=(6, 4))
    single = isinstance(returned, torch.Tensor) and returned.dtype in (torch.float32, torch.float16, torch.bfloat16)
    _diagnose_kernel(answer, expected, x1, x2, single)
    error = assert_close(answer, expected, "seasonal_kernel(x1, x2, ...)", rtol=TOLERANCE, atol=1e-9)
    return f"It matches GPyTorch's product kernel to {error:.1e}."


def _diagnose_kernel(
    answer: torch.Tensor, expected: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor, single: bool = False
) -> None:
    """Raise a hint for the usual mistakes: a missing square on the amplitude or on the smoothness.

    ``single`` is True when the kernel came in single (or half) precision, whose rounding alone can
    exceed the tolerance.
    """
    if torch.allclose(answer, expected, rtol=TOLERANCE, atol=1e-9):
        return
    if single and torch.allclose(answer, expected, rtol=1e-3, atol=1e-6):
        raise CheckFailed(
            f"your kernel is in single precision and differs by up to {float((answer - expected).abs().max()):.3g}, "
            "about float32's rounding. Compute in float64, the dtype of x1 and x2: a tensor you create needs "
            "dtype=x1.dtype."
        )
    if torch.allclose(answer * SEASONAL_PROBE["amplitude"], expected, rtol=1e-6):
        raise CheckFailed("your kernel is too small by a factor equal to the amplitude: the variance is amplitude².")
    unsquared = dict(SEASONAL_PROBE, smoothness=math.sqrt(SEASONAL_PROBE["smoothness"]))
    if torch.allclose(answer, seasonal_reference(x1, x2, **unsquared), rtol=1e-6):
        raise CheckFailed("in the periodic factor, divide 2 sin²(pi d / period) by smoothness², not by smoothness.")
    raise CheckFailed(
        f"your kernel differs from the reference by up to {float((answer - expected).abs().max()):.3g}. "
        "Check each factor: amplitude², exp(-d²/(2 decay²)) and exp(-2 sin²(pi d / period) / smoothness²), "
        "with d = x1[i] - x2[j] for every pair."
    )


# --- Exercise 2: the posterior by hand -------------------------------------------------------


@checker("Exercise 2 (posterior by hand)")
def check_posterior(posterior: Any) -> str:
    """Check ``posterior(x_train, y_train, x_test, lengthscale, outputscale, noise)`` against GPyTorch."""
    x_train, y_train, x_test = _probe_data()
    expected_mean, expected_variance = by_hand.gpytorch_posterior(x_train, y_train, x_test, **POSTERIOR_PROBE)
    answer = call(posterior, x_train.clone(), y_train.clone(), x_test.clone(), **POSTERIOR_PROBE, name="posterior")
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise CheckFailed(
            f"`posterior` returned {type(answer).__name__}; expected a tuple (mean, variance), two tensors of shape (m,)."
        )
    if any(is_stub(part) for part in answer):
        raise NotImplementedYet
    mean = as_tensor(answer[0], "mean", shape=(len(x_test),))
    variance = as_tensor(answer[1], "variance", shape=(len(x_test),))
    if torch.allclose(mean, expected_variance, atol=1e-6) and torch.allclose(variance, expected_mean, atol=1e-6):
        raise CheckFailed("`posterior` returned (variance, mean); return them in the order (mean, variance).")
    if torch.allclose(variance, expected_variance + POSTERIOR_PROBE["noise"], atol=1e-6):
        raise CheckFailed("`variance` includes the noise variance: the exercise asks for the variance of f, not of y.")
    mean_error = assert_close(mean, expected_mean, "mean", rtol=0, atol=TOLERANCE)
    variance_error = assert_close(variance, expected_variance, "variance", rtol=0, atol=TOLERANCE)
    return f"Mean and variance match GPyTorch to {max(mean_error, variance_error):.1e}."


# --- Exercise 3: the log marginal likelihood -------------------------------------------------


@checker("Exercise 3 (log marginal likelihood)")
def check_log_marginal_likelihood(log_marginal_likelihood: Any) -> str:
    """Check ``log_marginal_likelihood(x, y, lengthscale, outputscale, noise)`` against GPyTorch."""
    x, y, _ = _probe_data(seed=4)
    expected = by_hand.gpytorch_log_marginal_likelihood(x, y, **POSTERIOR_PROBE)
    answer = call(log_marginal_likelihood, x.clone(), y.clone(), **POSTERIOR_PROBE, name="log_marginal_likelihood")
    value = as_float(answer, "log_marginal_likelihood(x, y, ...)")
    check_finite_number(value, "log_marginal_likelihood(x, y, ...)")
    if math.isclose(value, expected / len(y), rel_tol=1e-6):
        raise CheckFailed("your value is the log marginal likelihood divided by the number of points; return the total.")
    if math.isclose(value, -expected, rel_tol=1e-6):
        raise CheckFailed("your value has the wrong sign: that is the negative log marginal likelihood, a loss.")
    covariance = by_hand.rbf_kernel(x, x, POSTERIOR_PROBE["lengthscale"], POSTERIOR_PROBE["outputscale"])
    log_determinant = float(torch.logdet(covariance + POSTERIOR_PROBE["noise"] * torch.eye(len(x), dtype=DTYPE)))
    if math.isclose(value, expected + log_determinant / 4, rel_tol=1e-6):
        raise CheckFailed(
            "your log determinant is half the true one. With the Cholesky factor L of K, "
            "log|K| = 2 Σ log L_ii: the factor 2 is easy to leave out."
        )
    if math.isclose(value, expected - log_determinant / 2, rel_tol=1e-6):
        raise CheckFailed("your complexity penalty is -log|K|; it is -log|K|/2.")
    if abs(value - expected) > TOLERANCE * max(1.0, abs(expected)):
        raise CheckFailed(
            f"your value is {value:.6f}; GPyTorch gives {expected:.6f}. Check the three terms: the data fit "
            "-yᵀK⁻¹y/2, the complexity penalty -log|K|/2 and the constant -n log(2 pi)/2, with K including the noise."
        )
    return f"{value:.6f} nats, as GPyTorch computes."


# --- Exercise 4: kernel choice against held-out error ----------------------------------------


REFERENCE_KERNELS = {
    "RBF": ("gpytorch.kernels.RBFKernel(ard_num_dims=2)", 0.050918),
    "Matérn 1/2": ("gpytorch.kernels.MaternKernel(nu=0.5, ard_num_dims=2)", 0.083739),
    "Matérn 3/2": ("gpytorch.kernels.MaternKernel(nu=1.5, ard_num_dims=2)", 0.059756),
    "Matérn 5/2": ("gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=2)", 0.054498),
}
"""The exercise's example kernels: how to build each (inside a ``ScaleKernel``) and its
``emulator.held_out_rmse``, measured with torch 2.13 and GPyTorch 1.15 on a 2-core x86 CPU."""

REFERENCE_TOLERANCE = 0.05
"""Relative difference allowed from ``REFERENCE_KERNELS``. The four values lie at least 7% apart."""

_MATERN_NAME = re.compile(r"(matern(kernel)?)?(nu)?(12|05|32|15|52|25)")
_MATERN_ORDERS = {"12": "Matérn 1/2", "05": "Matérn 1/2", "32": "Matérn 3/2", "15": "Matérn 3/2", "52": "Matérn 5/2", "25": "Matérn 5/2"}
_RBF_NAMES = {"rbf", "rbfkernel", "se", "squaredexponential", "gaussian", "exponentiatedquadratic"}


def reference_kernel(name: str) -> str | None:
    """Return the key of ``REFERENCE_KERNELS`` that ``name`` spells, or None for any other kernel.

    Only whole names count ("Matérn 5/2", "matern_nu=2.5", "RBF"), so that a reader's own
    variant such as "Matérn 5/2 + linear" is never held to a reference value.
    """
    text = unicodedata.normalize("NFKD", name.replace("½", "1/2")).lower()
    text = "".join(character for character in text if character.isalnum())
    if text in _RBF_NAMES:
        return "RBF"
    match = _MATERN_NAME.fullmatch(text)
    if match and (match.group(1) or match.group(3)):
        return _MATERN_ORDERS[match.group(4)]
    return None


def _zero_prediction_rmse() -> float:
    """Return the RMSE on the held-out grid of the prediction u = 0 everywhere."""
    _, _, grid = emulator.candidate_grid()
    return float(emulator.simulator(grid).pow(2).mean().sqrt())


@checker("Exercise 4 (choice of kernel)")
def check_kernel_choice(errors: Any) -> str:
    """Check a mapping ``{kernel name: held-out RMSE}`` with at least three kernels.

    Every error must be positive and below the error of predicting u = 0 everywhere. An entry
    named after one of the exercise's example kernels must also match ``REFERENCE_KERNELS``.
    The reader's own kernels, under any other name, only get the range check.
    """
    if is_stub(errors):
        raise NotImplementedYet
    if not isinstance(errors, Mapping):
        raise CheckFailed(
            f"`errors` should be a dict from a kernel's name to its held-out RMSE, but it is of type {type(errors).__name__}."
        )
    if len(errors) == 0:
        raise NotImplementedYet("`errors` is still empty; fill it with {kernel name: held-out RMSE} for at least 3 kernels")
    if len(errors) < 3:
        raise CheckFailed(f"`errors` has {len(errors)} {'entry' if len(errors) == 1 else 'entries'}; compare at least 3 kernels.")

    ceiling = _zero_prediction_rmse()
    table = []
    for name, value in errors.items():
        if not isinstance(name, str):
            raise CheckFailed(f"the key {name!r} of `errors` should be the kernel's name, a string.")
        if is_stub(value):
            raise NotImplementedYet
        error = as_float(value, f"errors[{name!r}]")
        check_finite_number(error, f"errors[{name!r}]")
        if error <= 0:
            raise CheckFailed(f"errors[{name!r}] is {error:g}; a root-mean-square error is positive.")
        if error >= ceiling:
            raise CheckFailed(
                f"errors[{name!r}] is {error:.3g}, no better than predicting u = 0 everywhere ({ceiling:.3g}). "
                "Store the value that `emulator.held_out_rmse(kernel)` returns, a root-mean-square error."
            )
        _compare_with_reference(name, error)
        table.append((error, name))

    if len({error for error, _ in table}) == 1:
        raise CheckFailed(
            f"every kernel has the same error, {table[0][0]:.4g}: give each call of `emulator.held_out_rmse` "
            "its own kernel."
        )
    table.sort()
    (best_error, best), (worst_error, worst) = table[0], table[-1]
    return (
        f"The lowest held-out error is {best}'s ({best_error:.3g}), the highest {worst}'s ({worst_error:.3g}). "
        "Write down why before you open the model answer."
    )


def _compare_with_reference(name: str, error: float) -> None:
    """Raise :class:`CheckFailed` when an entry named after an example kernel has another error."""
    reference = reference_kernel(name)
    if reference is None:
        return
    construction, expected = REFERENCE_KERNELS[reference]
    if abs(error - expected) <= REFERENCE_TOLERANCE * expected:
        return
    hint = ""
    if math.isclose(error, expected**2, rel_tol=2 * REFERENCE_TOLERANCE):
        hint = " That is the square of the expected value, so take the square root of the mean squared error."
    raise CheckFailed(
        f"errors[{name!r}] is {error:.4g}, but `emulator.held_out_rmse(gpytorch.kernels.ScaleKernel({construction}))` "
        f"returns about {expected:.4g}.{hint} Build the {reference} kernel as the exercise says, or give your own "
        "variant a name of its own."
    )
