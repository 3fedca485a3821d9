"""Tests of the dynamics package: integrator, Lyapunov exponent, metrics, models, checkers, weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from ml4es.checks import NOT_IMPLEMENTED
from ml4es.dynamics import checks, discovery, dmd, elnino, emulators, evaluation, lyapunov, metrics, reservoir, systems
from ml4es.dynamics.trajectories import trajectories


@pytest.fixture(autouse=True)
def lenient_checks(monkeypatch):
    """Run checkers in their reader-facing mode, where a wrong result returns a verdict."""
    monkeypatch.delenv("ML4ES_STRICT_CHECKS", raising=False)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ML4ES_DATA_DIR", str(tmp_path))
    return tmp_path


def stub(*args):
    raise NotImplementedError


# --- systems and integrator ---------------------------------------------------------------------


def test_lorenz96_tendency_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # dx_0/dt = (x_1 - x_3) x_4 - x_0 + F, with the cyclic indices x_{-1} = x_4 and x_{-2} = x_3.
    expected_0 = (2.0 - 4.0) * 5.0 - 1.0 + 8.0
    expected_2 = (4.0 - 1.0) * 2.0 - 3.0 + 8.0
    tendency = systems.lorenz96(x)
    assert tendency[0] == pytest.approx(expected_0)
    assert tendency[2] == pytest.approx(expected_2)


def test_lorenz96_fixed_point_is_forcing():
    assert np.allclose(systems.lorenz96(np.full((3, 40), 8.0)), 0.0)


def test_lorenz63_tendency_by_hand():
    assert np.allclose(systems.lorenz63(np.array([1.0, 2.0, 3.0])), [10.0, 1.0 * 25.0 - 2.0, 2.0 - 8.0])


def test_tendencies_reject_bad_shapes():
    with pytest.raises(ValueError, match="3 components"):
        systems.lorenz63(np.zeros(4))
    with pytest.raises(ValueError, match="at least 4"):
        systems.lorenz96(np.zeros(3))
    with pytest.raises(ValueError, match="unknown system"):
        systems.tendency("lorenz84")


def test_integrate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="dt"):
        systems.integrate(systems.lorenz63, np.ones(3), 10, 0.0)
    with pytest.raises(ValueError, match="save_every"):
        systems.integrate(systems.lorenz63, np.ones(3), 10, 0.01, save_every=0)


@pytest.mark.parametrize("initial_states", [systems.lorenz96_initial_states, systems.lorenz63_initial_states])
@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"n": 0}, ValueError, "invalid n=0"),
        ({"n": -3}, ValueError, "invalid n=-3"),
        ({"n": 2.5}, TypeError, "invalid n=2.5"),
        ({"n": 2, "dt": 0.0}, ValueError, "invalid time step dt=0.0"),
        ({"n": 2, "spin_up": 0.0}, ValueError, "invalid spin_up=0.0"),
    ],
)
def test_initial_states_reject_bad_arguments(initial_states, arguments, error, message):
    with pytest.raises(error, match=message):
        initial_states(**arguments)


def test_ensemble_forecast_rejects_bad_arguments():
    x0 = np.full(40, 8.0)
    with pytest.raises(ValueError, match="invalid n_members=0"):
        systems.ensemble_forecast(x0, 0, 0.01, 5)
    with pytest.raises(ValueError, match="invalid n_members=-2"):
        systems.ensemble_forecast(x0, -2, 0.01, 5)
    with pytest.raises(ValueError, match="invalid sample_dt=0.001"):
        systems.ensemble_forecast(x0, 2, 0.01, 5, sample_dt=0.001)


def test_rk4_matches_reference_solution():
    start = systems.lorenz96_initial_states(1, seed=2)[0]
    reference = solve_ivp(lambda t, x: systems.lorenz96(x), (0, 1), start, method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]
    end = systems.integrate(systems.lorenz96, start, 100, 0.01)[-1]
    assert np.abs(end - reference).max() < 1e-4


def test_rk4_converges_at_fourth_order():
    start = systems.lorenz63_initial_states(1, seed=0)[0]
    reference = solve_ivp(lambda t, x: systems.lorenz63(x), (0, 1), start, method="DOP853", rtol=1e-13, atol=1e-13).y[:, -1]
    errors = [np.abs(systems.integrate(systems.lorenz63, start, n, 1.0 / n)[-1] - reference).max() for n in (50, 100, 200)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 3.7)
    assert np.all(orders < 4.3)


def test_integrate_vectorised_over_states():
    starts = systems.lorenz96_initial_states(3, seed=4)
    together = systems.integrate(systems.lorenz96, starts, 20, 0.01, save_every=5)
    alone = systems.integrate(systems.lorenz96, starts[1], 20, 0.01, save_every=5)
    assert together.shape == (5, 3, 40)
    assert np.allclose(together[:, 1], alone)


def test_ensemble_forecast_spread_and_shape():
    x0 = systems.lorenz96_initial_states(1, seed=5)[0]
    ensemble = systems.ensemble_forecast(x0, n_members=6, sigma=0.01, n_samples=4, seed=1)
    assert ensemble.shape == (5, 6, 40)
    assert 0.005 < (ensemble[0] - x0).std() < 0.02


# --- Lyapunov exponent ----------------------------------------------------------------------------


def test_lorenz96_lyapunov_exponent_near_literature():
    # The literature value for N = 40, F = 8 is about 1.7 per model time unit.
    starts = systems.lorenz96_initial_states(6, seed=3)
    result = lyapunov.largest_lyapunov_exponent(systems.lorenz96, starts, duration=150.0)
    assert abs(result["exponent"] - 1.7) / 1.7 < 0.05


def test_lorenz63_lyapunov_exponent_near_literature():
    # The literature value for sigma = 10, rho = 28, beta = 8/3 is about 0.906.
    starts = systems.lorenz63_initial_states(4, seed=1)
    result = lyapunov.largest_lyapunov_exponent(systems.lorenz63, starts, duration=200.0)
    assert abs(result["exponent"] - 0.906) / 0.906 < 0.05


def test_lyapunov_exponent_of_linear_decay():
    # dx/dt = -x contracts every direction at rate 1, so the exponent is -1.
    result = lyapunov.largest_lyapunov_exponent(lambda x: -x, np.ones((2, 3)), duration=5.0)
    assert result["exponent"] == pytest.approx(-1.0, abs=1e-6)


def test_lyapunov_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        lyapunov.largest_lyapunov_exponent(systems.lorenz63, np.ones(3))
    with pytest.raises(ValueError, match="shorter"):
        lyapunov.largest_lyapunov_exponent(systems.lorenz63, np.ones((1, 3)), duration=0.01)


# --- trajectories and cache -----------------------------------------------------------------------


def test_trajectories_cached_as_netcdf(cache):
    first = trajectories("lorenz96", 2, 1.0, 0.05, seed=0)
    files = list((cache / "dynamics").glob("lorenz96_*.nc"))
    assert len(files) == 1
    second = trajectories("lorenz96", 2, 1.0, 0.05, seed=0)
    assert first.x.shape == (2, 21, 40)
    assert np.array_equal(first.x.values, second.x.values)
    assert trajectories("lorenz96", 2, 1.0, 0.05, seed=1).x.values[0, 0, 0] != first.x.values[0, 0, 0]
    assert len(list((cache / "dynamics").glob("*.nc"))) == 2


def test_trajectories_noise_keeps_clean(cache):
    noisy = trajectories("lorenz63", 1, 2.0, 0.01, seed=0, noise=0.1)
    difference = noisy.x.values - noisy.x_clean.values
    relative = difference.std() / noisy.x_clean.values.std()
    assert relative == pytest.approx(0.1, rel=0.1)


def test_trajectories_reject_bad_parameters(cache):
    with pytest.raises(ValueError, match="multiple"):
        trajectories("lorenz96", 1, 1.0, 0.033)
    with pytest.raises(ValueError, match="noise"):
        trajectories("lorenz96", 1, 1.0, 0.05, noise=-1.0)
    with pytest.raises(ValueError, match="unknown system"):
        trajectories("lorenz84", 1, 1.0, 0.05)
    with pytest.raises(ValueError, match="invalid n_trajectories=0"):
        trajectories("lorenz96", 0, 1.0, 0.05)
    with pytest.raises(ValueError, match="invalid duration=nan"):
        trajectories("lorenz96", 1, float("nan"), 0.05)


# --- metrics --------------------------------------------------------------------------------------


def test_valid_prediction_time_by_hand():
    truth = np.zeros((5, 4))
    forecast = np.zeros((5, 4))
    forecast[3:] = 1.0  # normalised RMSE 0, 0, 0, 1, 1 with climate_std = 1
    assert metrics.valid_prediction_time(forecast, truth, 0.1, 1.0) == pytest.approx(0.2)
    assert metrics.valid_prediction_time(truth, truth, 0.1, 1.0) == pytest.approx(0.4)
    assert metrics.valid_prediction_time(forecast + 1.0, truth, 0.1, 1.0) == pytest.approx(0.0)
    # A larger climatological spread makes an error of 1 count as 0.4: never invalid.
    assert metrics.valid_prediction_time(forecast, truth, 0.1, 2.5) == pytest.approx(0.4)


def test_valid_prediction_time_batched():
    truth = np.zeros((5, 2, 4))
    forecast = np.zeros((5, 2, 4))
    forecast[2:, 0] = 1.0
    assert np.allclose(metrics.valid_prediction_time(forecast, truth, 1.0, 1.0), [1.0, 4.0])


def test_normalised_rmse_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        metrics.normalised_rmse(np.zeros((3, 4)), np.zeros((3, 5)), 1.0)


@pytest.mark.parametrize("climate_std", [0.0, -1.0, float("nan"), np.array([1.0, 0.0, 1.0, 1.0])])
def test_valid_prediction_time_rejects_bad_climate_std(climate_std):
    truth = np.zeros((5, 4))
    with pytest.raises(ValueError, match="invalid climate_std"):
        metrics.valid_prediction_time(truth + 0.1, truth, 0.1, climate_std)


def test_valid_prediction_time_rejects_bad_dt():
    truth = np.zeros((5, 4))
    with pytest.raises(ValueError, match="invalid time step dt=0"):
        metrics.valid_prediction_time(truth, truth, 0, 1.0)


def test_hellinger_by_hand():
    same = np.random.default_rng(0).standard_normal(1000)
    assert metrics.hellinger_distance(same, same) == pytest.approx(0.0, abs=1e-12)
    # Two disjoint uniform samples share no bin.
    assert metrics.hellinger_distance(np.full(10, 0.1), np.full(10, 0.9), bins=10, value_range=(0, 1)) == pytest.approx(1.0)
    # Half of the mass in common: H = sqrt(1 - sqrt(0.5 * 1)).
    half = metrics.hellinger_distance(np.array([0.1, 0.9]), np.array([0.1, 0.1]), bins=2, value_range=(0, 1))
    assert half == pytest.approx(math.sqrt(1 - math.sqrt(0.5)))


def test_hellinger_rejects_nan():
    with pytest.raises(ValueError, match="blown up"):
        metrics.hellinger_distance(np.array([np.nan, 1.0]), np.array([0.0, 1.0]))


def test_autocorrelation_of_sine():
    time = np.arange(400) * 2 * np.pi / 40
    correlation = metrics.autocorrelation(np.sin(time), 20)
    assert correlation[0] == pytest.approx(1.0)
    assert correlation[20] == pytest.approx(-1.0, abs=0.06)
    with pytest.raises(ValueError, match="max_lag"):
        metrics.autocorrelation(np.sin(time), 400)


# --- SINDy, DMD, reservoirs -----------------------------------------------------------------------


def test_sindy_recovers_lorenz63(cache):
    x = trajectories("lorenz63", 1, 20.0, 0.01, seed=0).x.values[0]
    fitted = discovery.fit_sindy(x, 0.01).coefficients()
    score = discovery.coefficient_errors(fitted, checks.lorenz63_coefficients())
    assert score["missing_terms"] == 0
    assert score["spurious_terms"] == 0
    assert score["max_relative_error"] < 0.05


def test_dmd_recovers_linear_map():
    operator = np.array([[0.9, -0.2], [0.2, 0.9]])
    runs = []
    for sign in (1.0, -1.0):  # two mirrored runs, so the sample mean is exactly the offset of 3
        states = [np.array([sign, 0.5 * sign])]
        for _ in range(30):
            states.append(operator @ states[-1])
        runs.append(np.array(states) + 3.0)
    runs = np.array(runs)
    model = dmd.DMD(rank=2).fit(runs)
    assert np.allclose(model.mean, 3.0)
    assert np.allclose(np.abs(model.eigenvalues), np.hypot(0.9, 0.2))
    assert np.allclose(model.forecast(runs[0, 0], 5)[-1, 0], runs[0, 5])


def test_dmd_rejects_bad_rank():
    with pytest.raises(ValueError, match="invalid rank=0"):
        dmd.DMD(rank=0)
    with pytest.raises(ValueError, match="invalid rank=-1"):
        dmd.DMD(rank=-1)
    with pytest.raises(TypeError, match="invalid rank=2.0"):
        dmd.DMD(rank=2.0)
    data = np.random.default_rng(0).standard_normal((2, 50, 4))
    with pytest.raises(ValueError, match="rank 5 is larger than the rank of the data \\(4"):
        dmd.DMD(rank=5).fit(data)
    # Three snapshot pairs span at most three directions, whatever the number of variables.
    with pytest.raises(ValueError, match="expected a rank between 1 and 3"):
        dmd.DMD(rank=4).fit(data[0, :4])


def test_dmd_rejects_bad_data():
    with pytest.raises(ValueError, match="T >= 2"):
        dmd.DMD(rank=1).fit(np.ones((1, 4)))
    with pytest.raises(ValueError, match="NaN"):
        dmd.DMD(rank=1).fit(np.full((5, 4), np.nan))
    with pytest.raises(ValueError, match="constant in time"):
        dmd.DMD(rank=1).fit(np.ones((5, 4)))
    with pytest.raises(RuntimeError, match="not fitted"):
        dmd.DMD(rank=1).forecast(np.ones(4), 3)


def test_ridge_readout_closed_form():
    rng = np.random.default_rng(1)
    features = rng.standard_normal((50, 4))
    weights = rng.standard_normal((2, 4))
    targets = features @ weights.T
    assert np.allclose(reservoir.ridge_readout(features, targets, 0.0), weights)
    shrunk = reservoir.ridge_readout(features, targets, 1e3)
    assert np.abs(shrunk).sum() < np.abs(weights).sum()
    with pytest.raises(ValueError, match="rows"):
        reservoir.ridge_readout(features, targets[:10], 1.0)


def test_reservoir_spectral_radius():
    esn = reservoir.EchoStateNetwork(3, 3, n_reservoir=50, spectral_radius=0.8, seed=0)
    assert np.max(np.abs(np.linalg.eigvals(esn.W))) == pytest.approx(0.8)


def test_local_inputs_are_periodic():
    x = np.arange(6.0)
    windows = reservoir.local_inputs(x, 1)
    assert windows.shape == (6, 3)
    assert np.array_equal(windows[0], [5.0, 0.0, 1.0])
    assert np.array_equal(windows[5], [4.0, 5.0, 0.0])


# --- emulators ------------------------------------------------------------------------------------


def test_periodic_cnn_commutes_with_shift():
    torch.manual_seed(0)
    model = emulators.PeriodicCNN(2.0, 3.0, channels=8, depth=2)
    x = torch.randn(2, 40)
    shifted = model(torch.roll(x, 3, dims=-1))
    assert torch.allclose(shifted, torch.roll(model(x), 3, dims=-1), atol=1e-5)


def test_rollout_loss_one_step_equals_one_step_loss():
    torch.manual_seed(0)
    model = emulators.ResidualMLP(8, 0.0, 2.0, width=16, depth=1)
    x0, target = torch.randn(4, 8), torch.randn(4, 8)
    assert torch.allclose(emulators.rollout_loss(model, x0, target[:, None]), emulators.one_step_loss(model, x0, target))


def test_windows_shape_and_content():
    data = np.arange(2 * 5 * 3, dtype=float).reshape(2, 5, 3)
    cut = emulators.windows(data, 3)
    assert cut.shape == (6, 3, 3)
    assert torch.equal(cut[4], torch.tensor(data[1, 1:4], dtype=torch.float32))
    with pytest.raises(ValueError, match="T >= 6"):
        emulators.windows(data, 6)


def test_fit_lowers_one_step_loss():
    torch.manual_seed(0)
    data = np.cumsum(np.random.default_rng(0).standard_normal((1, 60, 8)), axis=1)
    model = emulators.ResidualMLP(8, float(data.mean()), float(data.std()), width=16, depth=1)
    history = emulators.fit(model, emulators.windows(data, 2), steps=60, learning_rate=1e-2, progress=False)
    assert history[-1] < history[0]


def test_fit_rejects_short_windows():
    model = emulators.ResidualMLP(4, 0.0, 1.0, width=8, depth=1)
    with pytest.raises(ValueError, match="too short"):
        emulators.fit(model, torch.zeros(3, 2, 4), steps=1, rollout_length=3, progress=False)


def test_pretrained_emulator_meets_targets(cache):
    model = emulators.load_pretrained()
    record = emulators.load_record()
    assert record["metrics"]["median_vpt_lyapunov_times"] >= 2.0
    assert record["metrics"]["hellinger"] <= 0.05
    assert not record["metrics"]["free_run_blew_up"]
    test = evaluation.ForecastTest(n_initial_conditions=20, free_run_states=2, free_run_time=20.0)
    scores = evaluation.evaluate(emulators.forecaster(model), evaluation.test_data(test), 3.64, test)
    assert scores["median_vpt_lyapunov"] >= 2.0
    assert not scores["blew_up"]


def test_benchmark_copy_lists_every_method():
    benchmark = evaluation.load_benchmark()
    names = [row["method"] for row in benchmark["methods"]]
    assert "persistence" in names
    assert any("CNN" in name for name in names)
    assert benchmark["test"]["threshold"] == 0.5


# --- El Nino --------------------------------------------------------------------------------------


def test_elnino_split_and_scores():
    sst = elnino.load_sst()
    assert sst.size == 61 * 12
    split = elnino.split_anomalies(sst, 1991)
    assert split["train"].size == 41 * 12
    assert abs(split["train"].mean()) < 1e-10
    table = elnino.score_forecasts(split, leads=(1,))
    assert table.loc[1, "persistence"] < table.loc[1, "climatology"]


def test_lagged_predictors_by_hand():
    predictors, targets = elnino.lagged(np.arange(6.0), order=2, lead=1)
    assert np.array_equal(predictors[0], [1.0, 0.0])
    assert np.array_equal(targets, [2.0, 3.0, 4.0, 5.0])


# --- checkers -------------------------------------------------------------------------------------

CHECKERS = [
    checks.check_ensemble,
    checks.check_valid_prediction_time,
    checks.check_sindy,
    checks.check_rollout_loss,
    checks.check_ridge_readout,
]


@pytest.mark.parametrize("check", CHECKERS)
def test_checkers_report_stub(check):
    assert check(stub).passed is None
    assert NOT_IMPLEMENTED in check(...).message


@pytest.mark.parametrize("check", CHECKERS)
def test_checkers_reject_nan(check):
    verdict = check(lambda *args: np.full((3, 3), np.nan))
    assert verdict.passed is False
    assert "Traceback" not in verdict.message


def test_check_ensemble_accepts_reference():
    def answer(x0, n_members, sigma, n_samples, seed):
        return torch.as_tensor(systems.ensemble_forecast(x0, n_members, sigma, n_samples, seed=seed))

    assert checks.check_ensemble(answer).passed


def test_check_ensemble_rejects_unperturbed():
    def answer(x0, n_members, sigma, n_samples, seed):
        return systems.ensemble_forecast(x0, n_members, 0.0, n_samples, seed=seed)

    verdict = checks.check_ensemble(answer)
    assert verdict.passed is False
    assert "every member starts at x0" in verdict.message


def test_check_vpt_accepts_reference_and_hints_steps():
    assert checks.check_valid_prediction_time(lambda f, t, dt, s, h: float(metrics.valid_prediction_time(f, t, dt, s, h))).passed
    verdict = checks.check_valid_prediction_time(lambda f, t, dt, s, h: float(metrics.valid_prediction_time(f, t, dt, s, h)) / dt)
    assert verdict.passed is False
    assert "multiply by dt" in verdict.message


def test_check_sindy_accepts_good_fit_and_rejects_transpose():
    assert checks.check_sindy(lambda x, dt: discovery.fit_sindy(x, dt).coefficients()).passed
    verdict = checks.check_sindy(lambda x, dt: discovery.fit_sindy(x, dt).coefficients().T)
    assert verdict.passed is False
    assert "(3, 10)" in verdict.message


def test_check_sindy_reports_missing_terms():
    verdict = checks.check_sindy(lambda x, dt: discovery.fit_sindy(x, dt, threshold=5.0).coefficients())
    assert verdict.passed is False
    assert "missing" in verdict.message


def test_check_rollout_loss_teacher_forcing():
    assert checks.check_rollout_loss(emulators.rollout_loss).passed

    def teacher_forcing(model, x0, targets):
        inputs = torch.cat([x0[:, None], targets[:, :-1]], dim=1)
        return torch.stack([((model(inputs[:, k]) - targets[:, k]) / model.std).pow(2).mean() for k in range(targets.shape[1])]).mean()

    verdict = checks.check_rollout_loss(teacher_forcing)
    assert verdict.passed is False
    assert "teacher forcing" in verdict.message


def test_check_rollout_loss_requires_tensor():
    verdict = checks.check_rollout_loss(lambda model, x0, targets: emulators.rollout_loss(model, x0, targets).item())
    assert verdict.passed is False
    assert "tensor" in verdict.message


def test_check_ridge_readout_hints():
    assert checks.check_ridge_readout(reservoir.ridge_readout).passed
    transposed = checks.check_ridge_readout(lambda f, t, r: reservoir.ridge_readout(f, t, r).T)
    assert transposed.passed is False
    assert "outputs by features" in transposed.message
    unregularised = checks.check_ridge_readout(lambda f, t, r: reservoir.ridge_readout(f, t, 0.0))
    assert unregularised.passed is False
    assert "without regularisation" in unregularised.message


def shifted_ensemble(x0, n_members, sigma, n_samples, seed):
    return systems.ensemble_forecast(x0 + 1.0, n_members, sigma, n_samples, seed=seed)


def unseeded_ensemble(x0, n_members, sigma, n_samples, seed):
    return systems.ensemble_forecast(x0, n_members, sigma, n_samples, seed=None)


@pytest.mark.parametrize(("answer", "phrase"), [
    (shifted_ensemble, "not around x0"),
    (unseeded_ensemble, "same seed give different ensembles"),
])
def test_check_ensemble_rejects_wrong_members(answer, phrase):
    verdict = checks.check_ensemble(answer)
    assert verdict.passed is False
    assert phrase in verdict.message


def test_check_rollout_loss_names_detach():
    verdict = checks.check_rollout_loss(lambda model, x0, targets: emulators.rollout_loss(model, x0, targets).detach())
    assert verdict.passed is False
    assert "`.detach()`" in verdict.message


def test_check_vpt_explains_forecast_wrong_from_start():
    def one_step_early(forecast, truth, dt, climate_std, threshold):
        value = float(metrics.valid_prediction_time(forecast, truth, dt, climate_std, threshold))
        return value if value > 0 else -dt

    verdict = checks.check_valid_prediction_time(one_step_early)
    assert verdict.passed is False
    assert "already wrong at the first row" in verdict.message


def test_check_ensemble_names_float32():
    def single(x0, n_members, sigma, n_samples, seed):
        return systems.ensemble_forecast(x0, n_members, sigma, n_samples, seed=seed).astype(np.float32)

    verdict = checks.check_ensemble(single)
    assert verdict.passed is False
    assert "float32" in verdict.message
