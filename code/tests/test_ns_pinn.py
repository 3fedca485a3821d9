"""Tests of the Navier–Stokes inverse PINN: derivatives, residuals, sampling, checkers and weights."""

from __future__ import annotations

import json
import math
from importlib import resources

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

from ml4es.pinns import navier_stokes as ns

BOUNDS = {"t": (60.0, 80.0), "x": (1.0, 8.0), "y": (-2.0, 2.0)}


@pytest.fixture(autouse=True)
def lenient_checks(monkeypatch):
    """Run checkers in their reader-facing mode, where a wrong answer returns a verdict."""
    monkeypatch.delenv("ML4ES_STRICT_CHECKS", raising=False)


def random_points(n: int = 64, seed: int = 0, dtype: torch.dtype = torch.float64):
    generator = torch.Generator().manual_seed(seed)
    columns = []
    for low, high in BOUNDS.values():
        columns.append(low + (high - low) * torch.rand(n, 1, generator=generator, dtype=dtype))
    return columns


def random_network(seed: int = 0, dtype: torch.dtype = torch.float64, depth: int = 8) -> ns.NavierStokesPINN:
    torch.manual_seed(seed)
    model = ns.NavierStokesPINN(BOUNDS, width=20, depth=depth, dtype=dtype)
    # Non-zero biases, so that the test does not rely on the initialisation's zeros.
    with torch.no_grad():
        for layer in [*model.hidden, model.output]:
            layer.bias.normal_(0.0, 0.3)
    return model


class TaylorGreenVortex(nn.Module):
    """The decaying Taylor–Green vortex, an exact Navier–Stokes solution with lambda1 = 1, lambda2 = nu.

    psi = cos(x) cos(y) F(t) with F = exp(-2 nu t) gives u = -cos(x) sin(y) F and
    v = sin(x) cos(y) F, and p = -(cos 2x + cos 2y) F^2 / 4.
    """

    def __init__(self, viscosity: float):
        super().__init__()
        self.viscosity = viscosity

    def forward(self, t, x, y):
        decay = torch.exp(-2 * self.viscosity * t)
        psi = torch.cos(x) * torch.cos(y) * decay
        p = -0.25 * (torch.cos(2 * x) + torch.cos(2 * y)) * decay**2
        return psi, p


# --- derivatives ----------------------------------------------------------------------------------


def test_fast_derivatives_match_autograd():
    model = random_network()
    t, x, y = random_points()
    fast = ns.flow_derivatives(model, t, x, y)
    reference = ns.autograd_derivatives(model, t, x, y)
    assert set(reference) <= set(fast)
    for name, expected in reference.items():
        scale = float(expected.detach().abs().max())
        difference = float((fast[name] - expected).abs().max())
        assert difference <= 1e-12 * max(scale, 1.0), f"{name}: {difference:.3g} (values up to {scale:.3g})"


def test_fast_derivatives_match_finite_differences():
    # Independent of autograd: central differences in physical units, so the chain rule of the
    # input normalisation (a different scale per coordinate) has to be right.
    model = random_network()
    t, x, y = random_points(16)
    d = ns.flow_derivatives(model, t, x, y)
    step = 1e-5
    with torch.no_grad():
        for name, shifted in (("t", lambda h: (t + h, x, y)), ("x", lambda h: (t, x + h, y)), ("y", lambda h: (t, x, y + h))):
            psi_plus, p_plus = model(*shifted(step))
            psi_minus, p_minus = model(*shifted(-step))
            assert torch.allclose(d[f"psi_{name}"], (psi_plus - psi_minus) / (2 * step), atol=1e-8), name
            assert torch.allclose(d[f"p_{name}"], (p_plus - p_minus) / (2 * step), atol=1e-8), name


