"""Tests of the heat-equation PINN module, its checkers and its pretrained weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ml4es
from ml4es.checks import NOT_IMPLEMENTED
from ml4es.pinns import heat, heat_checks
from ml4es.pinns.heat_checks import (
    ExactSolution,
    check_collocation_study,
    check_initial_boundary_loss,
    check_learnable_alpha,
    check_residual,
)


@pytest.fixture(autouse=True)
def lenient_checks(monkeypatch):
    """Run checkers in their reader-facing mode, where a wrong answer returns a verdict."""
    monkeypatch.delenv("ML4ES_STRICT_CHECKS", raising=False)


# --- exact solution and finite differences ------------------------------------------------------


def test_analytic_solution_satisfies_pde():
    t = torch.linspace(0.05, 1.0, 7, dtype=torch.float64).reshape(-1, 1)
    x = torch.linspace(0.05, 0.95, 7, dtype=torch.float64).reshape(-1, 1)
    residual = heat.residual(ExactSolution(), t, x, heat.ALPHA)
    assert residual.shape == (7, 1)
    assert float(residual.detach().abs().max()) < 1e-12


def test_analytic_solution_meets_conditions():
    x = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
    initial = heat.analytic_solution(torch.zeros_like(x), x)
    expected = torch.sin(math.pi * x) + 0.5 * torch.sin(2 * math.pi * x)
    assert torch.allclose(initial, expected, atol=1e-15)
    assert float(heat.analytic_solution(t, torch.zeros_like(t)).abs().max()) < 1e-15
    assert float(heat.analytic_solution(t, torch.ones_like(t)).abs().max()) < 1e-15


def test_analytic_solution_mode_decay():
    x = np.array([0.5])
    u = heat.analytic_solution(np.array([1.0]), x, alpha=0.1, modes=((1, 1.0),))
    assert isinstance(u, np.ndarray)
    assert u[0] == pytest.approx(math.exp(-0.1 * math.pi**2))


def test_backward_heat_amplifies_noise():
    demo = heat.backward_heat_demo(noise=1e-3, t_stop=0.95)
    errors = demo["rms_error"]
    assert errors[0] < 2e-3
    assert errors[-1] > 1e3 * errors[0]
    assert demo["u"].shape == (len(demo["t"]), len(demo["x"]))


# --- points, network, residual and losses -------------------------------------------------------


def test_sample_points_shapes_and_range():
    points = heat.sample_points(n_interior=64, n_initial=16, n_boundary=8, seed=3)
    assert points.t_interior.shape == (64, 1)
    assert points.x_interior.shape == (64, 1)
    assert points.x_initial.shape == (16, 1)
    assert points.t_boundary.shape == (8, 1)
    assert points.t_interior.dtype == torch.float64
    for tensor in (points.t_interior, points.x_interior, points.x_initial, points.t_boundary):
        assert float(tensor.min()) >= 0.0
        assert float(tensor.max()) <= 1.0


def test_sample_points_is_reproducible():
    first = heat.sample_points(n_interior=32, seed=1)
    second = heat.sample_points(n_interior=32, seed=1)
    other = heat.sample_points(n_interior=32, seed=2)
    assert torch.equal(first.x_interior, second.x_interior)
    assert not torch.equal(first.x_interior, other.x_interior)


def test_sample_points_rejects_zero():
    with pytest.raises(ValueError, match="n_interior"):
        heat.sample_points(n_interior=0)


def test_network_output_shape():
    model = heat.HeatPINN(width=8, depth=2)
    t = torch.rand(5, 1, dtype=torch.float64)
    assert model(t, t).shape == (5, 1)


def test_residual_matches_finite_differences():
    torch.manual_seed(0)
    model = heat.HeatPINN(width=8, depth=2)
    t = torch.tensor([[0.3], [0.7]], dtype=torch.float64)
    x = torch.tensor([[0.4], [0.6]], dtype=torch.float64)
    h = 1e-4
    with torch.no_grad():
        u_t = (model(t + h, x) - model(t - h, x)) / (2 * h)
        u_xx = (model(t, x + h) - 2 * model(t, x) + model(t, x - h)) / h**2
    residual = heat.residual(model, t, x, 0.2)
    assert torch.allclose(residual.detach(), u_t - 0.2 * u_xx, atol=1e-6)
    assert residual.requires_grad


def test_losses_vanish_for_exact_solution():
    points = heat.sample_points(n_interior=50, n_initial=20, n_boundary=20)
    exact = ExactSolution()
    assert float(heat.initial_loss(exact, points.x_initial)) < 1e-28
    assert float(heat.boundary_loss(exact, points.t_boundary)) < 1e-28
    assert float(heat.forward_loss(exact, points).detach()) < 1e-24


def test_forward_loss_is_weighted_sum():
    torch.manual_seed(0)
    model = heat.HeatPINN(width=8, depth=2)
    points = heat.sample_points(n_interior=30, n_initial=10, n_boundary=10)
    weights = heat.LossWeights(pde=2.0, initial=3.0, boundary=5.0)
    pde = heat.residual(model, points.t_interior, points.x_interior, heat.ALPHA).pow(2).mean()
    expected = 2 * pde + 3 * heat.initial_loss(model, points.x_initial) + 5 * heat.boundary_loss(model, points.t_boundary)
    loss = heat.forward_loss(model, points, heat.ALPHA, weights).detach()
    assert float(loss) == pytest.approx(float(expected.detach()), rel=1e-12)


def test_short_training_lowers_loss():
    torch.manual_seed(0)
    model = heat.HeatPINN(width=8, depth=2)
    points = heat.sample_points(n_interior=100, n_initial=20, n_boundary=20)
    history = heat.train_forward(model, points, adam_steps=20, lbfgs_steps=20, progress=False)
    assert len(history["Adam"]) == 20
    assert len(history["L-BFGS"]) == 20
    assert history["L-BFGS"][-1] < 0.5 * history["Adam"][0]
    assert history["L-BFGS"][-1] < history["Adam"][-1]


def test_observations_noise_level():
    clean = heat.observe(n=500, noise=0.0, seed=0)
    noisy = heat.observe(n=500, noise=0.1, seed=0)
    assert clean.u.shape == (500, 1)
    assert torch.allclose(clean.u, heat.analytic_solution(clean.t, clean.x))
    rms = float(clean.u.pow(2).mean().sqrt())
    noise_std = float((noisy.u - clean.u).std())
    assert noise_std == pytest.approx(0.1 * rms, rel=0.15)


def test_observations_reject_negative_noise():
    with pytest.raises(ValueError, match="noise"):
        heat.observe(noise=-0.1)


def test_inverse_model_alpha_positive():
    model = heat.InverseHeatPINN(alpha_guess=0.1, width=8, depth=2)
    assert model.alpha.item() == pytest.approx(0.1)
    assert model.log_alpha.requires_grad
    with pytest.raises(ValueError, match="alpha_guess"):
        heat.InverseHeatPINN(alpha_guess=0.0)


def test_inverse_loss_reaches_alpha():
    model = heat.InverseHeatPINN(alpha_guess=0.1, width=8, depth=2)
    observations = heat.observe(n=20, noise=0.0)
    points = heat.sample_points(n_interior=20, n_initial=1, n_boundary=10)
    heat.inverse_loss(model, observations, points).backward()
    assert model.log_alpha.grad is not None
    assert float(model.log_alpha.grad.abs()) > 0


# --- pretrained weights and records -------------------------------------------------------------


def test_pretrained_forward_reaches_target():
    model = heat.load_pretrained("heat_forward")
    assert heat.relative_l2_error(model) <= 1e-3


def test_pretrained_record_matches_weights():
    record = heat.load_record("heat_forward")
    model = heat.load_pretrained("heat_forward")
    assert heat.relative_l2_error(model) == pytest.approx(record["metrics"]["relative_l2_error"], rel=1e-6)
    for key in ("command", "machine", "train_seconds", "recipe"):
        assert key in record


def test_inverse_sweep_reaches_target():
    sweep = heat.load_inverse_sweep()
    one_percent = [run["alpha"] for run in sweep["runs"] if run["noise"] == 0.01]
    assert len(one_percent) >= 3
    for alpha in one_percent:
        assert abs(alpha - heat.ALPHA) / heat.ALPHA <= 0.01


def test_missing_record_names_script():
    with pytest.raises(FileNotFoundError, match="train_heat_pinn"):
        heat.load_record("no_such_weights")


# --- checkers: correct answers ------------------------------------------------------------------


def reference_residual(model, t, x, alpha):
    return heat.residual(model, t, x, alpha)


def reference_initial_boundary_loss(model, x_initial, t_boundary):
    return heat.initial_loss(model, x_initial) + heat.boundary_loss(model, t_boundary)


def test_residual_checker_accepts_reference():
    assert check_residual(reference_residual).passed is True


def test_residual_checker_accepts_flat_output():
    def flat(model, t, x, alpha):
        return heat.residual(model, t, x, alpha).reshape(-1)

    assert check_residual(flat).passed is True


def test_initial_boundary_checker_accepts_reference():
    assert check_initial_boundary_loss(reference_initial_boundary_loss).passed is True


def test_learnable_alpha_checker_accepts_parameter():
    verdict = check_learnable_alpha(torch.nn.Parameter(torch.tensor(0.1, dtype=torch.float64)))
    assert verdict.passed is True
    assert "0.0500" in verdict.message


def test_learnable_alpha_checker_accepts_requires_grad():
    assert check_learnable_alpha(torch.tensor([0.2], requires_grad=True)).passed is True


def test_collocation_checker_accepts_dict():
    verdict = check_collocation_study({20: 0.3, 100: 0.01, 500: 0.002})
    assert verdict.passed is True
    assert "falls" in verdict.message


def test_collocation_checker_accepts_chapter_answer():
    # The chapter's solution run with one torch thread, next to the reference measured with two.
    assert check_collocation_study({10: 0.0295, 50: 0.00418, 500: 0.00375}).passed is True
    assert check_collocation_study(dict(heat_checks.COLLOCATION_REFERENCE)).passed is True


def test_collocation_checker_allows_level_error():
    # Beyond a few hundred points the error levels off and may rise a little.
    assert check_collocation_study({10: 0.03, 100: 0.0035, 500: 0.0037, 2000: 0.004}).passed is True


# --- checkers: untouched stubs ------------------------------------------------------------------


def stub_raising(*args):
    raise NotImplementedError


def stub_ellipsis(*args):
    ...


@pytest.mark.parametrize("check", [check_residual, check_initial_boundary_loss])
@pytest.mark.parametrize("stub", [stub_raising, stub_ellipsis, Ellipsis, None])
def test_function_checkers_report_stub(check, stub):
    verdict = check(stub)
    assert verdict.passed is None
    assert NOT_IMPLEMENTED in verdict.message


@pytest.mark.parametrize("stub", [Ellipsis, None])
def test_alpha_checker_reports_stub(stub):
    verdict = check_learnable_alpha(stub)
    assert verdict.passed is None
    assert NOT_IMPLEMENTED in verdict.message


@pytest.mark.parametrize("stub", [{}, Ellipsis, None, {20: ..., 100: ..., 500: ...}])
def test_collocation_checker_reports_stub(stub):
    verdict = check_collocation_study(stub)
    assert verdict.passed is None
    assert NOT_IMPLEMENTED in verdict.message


# --- checkers: wrong answers --------------------------------------------------------------------


def wrong_sign(model, t, x, alpha):
    return heat.residual(model, t, x, -alpha)


def detached(model, t, x, alpha):
    return heat.residual(model, t, x, alpha).detach()


def as_numpy(model, t, x, alpha):
    return heat.residual(model, t, x, alpha).detach().numpy()


def no_requires_grad(model, t, x, alpha):
    u = model(t, x)
    (u_t,) = torch.autograd.grad(u, t, torch.ones_like(u))
    return u_t


def second_graph_missing(model, t, x, alpha):
    t = t.clone().requires_grad_(True)
    x = x.clone().requires_grad_(True)
    u = model(t, x)
    u_t, u_x = torch.autograd.grad(u, (t, x), torch.ones_like(u), create_graph=True)
    (u_xx,) = torch.autograd.grad(u_x, x, torch.ones_like(u_x))
    return u_t - alpha * u_xx


def first_derivative(model, t, x, alpha):
    t = t.clone().requires_grad_(True)
    x = x.clone().requires_grad_(True)
    u = model(t, x)
    u_t, u_x = torch.autograd.grad(u, (t, x), torch.ones_like(u), create_graph=True)
    return u_t - alpha * u_x


def global_alpha(model, t, x, alpha):
    return heat.residual(model, t, x, heat.ALPHA)


def wrong_shape(model, t, x, alpha):
    return heat.residual(model, t, x, alpha)[:5]


def with_nan(model, t, x, alpha):
    values = heat.residual(model, t, x, alpha).clone()
    values[0] = float("nan")
    return values


def as_float32(model, t, x, alpha):
    return heat.residual(model, t, x, alpha).float()


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (wrong_sign, "sign"),
        (detached, "create_graph=True"),
        (as_numpy, "not a tensor"),
        (no_requires_grad, "requires_grad_"),
        (second_graph_missing, "with respect to the weights"),
        (first_derivative, "first derivative"),
        (global_alpha, "`alpha` argument"),
        (wrong_shape, "shape"),
        (with_nan, "NaN"),
        ("residual", "should be a function"),
        (lambda model, t, x, alpha: "text", "is text ('text'); expected numbers."),
    ],
)
def test_residual_checker_rejects(answer, phrase):
    verdict = check_residual(answer)
    assert verdict.passed is False
    assert phrase in verdict.message


def test_residual_checker_accepts_float32():
    assert check_residual(as_float32).passed is True


def initial_only(model, x_initial, t_boundary):
    return heat.initial_loss(model, x_initial)


def left_end_only(model, x_initial, t_boundary):
    left = model(t_boundary, torch.zeros_like(t_boundary)).pow(2).mean()
    return heat.initial_loss(model, x_initial) + left


def as_python_float(model, x_initial, t_boundary):
    return reference_initial_boundary_loss(model, x_initial, t_boundary).item()


def summed_initial(model, x_initial, t_boundary):
    misfit = model(torch.zeros_like(x_initial), x_initial) - heat.initial_condition(x_initial)
    return misfit.pow(2).sum() + heat.boundary_loss(model, t_boundary)


def vector_loss(model, x_initial, t_boundary):
    return torch.ones(3, dtype=torch.float64)


def nan_loss(model, x_initial, t_boundary):
    return torch.tensor(float("nan"))


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (initial_only, "only the initial term"),
        (left_end_only, "x = 0 only"),
        (as_python_float, "without `.item()`"),
        (summed_initial, "sum of squares"),
        (vector_loss, "single number"),
        (nan_loss, "NaN"),
        (lambda model, x_initial, t_boundary: 1.0 / 0.0, "ZeroDivisionError"),
        (42, "should be a function"),
    ],
)
def test_initial_boundary_checker_rejects(answer, phrase):
    verdict = check_initial_boundary_loss(answer)
    assert verdict.passed is False
    assert phrase in verdict.message


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (0.1, "float"),
        (np.array(0.1), "ndarray"),
        (torch.tensor(0.1, dtype=torch.float64), "does not require grad"),
        (torch.tensor(0.1, dtype=torch.float64, requires_grad=True) * 1.0, "leaf"),
        (torch.nn.Parameter(torch.tensor([0.1, 0.2])), "single number"),
        (torch.nn.Parameter(torch.tensor(-0.1)), "positive"),
        (torch.nn.Parameter(torch.tensor(float("nan"))), "finite"),
        (torch.tensor(1), "floating point"),
    ],
)
def test_alpha_checker_rejects(answer, phrase):
    verdict = check_learnable_alpha(answer)
    assert verdict.passed is False
    assert phrase in verdict.message


def test_alpha_checker_leaves_alpha_unchanged():
    alpha = torch.nn.Parameter(torch.tensor(0.1, dtype=torch.float64))
    check_learnable_alpha(alpha)
    assert alpha.item() == 0.1
    assert alpha.grad is None


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        ([0.1, 0.01, 0.001], "dict"),
        ({20: 0.1, 100: 0.01}, "at least 3"),
        ({20: 0.1, 100: float("nan"), 500: 0.001}, "NaN"),
        ({20: 0.1, 100: -0.01, 500: 0.001}, "positive"),
        ({"few": 0.1, 100: 0.01, 500: 0.001}, "whole number"),
        ({20: "small", 100: 0.01, 500: 0.001}, "is text ('small'); expected numbers."),
        ({20: 0.1, 100: 1.02, 500: 0.004}, "untrained network"),
        ({20: 0.02, 100: 0.02, 200: 0.02}, "same error"),
        ({10: 0.0002, 50: 0.0003, 500: 0.0003}, "final training loss"),
        ({10: 0.03, 50: 0.004, 500: 0.05}, "recipe gives about"),
        ({5: 0.001, 20: 0.2, 100: 0.01}, "not below the error with 5"),
    ],
)
def test_collocation_checker_rejects(answer, phrase):
    verdict = check_collocation_study(answer)
    assert verdict.passed is False
    assert phrase in verdict.message


def test_collocation_checker_accepts_tensors():
    errors = {20: torch.tensor(0.2), np.int64(100): np.float64(0.01), 500: torch.tensor([0.003])}
    assert check_collocation_study(errors).passed is True


@pytest.mark.slow
def test_collocation_reference_reproduces():
    ml4es.seed_everything(0)
    network = heat.HeatPINN()
    heat.train_forward(network, heat.sample_points(n_interior=10), adam_steps=100, lbfgs_steps=200, progress=False)
    assert heat.relative_l2_error(network) == pytest.approx(heat_checks.COLLOCATION_REFERENCE[10], rel=0.3)


def test_checkers_keep_global_random_state():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    check_residual(reference_residual)
    check_initial_boundary_loss(reference_initial_boundary_loss)
    assert torch.equal(torch.rand(3), expected)


def test_initial_boundary_checker_explains_float32_initial_condition():
    def single_precision(model, x_initial, t_boundary):
        u_initial = model(torch.zeros_like(x_initial), x_initial)
        target = heat.initial_condition(x_initial).float().double()
        ends = torch.cat([torch.zeros_like(t_boundary), torch.ones_like(t_boundary)])
        u_ends = model(torch.cat([t_boundary, t_boundary]), ends)
        return (u_initial - target).pow(2).mean() + u_ends.pow(2).mean()

    verdict = check_initial_boundary_loss(single_precision)
    assert verdict.passed is False
    assert "float32 rounding" in verdict.message


def test_collocation_checker_names_equal_errors_first():
    reference = heat_checks.COLLOCATION_REFERENCE
    same = next(iter(reference.values()))
    verdict = check_collocation_study({n: same for n in reference})
    assert verdict.passed is False
    assert "same error" in verdict.message


def test_collocation_checker_suggests_fractions_for_percentages():
    verdict = check_collocation_study({n: 100 * error for n, error in heat_checks.COLLOCATION_REFERENCE.items()})
    assert verdict.passed is False
    assert "divide by 100" in verdict.message


def test_initial_boundary_checker_names_swapped_arguments():
    def swapped(model, x_initial, t_boundary):
        u_initial = model(x_initial, torch.zeros_like(x_initial))
        misfit = (u_initial - heat.initial_condition(x_initial)).pow(2).mean()
        ends = torch.cat([torch.zeros_like(t_boundary), torch.ones_like(t_boundary)])
        return misfit + model(ends, torch.cat([t_boundary, t_boundary])).pow(2).mean()

    verdict = check_initial_boundary_loss(swapped)
    assert verdict.passed is False
    assert "model(t, x), time first" in verdict.message
