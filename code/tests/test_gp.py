"""Tests of the Gaussian-process modules: hand-written formulas, CO2 model, emulator, SVGP, checkers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gpytorch
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from ml4es.checks import NOT_IMPLEMENTED
from ml4es.gp import by_hand, co2, emulator, exact, plots, sparse
from ml4es.gp.checks import (
    REFERENCE_KERNELS,
    check_kernel_choice,
    check_log_marginal_likelihood,
    check_posterior,
    check_seasonal_kernel,
    reference_kernel,
)

DTYPE = torch.float64
HYPERPARAMETERS = {"lengthscale": 0.8, "outputscale": 1.5, "noise": 0.02}


@pytest.fixture(autouse=True)
def lenient_checks(monkeypatch):
    """Run checkers in their reader-facing mode, where a wrong result returns a verdict."""
    monkeypatch.delenv("ML4ES_STRICT_CHECKS", raising=False)


def tiny_problem(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x_train = 4 * torch.rand(9, generator=generator, dtype=DTYPE)
    y_train = torch.cos(x_train) + 0.1 * torch.randn(9, generator=generator, dtype=DTYPE)
    x_test = torch.linspace(-2, 6, 17, dtype=DTYPE)
    return x_train, y_train, x_test


# --- hand-written posterior and marginal likelihood -----------------------------------------


def test_posterior_by_hand_matches_gpytorch():
    x_train, y_train, x_test = tiny_problem()
    mean, variance = by_hand.posterior(x_train, y_train, x_test, **HYPERPARAMETERS)
    expected_mean, expected_variance = by_hand.gpytorch_posterior(x_train, y_train, x_test, **HYPERPARAMETERS)
    assert mean.shape == (17,)
    assert variance.shape == (17,)
    assert float((mean - expected_mean).abs().max()) < 1e-6
    assert float((variance - expected_variance).abs().max()) < 1e-6


def test_posterior_by_hand_single_point():
    # One observation y at x = 0, noise s: mean k/(k + s) y, variance k - k²/(k + s) at x = 0.
    mean, variance = by_hand.posterior(torch.tensor([0.0]), torch.tensor([2.0]), torch.tensor([0.0]), 1.0, 3.0, 1.0)
    assert float(mean) == pytest.approx(3.0 / 4.0 * 2.0)
    assert float(variance) == pytest.approx(3.0 - 9.0 / 4.0)


def test_posterior_far_away_reverts_to_prior():
    x_train, y_train, _ = tiny_problem()
    mean, variance = by_hand.posterior(x_train, y_train, torch.tensor([100.0]), **HYPERPARAMETERS)
    assert float(mean.abs()) < 1e-12
    assert float(variance) == pytest.approx(HYPERPARAMETERS["outputscale"])


def test_lml_by_hand_matches_gpytorch():
    x_train, y_train, _ = tiny_problem(seed=1)
    value = float(by_hand.log_marginal_likelihood(x_train, y_train, **HYPERPARAMETERS))
    expected = by_hand.gpytorch_log_marginal_likelihood(x_train, y_train, **HYPERPARAMETERS)
    assert value == pytest.approx(expected, abs=1e-6)


def test_lml_by_hand_single_point():
    # y ~ N(0, k + s): log p = -y²/(2(k + s)) - log(2 pi (k + s))/2.
    value = float(by_hand.log_marginal_likelihood(torch.tensor([0.0]), torch.tensor([2.0]), 1.0, 3.0, 1.0))
    assert value == pytest.approx(-4.0 / 8.0 - 0.5 * math.log(2 * math.pi * 4.0))


def test_exact_lml_is_total_not_mean():
    x_train, y_train, _ = tiny_problem(seed=2)
    model = by_hand.gpytorch_model(x_train, y_train, **HYPERPARAMETERS)
    model.train()
    expected = float(by_hand.log_marginal_likelihood(x_train, y_train, **HYPERPARAMETERS))
    assert exact.log_marginal_likelihood(model).item() == pytest.approx(expected, abs=1e-6)


# --- fitting ------------------------------------------------------------------------------------


def small_model(seed: int = 0) -> exact.ExactGP:
    x_train, y_train, _ = tiny_problem(seed)
    kernel = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel())
    return exact.ExactGP(x_train, y_train, kernel).double()


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_fit_raises_lml(optimizer):
    model = small_model()
    start = exact.log_marginal_likelihood(model).item()
    result = exact.fit(model, optimizer=optimizer, max_steps=50, progress=False)
    assert result["history"][-1] > start + 1.0
    assert result["history"][-1] == pytest.approx(exact.log_marginal_likelihood(model).item())
    assert result["evaluations"] >= 1


def test_fit_rejects_unknown_optimizer():
    with pytest.raises(ValueError, match="invalid optimizer 'sgd'"):
        exact.fit(small_model(), optimizer="sgd")


def test_fit_rejects_zero_steps():
    with pytest.raises(ValueError, match="invalid max_steps 0"):
        exact.fit(small_model(), max_steps=0)


def test_predict_noise_widens_interval():
    model = small_model()
    x_new = torch.linspace(0, 4, 5, dtype=DTYPE)
    _, std_f = exact.predict(model, x_new, include_noise=False)
    _, std_y = exact.predict(model, x_new, include_noise=True)
    noise = model.likelihood.noise.item()
    assert torch.allclose(std_y**2, std_f**2 + noise, atol=1e-8)


# --- CO2 data and model -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def record():
    return co2.load_co2()


def test_co2_record_is_monthly_to_2001(record):
    assert record["co2"].attrs["units"] == "ppm"
    assert str(record.time.values[0])[:7] == "1958-03"
    assert str(record.time.values[-1])[:7] == "2001-12"
    assert record.sizes["time"] == 521
    assert float(record["co2"].min()) > 310
    assert float(record["co2"].max()) < 380


def test_co2_tensors_until_split(record):
    x, y = co2.as_tensors(record, until=co2.SPLIT)
    assert x.dtype == DTYPE
    assert y.dtype == DTYPE
    assert float(x.max()) < 1996.0
    assert len(x) == len(y) == record.sel(time=slice(None, co2.SPLIT)).sizes["time"]


def test_co2_load_rejects_early_end():
    with pytest.raises(ValueError, match="no CO2 data up to"):
        co2.load_co2(end="1950-01-01")


@pytest.mark.parametrize(
    ("until", "error", "message"),
    [
        ("nonsense", ValueError, "invalid date until='nonsense'"),
        (1995, TypeError, "invalid date until=1995"),
        ("1950-01-01", ValueError, "no CO2 data up to '1950-01-01'"),
    ],
)
def test_co2_tensors_reject_bad_until(record, until, error, message):
    with pytest.raises(error, match=message):
        co2.as_tensors(record, until=until)


def test_co2_tensors_until_year_keeps_whole_year(record):
    x, _ = co2.as_tensors(record, until="1995")
    assert float(x.max()) == pytest.approx(1995 + 11 / 12 + 1 / 24)


def test_co2_model_rejects_mismatched_data(record):
    x, y = co2.as_tensors(record, until=co2.SPLIT)
    with pytest.raises(ValueError, match=rf"x has shape \({len(x)},\) and y has shape \({len(x) - 5},\)"):
        co2.co2_model(x, y[:-5])
    with pytest.raises(ValueError, match="same shape"):
        co2.co2_model(x[:, None], y)


def test_exact_gp_rejects_mismatched_data():
    kernel = gpytorch.kernels.RBFKernel()
    with pytest.raises(ValueError, match=r"x has shape \(5,\) but y has shape \(4,\)"):
        exact.ExactGP(torch.zeros(5), torch.zeros(4), kernel)
    with pytest.raises(ValueError, match="one target per point"):
        exact.ExactGP(torch.zeros(5), torch.zeros(5, 1), kernel)
    with pytest.raises(ValueError, match="empty"):
        exact.ExactGP(torch.zeros(0), torch.zeros(0), kernel)
    with pytest.raises(TypeError, match="x is a list"):
        exact.ExactGP([0.0, 1.0], torch.zeros(2), kernel)


def test_co2_kernel_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="unknown hyperparameters trend_lenghtscale"):
        co2.co2_kernel({"trend_lenghtscale": 10.0})
    with pytest.raises(ValueError, match="invalid period=-1.0"):
        co2.co2_kernel({"period": -1.0})
    with pytest.raises(ValueError, match="invalid noise_std=nan"):
        co2.co2_kernel({"noise_std": float("nan")})
    with pytest.raises(TypeError, match="invalid period='one'"):
        co2.co2_kernel({"period": "one"})


def test_co2_kernel_matches_formula():
    values = dict(co2.INITIAL, seasonal_smoothness=0.9, irregular_alpha=1.7)
    kernel = co2.co2_kernel(values)
    t = torch.tensor([0.0, 0.3, 1.1, 7.4], dtype=DTYPE)
    d = t[:, None] - t[None, :]
    expected = (
        values["trend_amplitude"] ** 2 * torch.exp(-(d**2) / (2 * values["trend_lengthscale"] ** 2))
        + values["seasonal_amplitude"] ** 2
        * torch.exp(-(d**2) / (2 * values["seasonal_decay"] ** 2) - 2 * torch.sin(math.pi * d) ** 2 / values["seasonal_smoothness"] ** 2)
        + values["irregular_amplitude"] ** 2
        * (1 + d**2 / (2 * values["irregular_alpha"] * values["irregular_lengthscale"] ** 2)) ** (-values["irregular_alpha"])
        + values["noise_amplitude"] ** 2 * torch.exp(-(d**2) / (2 * values["noise_lengthscale"] ** 2))
    )
    with torch.no_grad():
        actual = kernel(t).to_dense()
    assert torch.allclose(actual, expected, rtol=1e-10)


def test_co2_kernel_rejects_unknown_variant():
    with pytest.raises(ValueError, match="invalid variant 'smooth'"):
        co2.co2_kernel(variant="smooth")


@pytest.mark.parametrize("variant", co2.VARIANTS)
def test_co2_hyperparameters_round_trip(record, variant):
    x, y = co2.as_tensors(record)
    model = co2.co2_model(x, y, variant=variant)
    values = co2.hyperparameters(model)
    for name, value in values.items():
        assert value == pytest.approx(co2.INITIAL[name], rel=1e-9), name
    assert ("irregular_alpha" in values) == (variant == "rasmussen")


def test_co2_period_and_mean_stay_fixed(record):
    x, y = co2.as_tensors(record, until="1965-12-31")
    model = co2.co2_model(x, y)
    exact.fit(model, max_steps=5, progress=False)
    assert co2.hyperparameters(model)["period"] == 1.0
    assert model.mean_module.constant.item() == pytest.approx(float(y.mean()))


def test_component_means_add_up(record):
    x, y = co2.as_tensors(record, until="1965-12-31")
    model = co2.co2_model(x, y)
    model.eval()
    x_new = torch.linspace(1959, 1968, 40, dtype=DTYPE)
    parts = exact.component_means(model, x_new)
    mean, _ = exact.predict(model, x_new, include_noise=False)
    assert len(parts) == 4
    assert torch.allclose(sum(parts) + float(y.mean()), mean, atol=1e-6)


# --- emulator -----------------------------------------------------------------------------------


def test_latin_hypercube_one_run_per_stratum():
    design = emulator.latin_hypercube(10, seed=3)
    assert design.shape == (10, 2)
    unit = emulator.to_unit(design)
    for column in range(2):
        strata = torch.floor(unit[:, column] * 10).long()
        assert sorted(strata.tolist()) == list(range(10))


def test_latin_hypercube_rejects_zero_runs():
    with pytest.raises(ValueError, match="invalid number of runs 0"):
        emulator.latin_hypercube(0)


def test_simulator_matches_heat_solution():
    inputs = torch.tensor([[0.05, 0.5], [0.01, 0.25]], dtype=DTYPE)
    u = emulator.simulator(inputs)
    expected = math.exp(-0.05 * math.pi**2) * 1.0 + 0.5 * math.exp(-0.2 * math.pi**2) * 0.0
    assert float(u[0]) == pytest.approx(expected, abs=1e-12)
    assert u.shape == (2,)


def test_simulator_rejects_wrong_shape():
    with pytest.raises(ValueError, match="expected \\(n, 2\\)"):
        emulator.simulator(torch.zeros(3))


def test_emulator_interpolates_runs():
    design = emulator.latin_hypercube(8, seed=0)
    runs = emulator.simulator(design)
    model = emulator.fit_emulator(design, runs)
    mean, std = emulator.emulate(model, design)
    assert float((mean - runs).abs().max()) < 1e-3
    assert float(std.max()) < 1e-2


def test_sequential_design_reduces_uncertainty():
    result = emulator.sequential_design(emulator.latin_hypercube(6, seed=0), added_runs=4, grid_size=21, progress=False)
    assert result["inputs"].shape == (10, 2)
    assert len(result["rmse"]) == len(result["max_std"]) == 5
    assert result["max_std"][-1] < result["max_std"][0]
    assert result["rmse"][-1] < result["rmse"][0]


# --- sparse GP ----------------------------------------------------------------------------------


def test_hgt_grid_data_shapes():
    heights = sparse.load_hgt()
    data = sparse.grid_data(heights)
    assert heights.dims == ("time", "latitude", "longitude")
    assert data.inputs.shape == (heights.size, 3)
    assert float(data.inputs.min()) == 0.0
    assert float(data.inputs.max()) == 1.0
    assert abs(float(data.targets.mean())) < 1e-4
    assert float(data.to_metres(data.targets[:1])) == pytest.approx(float(heights.values.reshape(-1)[0]), abs=1e-2)


def test_split_is_disjoint_and_complete():
    data = sparse.GridData(torch.zeros(50, 3), torch.zeros(50), 0.0, 1.0)
    train, test = sparse.split(data, test_fraction=0.2, seed=1)
    assert len(test) == 10
    assert len(train) == 40
    assert sorted(torch.cat([train, test]).tolist()) == list(range(50))


def test_split_rejects_bad_fraction():
    data = sparse.GridData(torch.zeros(5, 3), torch.zeros(5), 0.0, 1.0)
    with pytest.raises(ValueError, match="invalid test_fraction 1.5"):
        sparse.split(data, test_fraction=1.5)


def test_svgp_learns_a_smooth_function():
    torch.manual_seed(0)
    inputs = torch.rand(2000, 3)
    targets = torch.sin(6 * inputs[:, 0]) + 0.1 * torch.randn(2000)
    model = sparse.SparseGP(inputs[:32].clone())
    likelihood = gpytorch.likelihoods.GaussianLikelihood()
    record = sparse.train_svgp(model, likelihood, inputs, targets, epochs=15, batch_size=256, learning_rate=0.05, progress=False)
    assert record["elbo"][-1] > record["elbo"][0]
    mean, std = sparse.predict_svgp(model, likelihood, inputs[:200])
    assert float((mean - torch.sin(6 * inputs[:200, 0])).pow(2).mean().sqrt()) < 0.2
    assert std.shape == (200,)


# --- checkers -----------------------------------------------------------------------------------


def seasonal_solution(x1, x2, amplitude, decay, smoothness, period):
    d = torch.as_tensor(x1)[:, None] - torch.as_tensor(x2)[None, :]
    return amplitude**2 * torch.exp(-(d**2) / (2 * decay**2) - 2 * torch.sin(math.pi * d / period) ** 2 / smoothness**2)


def test_seasonal_checker_accepts_solution():
    assert check_seasonal_kernel(seasonal_solution).passed is True


def test_seasonal_checker_accepts_numpy_answer():
    def as_numpy(*args, **kwargs):
        return seasonal_solution(*args, **kwargs).numpy()

    assert check_seasonal_kernel(as_numpy).passed is True


def test_seasonal_checker_explains_unsquared_amplitude():
    def unsquared(x1, x2, amplitude, decay, smoothness, period):
        return seasonal_solution(x1, x2, amplitude, decay, smoothness, period) / amplitude

    verdict = check_seasonal_kernel(unsquared)
    assert verdict.passed is False
    assert "amplitude²" in verdict.message


def test_seasonal_checker_explains_unsquared_smoothness():
    def unsquared(x1, x2, amplitude, decay, smoothness, period):
        return seasonal_solution(x1, x2, amplitude, decay, math.sqrt(smoothness), period)

    verdict = check_seasonal_kernel(unsquared)
    assert verdict.passed is False
    assert "smoothness²" in verdict.message


def test_seasonal_checker_rejects_wrong_shape():
    verdict = check_seasonal_kernel(lambda x1, x2, **kwargs: torch.zeros(4, 6))
    assert verdict.passed is False
    assert "expected (6, 4)" in verdict.message


def test_seasonal_checker_rejects_nan():
    verdict = check_seasonal_kernel(lambda x1, x2, **kwargs: torch.full((6, 4), float("nan")))
    assert verdict.passed is False
    assert "NaN" in verdict.message


def test_posterior_checker_accepts_reference():
    assert check_posterior(by_hand.posterior).passed is True


def test_posterior_checker_accepts_answer_that_needs_grad():
    def with_grad(*args, **kwargs):
        mean, variance = by_hand.posterior(*args, **kwargs)
        return mean.requires_grad_(True), variance.float()

    assert check_posterior(with_grad).passed is True


def test_posterior_checker_explains_noisy_variance():
    def noisy(x_train, y_train, x_test, lengthscale, outputscale, noise):
        mean, variance = by_hand.posterior(x_train, y_train, x_test, lengthscale, outputscale, noise)
        return mean, variance + noise

    verdict = check_posterior(noisy)
    assert verdict.passed is False
    assert "variance of f" in verdict.message


def test_posterior_checker_rejects_single_tensor():
    verdict = check_posterior(lambda *args, **kwargs: torch.zeros(11))
    assert verdict.passed is False
    assert "expected a tuple (mean, variance)" in verdict.message


def test_posterior_checker_rejects_wrong_mean():
    def shifted(*args, **kwargs):
        mean, variance = by_hand.posterior(*args, **kwargs)
        return mean + 0.01, variance

    verdict = check_posterior(shifted)
    assert verdict.passed is False
    assert "`mean` differs" in verdict.message


def test_lml_checker_accepts_reference():
    assert check_log_marginal_likelihood(by_hand.log_marginal_likelihood).passed is True


def test_lml_checker_explains_sign_and_mean():
    def negative(*args, **kwargs):
        return -by_hand.log_marginal_likelihood(*args, **kwargs)

    def per_point(x, y, *args, **kwargs):
        return by_hand.log_marginal_likelihood(x, y, *args, **kwargs) / len(y)

    assert "wrong sign" in check_log_marginal_likelihood(negative).message
    assert "divided by the number of points" in check_log_marginal_likelihood(per_point).message


def test_lml_checker_rejects_vector():
    verdict = check_log_marginal_likelihood(lambda x, y, **kwargs: torch.zeros(3))
    assert verdict.passed is False
    assert "single number" in verdict.message


def test_kernel_choice_checker_cases():
    assert check_kernel_choice({"RBF": 0.05, "Matérn 1/2": 0.084, "Matérn 5/2": np.float64(0.055)}).passed is True
    assert check_kernel_choice({"RBF": 0.05}).passed is False
    assert check_kernel_choice({"RBF": 0.05, "a": -1.0, "b": 0.1}).passed is False
    assert check_kernel_choice({"RBF": 0.05, "a": float("nan"), "b": 0.1}).passed is False
    assert check_kernel_choice([0.1, 0.2, 0.3]).passed is False


def test_kernel_choice_accepts_own_kernels():
    # Names that are not the exercise's examples only have to lie in the plausible range.
    errors = {"RQ": 0.0509, "periodic": 0.26, "RBF + linear": 0.0509, "Matérn 5/2": 0.0545}
    assert check_kernel_choice(errors).passed is True


@pytest.mark.parametrize(
    ("errors", "phrase"),
    [
        ({"RBF": 0.05, "Matérn 1/2": 1.0, "Matérn 5/2": 0.055}, "no better than predicting u = 0"),
        ({"RBF": 0.05, "Matérn 1/2": 0.02, "Matérn 5/2": 0.055}, "returns about 0.08374"),
        ({"RBF": 0.0026, "Matérn 1/2": 0.007, "Matérn 5/2": 0.003}, "square root"),
        ({"first": 0.07, "second": 0.07, "third": 0.07}, "same error"),
    ],
)
def test_kernel_choice_rejects_implausible_errors(errors, phrase):
    verdict = check_kernel_choice(errors)
    assert verdict.passed is False
    assert phrase in verdict.message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("RBF", "RBF"),
        ("squared exponential", "RBF"),
        ("Matérn ½", "Matérn 1/2"),
        ("matern_nu=1.5", "Matérn 3/2"),
        ("MaternKernel(nu=2.5)", "Matérn 5/2"),
        ("Matérn 5/2 + linear", None),
        ("RBF, one length scale", None),
        ("12", None),
    ],
)
def test_reference_kernel_names(name, expected):
    assert reference_kernel(name) == expected


@pytest.mark.slow
def test_reference_kernel_errors_reproduce():
    kernels = {
        "RBF": gpytorch.kernels.RBFKernel(ard_num_dims=2),
        "Matérn 1/2": gpytorch.kernels.MaternKernel(nu=0.5, ard_num_dims=2),
        "Matérn 3/2": gpytorch.kernels.MaternKernel(nu=1.5, ard_num_dims=2),
        "Matérn 5/2": gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=2),
    }
    assert set(kernels) == set(REFERENCE_KERNELS)
    for name, kernel in kernels.items():
        _, expected = REFERENCE_KERNELS[name]
        assert emulator.held_out_rmse(gpytorch.kernels.ScaleKernel(kernel)) == pytest.approx(expected, rel=0.01), name


@pytest.mark.parametrize(
    "check, stub",
    [
        (check_seasonal_kernel, ...),
        (check_posterior, None),
        (check_log_marginal_likelihood, ...),
        (check_kernel_choice, {}),
    ],
)
def test_checkers_report_stubs(check, stub):
    verdict = check(stub)
    assert verdict.passed is None
    assert NOT_IMPLEMENTED in verdict.message


def test_checkers_report_not_implemented_function():
    def stub(*args, **kwargs):
        raise NotImplementedError

    for check in (check_seasonal_kernel, check_posterior, check_log_marginal_likelihood):
        assert check(stub).passed is None


def test_benchmark_copy_matches_record():
    shipped = co2.load_benchmark()
    record = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "gp_co2.json").read_text())
    assert shipped == record
    for variant in co2.VARIANTS:
        assert set(shipped[variant]) == {"gpytorch", "sklearn"}
        assert shipped[variant]["gpytorch"]["forecast_1996_2001"]["months"] == 72


def test_benchmark_lml_at_least_sklearn():
    shipped = co2.load_benchmark()
    for variant in co2.VARIANTS:
        ours = shipped[variant]["gpytorch"]["log_marginal_likelihood"]
        theirs = shipped[variant]["sklearn"]["log_marginal_likelihood"]
        assert ours >= theirs - 1e-6, variant


def test_posterior_explorer_builds_widgets():
    import ipywidgets

    x_train, y_train, x_test = tiny_problem()
    explorer = plots.posterior_explorer(x_train, y_train, x_test)
    assert isinstance(explorer, ipywidgets.VBox)
    sliders = explorer.children[0].children
    assert [slider.description for slider in sliders] == ["length scale", "noise std"]
    sliders[0].value = 2.0
    plt.close("all")


def test_seasonal_checker_explains_single_precision():
    def single(x1, x2, **kwargs):
        return seasonal_solution(x1.float(), x2.float(), **kwargs)

    verdict = check_seasonal_kernel(single)
    assert verdict.passed is False
    assert "single precision" in verdict.message


def test_posterior_checker_explains_swapped_outputs():
    def swapped(*args, **kwargs):
        mean, variance = by_hand.posterior(*args, **kwargs)
        return variance, mean

    verdict = check_posterior(swapped)
    assert verdict.passed is False
    assert "order (mean, variance)" in verdict.message


def test_lml_checker_explains_half_log_determinant():
    def half_determinant(x, y, lengthscale, outputscale, noise):
        covariance = by_hand.rbf_kernel(x, x, lengthscale, outputscale) + noise * torch.eye(len(x), dtype=DTYPE)
        return by_hand.log_marginal_likelihood(x, y, lengthscale, outputscale, noise) + torch.logdet(covariance) / 4

    verdict = check_log_marginal_likelihood(half_determinant)
    assert verdict.passed is False
    assert "log|K| = 2 Σ log L_ii" in verdict.message


def test_kernel_choice_checker_names_empty_dict():
    verdict = check_kernel_choice({})
    assert verdict.passed is None
    assert "`errors` is still empty" in verdict.message