def test_fast_loss_gradient_matches_autograd():
    model = random_network(depth=3)
    t, x, y = random_points(32)
    samples = ns.Samples(t, x, y, torch.sin(x), torch.cos(y), torch.zeros_like(t), 0.0)
    gradients = []
    for fast in (True, False):
        model.zero_grad()
        ns.loss(model, samples, fast=fast).backward()
        # The output biases get no gradient: the loss sees psi and p only through derivatives.
        gradients.append([torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in model.parameters()])
    for fast_gradient, reference in zip(*gradients):
        assert torch.allclose(fast_gradient, reference, rtol=1e-10, atol=1e-12)


def test_derivative_plan_faa_di_bruno():
    plan = ns.derivative_plan(["x", "y", "xx", "xy", "xxy"])
    terms = {(term.order, term.blocks): term.coefficient for term in plan["xxy"]}
    assert terms == {(1, ("xxy",)): 1, (2, ("x", "xy")): 2, (2, ("xx", "y")): 1, (3, ("x", "x", "y")): 1}


def test_derivative_plan_rejects_bad_names():
    with pytest.raises(ValueError, match="needs"):
        ns.derivative_plan(["xx"])
    with pytest.raises(ValueError, match="invalid derivative name"):
        ns.derivative_plan(["z"])
    with pytest.raises(ValueError, match="order 4"):
        ns.derivative_plan(["x", "xx", "xxx", "xxxx"])


# --- residuals ------------------------------------------------------------------------------------


def test_taylor_green_residuals_vanish():
    viscosity = 0.01
    vortex = TaylorGreenVortex(viscosity)
    t, x, y = random_points(50)
    derivatives = ns.autograd_derivatives(vortex, t, x, y)
    f, g = ns.residuals(derivatives, 1.0, viscosity)
    assert f.shape == (50, 1)
    assert float(f.abs().max()) < 1e-12
    assert float(g.abs().max()) < 1e-12


def test_taylor_green_velocities():
    vortex = TaylorGreenVortex(0.01)
    t, x, y = random_points(20)
    u, v = ns.velocities(ns.autograd_derivatives(vortex, t, x, y))
    decay = torch.exp(-0.02 * t)
    assert torch.allclose(u, -torch.cos(x) * torch.sin(y) * decay, atol=1e-14)
    assert torch.allclose(v, torch.sin(x) * torch.cos(y) * decay, atol=1e-14)


@pytest.mark.parametrize(("lambda1", "lambda2"), [(1.0, 0.02), (0.9, 0.01), (1.0, 0.0)])
def test_taylor_green_wrong_lambdas_leave_residual(lambda1, lambda2):
    vortex = TaylorGreenVortex(0.01)
    t, x, y = random_points(50)
    f, g = ns.residuals(ns.autograd_derivatives(vortex, t, x, y), lambda1, lambda2)
    assert float(torch.cat([f, g]).abs().max()) > 1e-4


# --- samples and the network ----------------------------------------------------------------------


def small_wake(snapshots: int = 6) -> xr.Dataset:
    """Return a small analytic data set shaped like the cylinder wake (the Taylor–Green vortex)."""
    time = np.linspace(60.0, 61.0, snapshots)
    y = np.linspace(-2.0, 2.0, 9)
    x = np.linspace(1.0, 8.0, 15)
    grid_t, grid_y, grid_x = np.meshgrid(time, y, x, indexing="ij")
    decay = np.exp(-0.02 * grid_t)
    fields = {
        "u": -np.cos(grid_x) * np.sin(grid_y) * decay,
        "v": np.sin(grid_x) * np.cos(grid_y) * decay,
        "p": -0.25 * (np.cos(2 * grid_x) + np.cos(2 * grid_y)) * decay**2,
    }
    return xr.Dataset(
        {name: (("time", "y", "x"), values) for name, values in fields.items()},
        coords={"time": time, "y": y, "x": x},
        attrs={"reynolds_number": 100.0},
    )


