"""Tests of the hidden fluid mechanics PINN: derivatives, residuals, sampling, training, checkers."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict
from importlib import resources

import numpy as np
import pytest
import torch
import xarray as xr

from ml4es.checks import NOT_IMPLEMENTED
from ml4es.pinns import hfm_checks as checks
from ml4es.pinns import hidden_fluid as hf
from conftest import load_script

BOUNDS = {"t": (60.0, 80.0), "x": (1.0, 8.0), "y": (-2.0, 2.0)}


@pytest.fixture(autouse=True)
def lenient_checks(monkeypatch):
    """Run checkers in their reader-facing mode, where wrong code gets a failed verdict instead of an error."""
    monkeypatch.delenv("ML4ES_STRICT_CHECKS", raising=False)


def random_points(n: int = 64, seed: int = 0, dtype: torch.dtype = torch.float64):
    return hf.collocation_points(BOUNDS, n, torch.Generator().manual_seed(seed), dtype)


def analytic_points(n: int = 50):
    """Return points at early times (t in [0, 2]), before the analytic flow has decayed."""
    return checks.probe_points(n, seed=3)


def random_network(seed: int = 0, depth: int = 4, width: int = 16) -> hf.HiddenFluidPINN:
    torch.manual_seed(seed)
    model = hf.HiddenFluidPINN(BOUNDS, width=width, depth=depth, first_layer_scale=2.0, dtype=torch.float64)
    # Non-zero biases, so that the test does not rely on the initialisation's zeros.
    with torch.no_grad():
        for layer in [*model.hidden, model.output]:
            layer.bias.normal_(0.0, 0.3)
    return model


# --- derivatives ----------------------------------------------------------------------------------


def test_fast_derivatives_match_autograd():
    model = random_network()
    t, x, y = random_points()
    fast = hf.fluid_derivatives(model, t, x, y)
    reference = hf.autograd_derivatives(model, t, x, y)
    assert set(fast) == set(reference)
    for name, expected in reference.items():
        scale = float(expected.detach().abs().max())
        difference = float((fast[name] - expected).detach().abs().max())
        assert difference <= 1e-10 * max(scale, 1.0), f"{name}: {difference:.3g} (values up to {scale:.3g})"


def test_fast_derivatives_match_finite_differences():
    # Independent of autograd, so the output scaling and the input normalisation are checked too.
    model = random_network()
    t, x, y = random_points(16)
    d = hf.fluid_derivatives(model, t, x, y)
    step = 1e-4
    shifts = {"x": lambda h: (t, x + h, y), "y": lambda h: (t, x, y + h), "t": lambda h: (t + h, x, y)}
    with torch.no_grad():
        centre = model(t, x, y)
        for name, shifted in shifts.items():
            plus = model(*shifted(step))
            minus = model(*shifted(-step))
            for index, field in enumerate(hf.FIELDS):
                first = (plus[index] - minus[index]) / (2 * step)
                assert torch.allclose(d[f"{field}_{name}"], first, atol=1e-7), f"{field}_{name}"
                if name != "t":
                    second = (plus[index] - 2 * centre[index] + minus[index]) / step**2
                    assert torch.allclose(d[f"{field}_{name}{name}"], second, atol=1e-5), f"{field}_{name}{name}"


def test_fast_loss_gradient_matches_autograd():
    model = random_network(depth=3)
    t, x, y = random_points(32)
    observations = hf.Observations(t, x, y, 0.5 + 0.2 * torch.sin(x))
    extra = random_points(16, seed=1)
    gradients = []
    for fast in (True, False):
        model.zero_grad()
        hf.loss(model, observations, 100.0, 100.0, extra, data_weight=3.0, fast=fast).backward()
        gradients.append([parameter.grad.clone() for parameter in model.parameters()])
    for fast_gradient, reference in zip(*gradients):
        assert torch.allclose(fast_gradient, reference, rtol=1e-10, atol=1e-12)


def test_output_scaling_applies():
    model = random_network()
    t, x, y = random_points(8)
    with torch.no_grad():
        for layer in [*model.hidden, model.output]:
            layer.weight.zero_()
            layer.bias.zero_()
        values = model(t, x, y)
    for value, offset in zip(values, hf.OUTPUT_OFFSET):
        assert torch.allclose(value, torch.full_like(value, offset))


# --- residuals ------------------------------------------------------------------------------------


def test_advected_vortex_momentum_vanishes():
    flow = checks.AdvectedVortex(reynolds=100.0, peclet=100.0)
    d = hf.autograd_derivatives(flow, *analytic_points(50))
    e2, e3 = hf.momentum_residuals(d, 100.0)
    assert e2.shape == (50, 1)
    assert float(e2.detach().abs().max()) < 1e-12
    assert float(e3.detach().abs().max()) < 1e-12


def test_advected_vortex_continuity_vanishes():
    flow = checks.AdvectedVortex()
    d = hf.autograd_derivatives(flow, *analytic_points(50))
    assert float(hf.continuity_residual(d).detach().abs().max()) < 1e-12


def test_advected_vortex_transport_forcing():
    # c is carried by the uniform stream only, so e1 equals the vortex's part of the advection.
    flow = checks.AdvectedVortex(peclet=100.0)
    points = analytic_points(50)
    e1 = hf.transport_residual(hf.autograd_derivatives(flow, *points), 100.0)
    forcing = flow.transport_forcing(*points)
    assert float(forcing.abs().max()) > 1e-2
    assert torch.allclose(e1.detach(), forcing, atol=1e-12)


def test_transport_residual_finite_differences():
    # The residual of the analytic flow from central differences of c on a fine stencil.
    flow = checks.AdvectedVortex(peclet=50.0)
    t, x, y = analytic_points(20)
    step = 1e-3
    with torch.no_grad():
        c = lambda t_, x_, y_: flow(t_, x_, y_)[0]
        _, u, v, _ = flow(t, x, y)
        c_t = (c(t + step, x, y) - c(t - step, x, y)) / (2 * step)
        c_x = (c(t, x + step, y) - c(t, x - step, y)) / (2 * step)
        c_y = (c(t, x, y + step) - c(t, x, y - step)) / (2 * step)
        laplacian = (c(t, x + step, y) + c(t, x - step, y) + c(t, x, y + step) + c(t, x, y - step) - 4 * c(t, x, y)) / step**2
    finite = c_t + u * c_x + v * c_y - laplacian / 50.0
    exact = hf.transport_residual(hf.autograd_derivatives(flow, t, x, y), 50.0).detach()
    assert torch.allclose(finite, exact, atol=1e-5)


@pytest.mark.parametrize(("reynolds", "peclet"), [(50.0, 100.0), (100.0, 10.0)])
def test_advected_vortex_wrong_numbers_leave_residual(reynolds, peclet):
    flow = checks.AdvectedVortex(reynolds=100.0, peclet=100.0)
    points = analytic_points(50)
    d = hf.autograd_derivatives(flow, *points)
    e1, e2, e3, _ = hf.residuals(d, reynolds, peclet)
    momentum = float(torch.cat([e2, e3]).detach().abs().max())
    transport = float((e1 - flow.transport_forcing(*points)).detach().abs().max())
    assert max(momentum, transport) > 1e-4


def test_loss_terms_keys_and_sum():
    model = random_network(depth=2)
    observations = hf.Observations(*random_points(20), torch.full((20, 1), 0.5, dtype=torch.float64))
    terms = hf.loss_terms(model, observations, 100.0, 100.0)
    assert set(terms) == {"data", "transport", "momentum", "continuity", "pde"}
    assert torch.isclose(terms["pde"], terms["transport"] + terms["momentum"] + terms["continuity"])


# --- data -----------------------------------------------------------------------------------------


def small_wake(snapshots: int = 6, start: float = 60.0, end: float = 61.0) -> xr.Dataset:
    """Return a small analytic data set shaped like the cylinder wake (the advected vortex)."""
    time = np.linspace(start, end, snapshots)
    y = np.linspace(-2.0, 2.0, 9)
    x = np.linspace(1.0, 8.0, 15)
    grid = [torch.as_tensor(value, dtype=torch.float64) for value in np.meshgrid(time, y, x, indexing="ij")]
    flow = checks.AdvectedVortex()
    with torch.no_grad():
        c, u, v, p = flow(grid[0], grid[2], grid[1])
    fields = {"c": c, "u": u, "v": v, "p": p}
    return xr.Dataset(
        {name: (("time", "y", "x"), value.numpy()) for name, value in fields.items()},
        coords={"time": time, "y": y, "x": x},
        attrs={"reynolds_number": 100.0, "peclet_number": 100.0},
    )


def test_sample_concentration_values():
    dataset = small_wake()
    observations = hf.sample_concentration(dataset, n=100, seed=3)
    assert len(observations) == 100
    for name in ("t", "x", "y", "c"):
        assert getattr(observations, name).shape == (100, 1)
    expected = dataset["c"].sel(
        time=xr.DataArray(observations.t.double().ravel().numpy(), dims="s"),
        y=xr.DataArray(observations.y.double().ravel().numpy(), dims="s"),
        x=xr.DataArray(observations.x.double().ravel().numpy(), dims="s"),
        method="nearest",
    )
    assert np.allclose(observations.c.ravel().numpy(), expected.values, atol=1e-6)


def test_sample_concentration_box_region():
    dataset = small_wake()
    region = {"x": (1.0, 3.0), "t": (60.0, 60.5)}
    observations = hf.sample_concentration(dataset, n=40, region=region, seed=0)
    assert float(observations.x.max()) <= 3.0
    assert float(observations.t.max()) <= 60.5
    assert "x" in observations.region


def test_sample_concentration_dye_region():
    dataset = small_wake()
    observations = hf.sample_concentration(dataset, n=50, region="dye", threshold=0.5, seed=0)
    assert float(observations.c.min()) > 0.5


def test_as_observations_from_arrays():
    t, x, y, c = np.arange(3.0), np.ones(3), np.zeros((3, 1)), torch.linspace(0, 1, 3, dtype=torch.float64)
    observations = hf.as_observations((t, x, y, c))
    for name in ("t", "x", "y", "c"):
        assert getattr(observations, name).shape == (3, 1)
        assert getattr(observations, name).dtype == torch.float32
    assert observations.c.ravel().tolist() == [0.0, 0.5, 1.0]
    assert observations.region == "chosen"


def test_as_observations_keeps_observations():
    observations = hf.sample_concentration(small_wake(), n=10, seed=0)
    assert hf.as_observations(observations) is observations


@pytest.mark.parametrize(
    ("samples", "match"),
    [(np.zeros((4, 3)), "four arrays"), ((np.zeros(3),) * 3, "four arrays"),
     ((np.zeros(3), np.zeros(3), np.zeros(2), np.zeros(3)), "different lengths")],
)
def test_as_observations_rejects_bad_samples(samples, match):
    with pytest.raises(ValueError, match=match):
        hf.as_observations(samples)


@pytest.mark.parametrize(
    ("keyword", "value", "match"),
    [("n", 0, "number of samples"), ("n", 10**6, "number of samples"), ("noise", math.nan, "noise level"),
     ("region", "sea", "invalid region"), ("region", {"z": (0, 1)}, "region coordinates"), ("threshold", -1.0, "threshold")],
)
def test_sample_concentration_rejects_bad_input(keyword, value, match):
    arguments = {"n": 10, "region": "dye" if keyword == "threshold" else "window", keyword: value}
    with pytest.raises(ValueError, match=match):
        hf.sample_concentration(small_wake(), **arguments)


def test_network_rejects_bad_arguments():
    with pytest.raises(ValueError, match="network size"):
        hf.HiddenFluidPINN(BOUNDS, width=0)
    with pytest.raises(ValueError, match="min < max"):
        hf.HiddenFluidPINN({**BOUNDS, "y": (1.0, 1.0)})
    with pytest.raises(ValueError, match="one for each"):
        hf.HiddenFluidPINN(BOUNDS, output_scale=(1.0, 1.0))


def test_training_lowers_loss():
    dataset = small_wake()
    observations = hf.sample_concentration(dataset, n=200, seed=0)
    torch.manual_seed(0)
    model = hf.HiddenFluidPINN(hf.domain_bounds(dataset), width=10, depth=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = hf.train(model, observations, optimizer, 40, 100.0, 100.0, batch_size=100, collocation=50, progress=False)
    assert len(history["loss"]) == 40
    assert np.mean(history["loss"][-5:]) < 0.5 * history["loss"][0]
    assert len(history["data"]) == 40


def test_training_with_lbfgs_full_batch():
    dataset = small_wake()
    observations = hf.sample_concentration(dataset, n=100, seed=0)
    torch.manual_seed(0)
    model = hf.HiddenFluidPINN(hf.domain_bounds(dataset), width=8, depth=2)
    history = hf.train(model, observations, hf.lbfgs(model.parameters()), 5, 100.0, 100.0, progress=False)
    assert history["loss"][-1] < history["loss"][0]


def test_training_rejects_bad_batch():
    dataset = small_wake()
    observations = hf.sample_concentration(dataset, n=20, seed=0)
    model = hf.HiddenFluidPINN(hf.domain_bounds(dataset), width=4, depth=1)
    with pytest.raises(ValueError, match="batch size"):
        hf.train(model, observations, torch.optim.Adam(model.parameters()), 1, 100.0, 100.0, batch_size=50, progress=False)


def test_evaluate_exact_flow():
    # A module that returns the exact fields plus a pressure offset per time scores zero error.
    dataset = small_wake()

    class Exact(hf.HiddenFluidPINN):
        def forward(self, t, x, y):
            c, u, v, p = checks.AdvectedVortex()(t.double(), x.double(), y.double())
            return c, u, v, p + 3.0 * t

    model = Exact(hf.domain_bounds(dataset), width=2, depth=1, dtype=torch.float64)
    metrics = hf.evaluate(model, dataset)
    assert set(metrics) == {"c_error", "u_error", "v_error", "p_error"}
    for name, value in metrics.items():
        assert value < 1e-10, name


def test_evaluate_random_network_has_error():
    dataset = small_wake()
    metrics = hf.evaluate(hf.HiddenFluidPINN(hf.domain_bounds(dataset), width=4, depth=1), dataset, time_indices=[0, 2])
    assert metrics["v_error"] > 0.1


def test_error_and_gradient_maps():
    dataset = small_wake()
    shifted = dataset.copy()
    shifted["u"] = dataset["u"] + 0.3
    error = hf.velocity_error_map(shifted, dataset)
    assert error.dims == ("y", "x")
    assert np.allclose(error.values, 0.3)
    gradient = hf.scalar_gradient_map(dataset)
    assert gradient.shape == (9, 15)
    assert float(gradient.min()) >= 0.0


# --- checkers -------------------------------------------------------------------------------------


def transport_solution(d, peclet):
    return d["c_t"] + d["u"] * d["c_x"] + d["v"] * d["c_y"] - (d["c_xx"] + d["c_yy"]) / peclet


def loss_solution(d, c_observed, reynolds, peclet):
    e1 = transport_solution(d, peclet)
    e2 = d["u_t"] + d["u"] * d["u_x"] + d["v"] * d["u_y"] + d["p_x"] - (d["u_xx"] + d["u_yy"]) / reynolds
    e3 = d["v_t"] + d["u"] * d["v_x"] + d["v"] * d["v_y"] + d["p_y"] - (d["v_xx"] + d["v_yy"]) / reynolds
    e4 = d["u_x"] + d["v_y"]
    return ((d["c"] - c_observed) ** 2).mean() + (e1**2 + e2**2 + e3**2 + e4**2).mean()


def samples_solution(dataset, n):
    observations = hf.sample_concentration(dataset, n, seed=1)
    return observations.t, observations.x, observations.y, observations.c


def error_map_solution(predicted, reference):
    squared = (predicted["u"] - reference["u"]) ** 2 + (predicted["v"] - reference["v"]) ** 2
    return np.sqrt(squared.mean(dim="time"))


def checker_cases():
    dataset = small_wake()
    return [
        (checks.check_transport_residual, transport_solution, ()),
        (checks.check_loss, loss_solution, ()),
        (checks.check_samples, samples_solution, (dataset, 100)),
        (checks.check_error_map, error_map_solution, ()),
    ]


CASE_IDS = ["transport", "loss", "samples", "error_map"]


@pytest.mark.parametrize("case", range(4), ids=CASE_IDS)
def test_checker_accepts_solution(case):
    check, solution, extra = checker_cases()[case]
    verdict = check(solution, *extra)
    assert verdict.passed is True, verdict.message


@pytest.mark.parametrize("case", range(4), ids=CASE_IDS)
def test_checker_stub_not_implemented(case):
    check, _, extra = checker_cases()[case]

    def stub(*args):
        ...

    def raising_stub(*args):
        raise NotImplementedError

    for value in (..., None, stub, raising_stub):
        verdict = check(value, *extra)
        assert verdict.passed is None, verdict.message
        assert NOT_IMPLEMENTED in verdict.message


INVALID_SUBMISSIONS = [
    42,
    "text",
    lambda *args: torch.full((3, 3), math.nan),
    lambda *args: (torch.ones(5), torch.ones(5)),
    lambda *args: 1 / 0,
    lambda *args: torch.full((30, 1), math.nan),
]


@pytest.mark.parametrize("case", range(4), ids=CASE_IDS)
@pytest.mark.parametrize("bad", INVALID_SUBMISSIONS)
def test_checker_rejects_bad_input(case, bad):
    check, _, extra = checker_cases()[case]
    verdict = check(bad, *extra)
    assert verdict.passed is False
    assert "Traceback" not in verdict.message


def test_transport_checker_hints():
    def wrong_sign(d, peclet):
        return transport_solution(d, peclet) + 2 * (d["c_xx"] + d["c_yy"]) / peclet

    def fixed_peclet(d, peclet):
        return transport_solution(d, 100.0)

    def numpy_result(d, peclet):
        return transport_solution(d, peclet).detach().numpy().ravel()

    assert "wrong sign" in checks.check_transport_residual(wrong_sign).message
    assert "`peclet` argument" in checks.check_transport_residual(fixed_peclet).message
    assert checks.check_transport_residual(numpy_result).passed is True


@pytest.mark.parametrize(
    ("missing", "phrase"),
    [("c_t", "c_t is missing"), ("u", "u c_x is missing"), ("v", "v c_y is missing")],
)
def test_transport_checker_missing_term(missing, phrase):
    def without_term(d, peclet):
        terms = {"c_t": d["c_t"], "u": d["u"] * d["c_x"], "v": d["v"] * d["c_y"]}
        terms[missing] = torch.zeros_like(d["c_t"])
        return terms["c_t"] + terms["u"] + terms["v"] - (d["c_xx"] + d["c_yy"]) / peclet

    verdict = checks.check_transport_residual(without_term)

    assert verdict.passed is False
    assert phrase in verdict.message


def test_loss_checker_in_place_ops():
    def in_place_loss(d, c_observed, reynolds, peclet):
        e1 = d["c_t"]
        e1 += d["u"] * d["c_x"] + d["v"] * d["c_y"]
        e1 -= (d["c_xx"] + d["c_yy"]) / peclet
        e2 = d["u_t"] + d["u"] * d["u_x"] + d["v"] * d["u_y"] + d["p_x"] - (d["u_xx"] + d["u_yy"]) / reynolds
        e3 = d["v_t"] + d["u"] * d["v_x"] + d["v"] * d["v_y"] + d["p_y"] - (d["v_xx"] + d["v_yy"]) / reynolds
        e4 = d["u_x"] + d["v_y"]
        return ((d["c"] - c_observed) ** 2).mean() + (e1**2 + e2**2 + e3**2 + e4**2).mean()

    verdict = checks.check_loss(in_place_loss)

    assert verdict.passed is True, verdict.message


def test_transport_checker_accepts_in_place_ops():
    def in_place(d, peclet):
        e1 = d["c_t"]
        e1 += d["u"] * d["c_x"]
        e1 += d["v"] * d["c_y"]
        e1 -= (d["c_xx"] + d["c_yy"]) / peclet
        return e1

    verdict = checks.check_transport_residual(in_place)

    assert verdict.passed is True, verdict.message


def test_transport_checker_accepts_float32():
    verdict = checks.check_transport_residual(lambda d, peclet: transport_solution(d, peclet).float())

    assert verdict.passed is True, verdict.message


def test_transport_checker_rejects_float16():
    verdict = checks.check_transport_residual(lambda d, peclet: transport_solution(d, peclet).half())

    assert verdict.passed is False
    assert "float32 or float64" in verdict.message


def test_loss_checker_hints():
    def no_continuity(d, c_observed, reynolds, peclet):
        return loss_solution(d, c_observed, reynolds, peclet) - (d["u_x"] + d["v_y"]).pow(2).mean()

    def detached(d, c_observed, reynolds, peclet):
        return loss_solution(d, c_observed, reynolds, peclet).item()

    def summed(d, c_observed, reynolds, peclet):
        return loss_solution(d, c_observed, reynolds, peclet) * d["c"].shape[0]

    assert "continuity" in checks.check_loss(no_continuity).message
    assert "attached" in checks.check_loss(detached).message
    assert "means" in checks.check_loss(summed).message


def test_loss_checker_reynolds_peclet_swapped():
    def swapped(d, c_observed, reynolds, peclet):
        return loss_solution(d, c_observed, peclet, reynolds)

    verdict = checks.check_loss(swapped)

    assert verdict.passed is False
    assert "Re and Pe are swapped" in verdict.message


def test_loss_checker_data_weight_ten():
    def weighted(d, c_observed, reynolds, peclet):
        return loss_solution(d, c_observed, reynolds, peclet) + 9 * ((d["c"] - c_observed) ** 2).mean()

    verdict = checks.check_loss(weighted)

    assert verdict.passed is False
    assert "w = 10" in verdict.message
    assert "w = 1" in verdict.message


def test_loss_checker_close_value():
    def no_viscosity(d, c_observed, reynolds, peclet):
        e1 = transport_solution(d, peclet)
        e2 = d["u_t"] + d["u"] * d["u_x"] + d["v"] * d["u_y"] + d["p_x"]
        e3 = d["v_t"] + d["u"] * d["v_x"] + d["v"] * d["v_y"] + d["p_y"]
        e4 = d["u_x"] + d["v_y"]
        return ((d["c"] - c_observed) ** 2).mean() + (e1**2 + e2**2 + e3**2 + e4**2).mean()

    verdict = checks.check_loss(no_viscosity)

    assert verdict.passed is False
    assert "close" in verdict.message
    assert "1/Re and 1/Pe" in verdict.message


def test_samples_checker_rejects_wrong_points():
    dataset = small_wake()

    def outside(dataset, n):
        t, x, y, c = samples_solution(dataset, n)
        return t, x + 10.0, y, c

    def swapped_axes(dataset, n):
        t, x, y, _ = samples_solution(dataset, n)
        c = dataset["c"].interp(
            time=xr.DataArray(t.double().ravel().numpy(), dims="s"),
            y=xr.DataArray(np.clip(x.double().ravel().numpy(), -2, 2), dims="s"),
            x=xr.DataArray(np.clip(y.double().ravel().numpy(), 1, 8), dims="s"),
        )
        return t, x, y, c.values

    def swapped_columns(dataset, n):
        t, x, y, c = samples_solution(dataset, n)
        return t, y, x, c

    def wrong_count(dataset, n):
        t, x, y, c = samples_solution(dataset, n - 1)
        return t, x, y, c

    def repeated(dataset, n):
        t, x, y, c = samples_solution(dataset, 1)
        return t.repeat(n, 1), x.repeat(n, 1), y.repeat(n, 1), c.repeat(n, 1)

    assert "outside the window in x" in checks.check_samples(outside, dataset, 100).message
    swapped_verdict = checks.check_samples(swapped_columns, dataset, 100)
    assert "x and y look swapped" in swapped_verdict.message
    assert "outside" not in swapped_verdict.message
    assert "data give" in checks.check_samples(swapped_axes, dataset, 100).message
    assert "shape" in checks.check_samples(wrong_count, dataset, 100).message
    assert "distinct" in checks.check_samples(repeated, dataset, 100).message


def test_samples_checker_float32_edges():
    # The wake's last time, 79.9025, rounds up in float32; the checker must still accept it.
    dataset = small_wake(snapshots=3, start=79.7025, end=79.9025)
    n = dataset["c"].size

    def every_point(dataset, n):
        return hf.sample_concentration(dataset, n, dtype=torch.float32)

    verdict = checks.check_samples(every_point, dataset, n)
    assert verdict.passed is True, verdict.message


def test_samples_checker_accepts_regions():
    dataset = small_wake()

    def dye_only(dataset, n):
        return hf.sample_concentration(dataset, n, region="dye", threshold=0.5)

    verdict = checks.check_samples(dye_only, dataset, 50)
    assert verdict.passed is True, verdict.message
    assert "100% of them" in verdict.message


def test_error_map_checker_hints():
    def squared(predicted, reference):
        return error_map_solution(predicted, reference) ** 2

    def with_time(predicted, reference):
        return (predicted["u"] - reference["u"]) ** 2

    def only_u(predicted, reference):
        return np.sqrt(((predicted["u"] - reference["u"]) ** 2).mean(dim="time"))

    assert "square root" in checks.check_error_map(squared).message
    assert "time axis" in checks.check_error_map(with_time).message
    assert "u alone" in checks.check_error_map(only_u).message
    assert checks.check_error_map(lambda p, r: torch.as_tensor(error_map_solution(p, r).values)).passed is True


def test_error_map_checker_axes_out_of_order():
    flipped = checks.check_error_map(lambda p, r: error_map_solution(p, r).values[::-1])
    transposed = checks.check_error_map(lambda p, r: error_map_solution(p, r).values.T)

    assert "flipped" in flipped.message
    assert "out of order" in transposed.message


def test_error_map_checker_accepts_tensor_needing_grad():
    def needs_grad(predicted, reference):
        return torch.as_tensor(error_map_solution(predicted, reference).values).requires_grad_(True) * 1.0

    verdict = checks.check_error_map(needs_grad)

    assert verdict.passed is True, verdict.message


# --- shipped weights ------------------------------------------------------------------------------


def shipped_files():
    folder = resources.files("ml4es") / "weights"
    return folder / "hidden_fluid_pinn.pt", folder / "hidden_fluid_pinn.json"


def test_shipped_weights_small_and_recorded():
    weights_path, record_path = shipped_files()
    if not weights_path.is_file():
        pytest.skip("no hidden_fluid_pinn.pt yet: scripts/train_hidden_fluid_pinn.py makes it")
    with resources.as_file(weights_path) as path:
        assert path.stat().st_size < 5 * 2**20
        state = torch.load(path, weights_only=True)
    record = json.loads(record_path.read_text())
    assert record["command"].startswith("python scripts/train_hidden_fluid_pinn.py")
    for name in ("u_error", "v_error", "p_error"):
        assert name in record["metrics"], name
    network = record["network"]
    model = hf.HiddenFluidPINN(BOUNDS, network["width"], network["depth"])
    model.load_state_dict(state)


def shipped_record() -> dict:
    _, record_path = shipped_files()
    if not record_path.is_file():
        pytest.skip("no hidden_fluid_pinn.json yet: scripts/train_hidden_fluid_pinn.py makes it")
    return json.loads(record_path.read_text())


def test_recipe_defaults_match_shipped_run():
    record = shipped_record()
    defaults = asdict(hf.HiddenFluidRecipe())
    assert set(record["recipe"]) == set(defaults)
    # The run's time limit stopped L-BFGS before the maximum it allowed, so the default is the count it took.
    assert defaults["adam_steps"] == record["steps"]["Adam"]
    assert defaults["lbfgs_steps"] == record["steps"]["L-BFGS"]
    assert record["recipe"]["lbfgs_steps"] >= record["steps"]["L-BFGS"]
    for name, value in record["recipe"].items():
        if name != "lbfgs_steps":
            assert defaults[name] == value, name
    assert (defaults["width"], defaults["depth"]) == (record["network"]["width"], record["network"]["depth"])


def test_recorded_recipe_builds_network():
    # The chapter rebuilds the shipped recipe from the record to train it from scratch.
    record = shipped_record()
    recipe = hf.HiddenFluidRecipe(**record["recipe"])
    model = hf.network_from_recipe(BOUNDS, recipe)
    weights_path, _ = shipped_files()
    with resources.as_file(weights_path) as path:
        model.load_state_dict(torch.load(path, weights_only=True))


def load_training_script():
    return load_script("train_hidden_fluid_pinn")


def test_training_script_defaults_are_recipe(monkeypatch):
    script = load_training_script()
    monkeypatch.setattr(sys, "argv", ["scripts/train_hidden_fluid_pinn.py"])
    arguments = script.parse_arguments()
    for name, value in asdict(hf.HiddenFluidRecipe()).items():
        assert getattr(arguments, name) == value, name
    assert arguments.max_minutes is None
    assert not arguments.resume


@pytest.mark.slow
def test_shipped_weights_reproduce_metrics():
    # Reads the production wake from the cache, or simulates it (minutes).
    from ml4es.flows import wake_dataset

    weights_path, record_path = shipped_files()
    if not weights_path.is_file():
        pytest.skip("no hidden_fluid_pinn.pt yet")
    record = json.loads(record_path.read_text())
    dataset = wake_dataset(progress=False)
    model = hf.HiddenFluidPINN(hf.domain_bounds(dataset), record["network"]["width"], record["network"]["depth"])
    with resources.as_file(weights_path) as path:
        model.load_state_dict(torch.load(path, weights_only=True))
    measured = hf.evaluate(model, dataset)
    for name in ("u_error", "v_error", "p_error"):
        assert measured[name] == pytest.approx(record["metrics"][name], rel=1e-4), name
