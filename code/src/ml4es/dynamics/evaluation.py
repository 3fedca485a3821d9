"""The Lorenz-96 forecast test used by the chapter, the training script and the benchmark.

Every method is scored the same way. Forecasts from 100 test initial conditions give the valid
prediction time at a normalised RMSE of 0.5, in Lyapunov times. A free run of 100 model time units
from 10 states shows whether the method blows up, and how far its histogram is from the true one
(the Hellinger distance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ml4es.dynamics import metrics
from ml4es.dynamics.trajectories import trajectories

SAMPLE_DT = 0.05
"""Time step of the emulators and of the sampled trajectories, in model time units."""

LYAPUNOV_EXPONENT = 1.7
"""Largest Lyapunov exponent of Lorenz-96 with N = 40 and F = 8, per model time unit.

The literature value is about 1.7; ``lyapunov.largest_lyapunov_exponent`` reproduces it to
within a few per cent (tested in ``code/tests/test_dynamics.py``). One Lyapunov time is
1 / 1.7 = 0.59 MTU, or 11.8 steps of 0.05.
"""

HISTORY_STEPS = 50
"""Steps of true history before each forecast start, for methods that must synchronise (reservoirs)."""

# A forecast is the states at the start and after each step: (n_steps + 1, batch, N).
Forecaster = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class ForecastTest:
    """Parameters of the test: numbers of initial conditions, lengths and seeds."""

    n_initial_conditions: int = 100
    forecast_steps: int = 100
    free_run_states: int = 10
    free_run_time: float = 100.0
    threshold: float = metrics.VPT_THRESHOLD
    test_seed: int = 99
    climate_seed: int = 7


def training_data(n_trajectories: int = 20, duration: float = 100.0, seed: int = 0) -> np.ndarray:
    """Return training trajectories of Lorenz-96, shape ``(n_trajectories, T, 40)``, sampled every 0.05."""
    return trajectories("lorenz96", n_trajectories, duration, SAMPLE_DT, seed=seed).x.values


def test_data(test: ForecastTest = ForecastTest()) -> dict[str, np.ndarray]:
    """Return the test cases and the reference climate run, as arrays of shape (time, batch, N).

    ``history`` and ``truth`` overlap in one row, the forecast start. So do ``climate_history``
    and ``climate``, which is the true run of ``free_run_time`` MTU that a free run is compared with.
    """
    total = (HISTORY_STEPS + test.forecast_steps) * SAMPLE_DT
    cases = trajectories("lorenz96", test.n_initial_conditions, total, SAMPLE_DT, seed=test.test_seed).x.values
    climate_total = HISTORY_STEPS * SAMPLE_DT + test.free_run_time
    climate = trajectories("lorenz96", test.free_run_states, climate_total, SAMPLE_DT, seed=test.climate_seed).x.values
    cases = np.moveaxis(cases, 0, 1)
    climate = np.moveaxis(climate, 0, 1)
    return {
        "history": cases[: HISTORY_STEPS + 1],
        "truth": cases[HISTORY_STEPS:],
        "climate_history": climate[: HISTORY_STEPS + 1],
        "climate": climate[HISTORY_STEPS:],
    }


def evaluate(forecast: Forecaster, data: dict[str, np.ndarray], climate_std: float, test: ForecastTest = ForecastTest()) -> dict:
    """Score ``forecast(history, n_steps)``, which gets true histories ``(T, batch, N)`` whose last
    row is the start, and returns ``(n_steps + 1, batch, N)``.

    Returns the valid prediction times (MTU and Lyapunov times) and their median. It also returns
    whether the free run blew up, which means a non-finite value or one beyond 10 climatological
    standard deviations, and the Hellinger distance of the free run's histogram from the true one
    (None when the run has non-finite values).
    """
    predicted = forecast(data["history"], test.forecast_steps)
    vpt = metrics.valid_prediction_time(predicted, data["truth"], SAMPLE_DT, climate_std, test.threshold)
    free_steps = int(round(test.free_run_time / SAMPLE_DT))
    climate = data["climate"]
    free = forecast(data["climate_history"], free_steps)
    finite = bool(np.isfinite(free).all())
    blew_up = not finite or bool(np.abs(free - climate.mean()).max() > 10 * climate_std)
    hellinger = None if not finite else metrics.hellinger_distance(free[1:], climate[1:])
    return {
        "vpt_mtu": vpt,
        "vpt_lyapunov": vpt * LYAPUNOV_EXPONENT,
        "median_vpt_lyapunov": float(np.median(vpt) * LYAPUNOV_EXPONENT),
        "blew_up": blew_up,
        "hellinger": hellinger,
        "free_run": free,
    }


def load_benchmark() -> dict:
    """Return the results of ``benchmarks/lorenz96.py``, from the copy shipped in ``ml4es/weights``."""
    import json
    from importlib import resources

    return json.loads(resources.files("ml4es").joinpath("weights", "lorenz96_benchmark.json").read_text("utf-8"))