def test_sample_wake_shapes_and_values():
    dataset = small_wake()
    samples = ns.sample_wake(dataset, n=100, seed=3)
    assert len(samples) == 100
    for name in ("t", "x", "y", "u", "v", "p"):
        assert getattr(samples, name).shape == (100, 1)
        assert getattr(samples, name).dtype == torch.float32
    expected_u = -torch.cos(samples.x) * torch.sin(samples.y) * torch.exp(-0.02 * samples.t)
    assert torch.allclose(samples.u, expected_u, atol=1e-5)
    points = set(zip(samples.t.ravel().tolist(), samples.x.ravel().tolist(), samples.y.ravel().tolist()))
    assert len(points) == 100


def test_sample_wake_seeds():
    dataset = small_wake()
    first = ns.sample_wake(dataset, n=50, noise=0.01, seed=1)
    again = ns.sample_wake(dataset, n=50, noise=0.01, seed=1)
    other = ns.sample_wake(dataset, n=50, noise=0.01, seed=2)
    assert torch.equal(first.u, again.u)
    assert torch.equal(first.t, again.t)
    assert not torch.equal(first.t, other.t)


def test_sample_wake_noise_level():
    dataset = small_wake(snapshots=40)
    clean = ns.sample_wake(dataset, n=4000, seed=0, dtype=torch.float64)
    noisy = ns.sample_wake(dataset, n=4000, noise=0.01, seed=0, dtype=torch.float64)
    assert torch.equal(clean.t, noisy.t)
    assert torch.equal(clean.p, noisy.p)
    relative = float((noisy.u - clean.u).std() / clean.u.std())
    assert relative == pytest.approx(0.01, rel=0.1)


@pytest.mark.parametrize(("keyword", "value", "match"), [("n", 0, "number of samples"), ("n", 10**6, "number of samples"), ("noise", -0.1, "noise level"), ("noise", math.nan, "noise level")])
def test_sample_wake_rejects_bad_input(keyword, value, match):
    with pytest.raises(ValueError, match=match):
        ns.sample_wake(small_wake(), **{"n": 100, keyword: value})


def test_sample_wake_needs_variables():
    with pytest.raises(ValueError, match="no variable"):
        ns.sample_wake(small_wake().drop_vars("p"))


def test_network_rejects_bad_arguments():
    with pytest.raises(ValueError, match="network size"):
        ns.NavierStokesPINN(BOUNDS, width=0)
    with pytest.raises(ValueError, match="min < max"):
        ns.NavierStokesPINN({**BOUNDS, "x": (2.0, 2.0)})
    with pytest.raises(ValueError, match="no entry"):
        ns.NavierStokesPINN({"t": (0.0, 1.0)})


def test_normalisation_maps_bounds_to_unit_interval():
    model = ns.NavierStokesPINN(BOUNDS, dtype=torch.float64)
    low = [torch.tensor([[value[0]]], dtype=torch.float64) for value in BOUNDS.values()]
    high = [torch.tensor([[value[1]]], dtype=torch.float64) for value in BOUNDS.values()]
    assert torch.allclose(model.normalise(*low), -torch.ones(1, 3, dtype=torch.float64))
    assert torch.allclose(model.normalise(*high), torch.ones(1, 3, dtype=torch.float64))


def test_evaluate_exact_pressure_offset():
    # The errors ignore a pressure offset per snapshot: only the pressure gradient is identifiable.
    dataset = small_wake()
    shifted = dataset.copy()
    shifted["p"] = dataset["p"] + xr.DataArray(np.arange(6.0), dims="time")
    assert ns.relative_l2(ns.remove_mean_pressure(shifted["p"]), ns.remove_mean_pressure(dataset["p"])) < 1e-12


def test_training_lowers_loss():
    dataset = small_wake()
    samples = ns.sample_wake(dataset, n=200, seed=0)
    torch.manual_seed(0)
    model = ns.NavierStokesPINN(ns.domain_bounds(dataset), width=10, depth=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = ns.train(model, samples, optimizer, 60, progress=False)
    assert len(history["loss"]) == 60
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert len(history["lambda2"]) == 60


# --- checkers ---------------------------------------------------------------------------------------


def residuals_answer(d, lambda1, lambda2):
    u, v = d["psi_y"], -d["psi_x"]
    f = d["psi_ty"] + lambda1 * (u * d["psi_xy"] + v * d["psi_yy"]) + d["p_x"] - lambda2 * (d["psi_xxy"] + d["psi_yyy"])
    g = -d["psi_tx"] + lambda1 * (-u * d["psi_xx"] - v * d["psi_xy"]) + d["p_y"] + lambda2 * (d["psi_xxx"] + d["psi_xyy"])
    return f, g


def velocities_answer(model, t, x, y):
    x = x.clone().requires_grad_(True)
    y = y.clone().requires_grad_(True)
    psi, _ = model(t, x, y)
    psi_x, psi_y = torch.autograd.grad(psi, (x, y), grad_outputs=torch.ones_like(psi), create_graph=True)
    return psi_y, -psi_x


def pressure_error_answer(predicted, reference):
    predicted = np.asarray(predicted)
    reference = np.asarray(reference)
    predicted = predicted - predicted.mean(axis=(1, 2), keepdims=True)
    reference = reference - reference.mean(axis=(1, 2), keepdims=True)
    return np.linalg.norm(predicted - reference) / np.linalg.norm(reference)


def fit_lambdas_answer(d):
    return checks.least_squares_lambdas(d)


from ml4es.checks import NOT_IMPLEMENTED  # noqa: E402
from ml4es.pinns import ns_checks as checks  # noqa: E402

CHECKERS = [
    (checks.check_residuals, residuals_answer),
    (checks.check_velocities, velocities_answer),
    (checks.check_pressure_error, pressure_error_answer),
    (checks.check_least_squares_lambdas, fit_lambdas_answer),
]


@pytest.mark.parametrize(("check", "answer"), CHECKERS)
def test_checker_accepts_answer(check, answer):
    verdict = check(answer)
    assert verdict.passed is True, verdict.message


@pytest.mark.parametrize(("check", "answer"), CHECKERS)
def test_checker_stub_not_implemented(check, answer):
    def stub(*args):
        ...

    def raising_stub(*args):
        raise NotImplementedError

    for value in (..., None, stub, raising_stub):
        verdict = check(value)
        assert verdict.passed is None, verdict.message
        assert NOT_IMPLEMENTED in verdict.message


@pytest.mark.parametrize(("check", "answer"), CHECKERS)
@pytest.mark.parametrize("bad", [42, "text", lambda *args: torch.full((3, 3), math.nan), lambda *args: (torch.ones(5), torch.ones(5)), lambda *args: 1 / 0])
def test_checker_rejects_bad_input(check, answer, bad):
    verdict = check(bad)
    assert verdict.passed is False
    assert "Traceback" not in verdict.message


def test_residual_checker_hints():
    def wrong_pressure_sign(d, lambda1, lambda2):
        f, g = residuals_answer(d, lambda1, lambda2)
        return f - 2 * d["p_x"], g

    def fixed_lambda2(d, lambda1, lambda2):
        return residuals_answer(d, lambda1, 0.01)

    def numpy_answer(d, lambda1, lambda2):
        f, g = residuals_answer(d, lambda1, lambda2)
        return f.detach().numpy(), g.detach().numpy().ravel()

    assert "wrong sign" in checks.check_residuals(wrong_pressure_sign).message
    assert "1/Re" in checks.check_residuals(fixed_lambda2).message
    assert checks.check_residuals(numpy_answer).passed is True

    def changes_derivatives(d, lambda1, lambda2):
        answer = residuals_answer(d, lambda1, lambda2)
        d["psi_y"] *= 0
        return answer

    assert checks.check_residuals(changes_derivatives).passed is True


def test_velocity_checker_hints():
    def swapped(model, t, x, y):
        u, v = velocities_answer(model, t, x, y)
        return -v, -u

    assert "swapped" in checks.check_velocities(swapped).message

    def reversed_order(model, t, x, y):
        u, v = velocities_answer(model, t, x, y)
        return v, u

    assert "returned in the wrong order" in checks.check_velocities(reversed_order).message


def test_velocity_checker_inputs_without_grad():
    def no_requires_grad(model, t, x, y):
        psi, _ = model(t, x, y)
        psi_x, psi_y = torch.autograd.grad(psi, (x, y), grad_outputs=torch.ones_like(psi), create_graph=True)
        return psi_y, -psi_x

    verdict = checks.check_velocities(no_requires_grad)

    assert verdict.passed is False
    assert "requires_grad_" in verdict.message


def velocities_without_create_graph(model, t, x, y):
    x = x.clone().requires_grad_(True)
    y = y.clone().requires_grad_(True)
    psi, _ = model(t, x, y)
    psi_x, psi_y = torch.autograd.grad(psi, (x, y), grad_outputs=torch.ones_like(psi))
    return psi_y, -psi_x


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (velocities_without_create_graph, "create_graph=True"),
        (lambda *args: tuple(value.detach() for value in velocities_answer(*args)), "carry no graph"),
        (lambda *args: tuple(value.detach().requires_grad_(True) for value in velocities_answer(*args)), "not connected"),
        (lambda *args: tuple(value.detach().numpy() for value in velocities_answer(*args)), "not tensors"),
    ],
)
def test_velocity_checker_rejects_missing_graph(answer, phrase):
    verdict = checks.check_velocities(answer)

    assert verdict.passed is False
    assert phrase in verdict.message
    assert "right values" in verdict.message


def test_velocity_checker_accepts_float32():
    verdict = checks.check_velocities(lambda *args: tuple(value.float() for value in velocities_answer(*args)))

    assert verdict.passed is True, verdict.message


def test_pressure_checker_hints():
    def no_removal(predicted, reference):
        predicted, reference = np.asarray(predicted), np.asarray(reference)
        return np.linalg.norm(predicted - reference) / np.linalg.norm(reference)

    def global_mean(predicted, reference):
        predicted, reference = np.asarray(predicted), np.asarray(reference)
        predicted, reference = predicted - predicted.mean(), reference - reference.mean()
        return np.linalg.norm(predicted - reference) / np.linalg.norm(reference)

    def mean_per_snapshot(predicted, reference):
        predicted, reference = np.asarray(predicted), np.asarray(reference)
        predicted = predicted - predicted.mean(axis=(1, 2), keepdims=True)
        reference = reference - reference.mean(axis=(1, 2), keepdims=True)
        errors = [np.linalg.norm(p - q) / np.linalg.norm(q) for p, q in zip(predicted, reference)]
        return float(np.mean(errors))

    def per_cent(predicted, reference):
        return 100 * pressure_error_answer(predicted, reference)

    def per_cent_per_snapshot(predicted, reference):
        return 100 * mean_per_snapshot(predicted, reference)

    assert "offset" in checks.check_pressure_error(no_removal).message
    per_snapshot_verdict = checks.check_pressure_error(mean_per_snapshot)
    assert "mean of one relative error per snapshot" in per_snapshot_verdict.message
    assert "percentage" not in per_snapshot_verdict.message
    per_cent_verdict = checks.check_pressure_error(per_cent)
    assert "percentage" in per_cent_verdict.message
    assert "per snapshot" not in per_cent_verdict.message
    both_verdict = checks.check_pressure_error(per_cent_per_snapshot)
    assert "percentage" in both_verdict.message
    assert "per snapshot" in both_verdict.message
    assert "each snapshot" in checks.check_pressure_error(global_mean).message
    empty = checks.check_pressure_error(lambda predicted, true: np.array([]))
    assert "returned 0 values; expected one number" in empty.message
    assert checks.check_pressure_error(lambda p, q: torch.tensor(pressure_error_answer(p, q))).passed is True


def test_pressure_checker_accepts_tensor_needing_grad():
    verdict = checks.check_pressure_error(lambda p, q: torch.tensor(pressure_error_answer(p, q), requires_grad=True))

    assert verdict.passed is True, verdict.message


def test_pressure_checker_xarray_only():
    def xarray_only(predicted, reference):
        predicted = predicted - predicted.mean(("x", "y"))
        reference = reference - reference.mean(("x", "y"))
        return float(np.sqrt(((predicted - reference) ** 2).sum() / (reference**2).sum()))

    verdict = checks.check_pressure_error(xarray_only)

    assert verdict.passed is False
    assert "NumPy arrays and DataArrays" in verdict.message
    assert "axis=(1, 2)" in verdict.message


def test_pressure_checker_numpy_only():
    def numpy_only(predicted, reference):
        predicted = predicted - predicted.mean(axis=(1, 2))[:, None, None]
        reference = reference - reference.mean(axis=(1, 2))[:, None, None]
        return float(np.linalg.norm(predicted - reference) / np.linalg.norm(reference))

    verdict = checks.check_pressure_error(numpy_only)

    assert verdict.passed is False
    assert "NumPy arrays and DataArrays" in verdict.message


def test_least_squares_recovers_vortex():
    d = checks.probe_derivatives(checks.TaylorGreenVortex(0.02))
    assert torch.allclose(checks.least_squares_lambdas(d), torch.tensor([1.0, 0.02], dtype=torch.float64), atol=1e-10)


# --- shipped weights --------------------------------------------------------------------------------


def shipped_record() -> dict:
    return json.loads((resources.files("ml4es") / "weights" / "ns_inverse_pinn.json").read_text())


def test_shipped_weights_small_and_recorded():
    folder = resources.files("ml4es") / "weights"
    with resources.as_file(folder / "ns_inverse_pinn.pt") as path:
        assert path.stat().st_size < 5 * 2**20
        weights = torch.load(path, weights_only=True)
    record = shipped_record()
    assert set(weights) == {"clean", "noisy"}
    for case in ("clean", "noisy"):
        entry = record["cases"][case]
        assert entry["command"].startswith("python scripts/train_ns_inverse_pinn.py")
        assert entry["train_seconds"] > 0
        for name in ("lambda1_error", "lambda2_error", "u_error", "v_error", "p_error"):
            assert name in entry["metrics"], f"{case}: {name} missing"
        model = ns.NavierStokesPINN(BOUNDS)
        model.load_state_dict(weights[case])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["clean", "noisy"])
def test_shipped_weights_reproduce_metrics(case):
    # Reads the production wake from the cache, or simulates it (minutes).
    from ml4es.flows import wake_dataset

    dataset = wake_dataset(progress=False)
    with resources.as_file(resources.files("ml4es") / "weights" / "ns_inverse_pinn.pt") as path:
        state = torch.load(path, weights_only=True)[case]
    model = ns.NavierStokesPINN(ns.domain_bounds(dataset))
    model.load_state_dict(state)
    measured = ns.evaluate(model, dataset)
    recorded = shipped_record()["cases"][case]["metrics"]
    for name in ("lambda1", "lambda2", "u_error", "v_error", "p_error"):
        assert measured[name] == pytest.approx(recorded[name], rel=1e-4), name


def test_lambda_convergence_marks_the_restarts():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ml4es.pinns import ns_plots

    log = [
        {"phase": phase, "seconds": seconds, "loss": 1.0 / seconds, "lambda1_error": 0.1, "lambda2_error": 0.5}
        for phase, seconds in (("Adam", 60), ("L-BFGS", 120), ("L-BFGS", 300), ("L-BFGS", 360))
    ]
    figure = ns_plots.lambda_convergence(log, restarts=[240.0])
    left = figure.axes[0]
    dashed = [line for line in left.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in dashed] == [4.0]
    assert "new run" in [text.get_text() for text in left.get_legend().get_texts()]
    plt.close(figure)
