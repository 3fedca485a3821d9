"""Tests of device choice, seeding and the training loop helper."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from ml4es import device, seed_everything, training
from ml4es.training import train


def test_device_defaults_to_available():
    assert device().type in ("cuda", "mps", "cpu")


def test_device_cpu_forced(monkeypatch):
    monkeypatch.setenv("ML4ES_DEVICE", "cpu")
    assert device() == torch.device("cpu")


def test_device_invalid_name():
    with pytest.raises(ValueError, match="'tpu'"):
        device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_unavailable_cuda():
    with pytest.raises(RuntimeError, match="not available"):
        device("cuda")


def test_seed_repeats_every_generator():
    draws = []
    for _ in range(2):
        seed_everything(3)
        draws.append((random.random(), np.random.rand(), torch.rand(1).item()))
    assert draws[0] == draws[1]


def test_seed_rejects_negative():
    with pytest.raises(ValueError, match="-1"):
        seed_everything(-1)


def test_train_fits_a_line():
    seed_everything(0)
    x = torch.linspace(0, 1, 20).reshape(-1, 1)
    y = 3 * x + 1
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    history = train(lambda: ((model(x) - y) ** 2).mean(), optimizer, 300, progress=False)
    assert len(history) == 300
    assert history[-1] < 1e-4 < history[0]


def test_train_with_lbfgs():
    x = torch.linspace(0, 1, 20, dtype=torch.float64).reshape(-1, 1)
    weight = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight], line_search_fn="strong_wolfe")
    history = train(lambda: ((weight * x - 2 * x) ** 2).mean(), optimizer, 3, progress=False)
    assert history[-1] < 1e-12
    assert weight.item() == pytest.approx(2.0)


def test_train_stops_on_nan():
    weight = torch.ones(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    with pytest.raises(FloatingPointError, match="step 0"):
        train(lambda: weight * float("nan"), optimizer, 5, progress=False)


def test_train_rejects_negative_steps():
    optimizer = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="-2"):
        train(lambda: torch.zeros(()), optimizer, -2)


def test_machine_info_names_versions():
    from ml4es.runtime import machine_info

    info = machine_info()
    assert info["torch"] == torch.__version__
    assert info["cpu_count"] >= 1
    assert len(info["load_average_at_start"]) == 3


@pytest.mark.parametrize("steps", [1, 2, 3, 10, 19, 20, 1000])
def test_one_cycle_runs_any_length(steps):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimiser = torch.optim.Adam([parameter], lr=1.0)
    schedule = training.one_cycle(optimiser, 1.0, steps)
    rates = []
    for _ in range(steps):
        rates.append(optimiser.param_groups[0]["lr"])
        optimiser.step()
        schedule.step()
    if steps < 3:
        assert rates == [1.0] * steps
    else:
        assert rates[0] == pytest.approx(1.0 / 25)
        # The rate climbs towards max_lr and falls back, whatever the length.
        assert max(rates) >= 0.75
        assert rates[-1] < 0.05


def test_one_cycle_long_run_warm_up():
    optimiser = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = training.one_cycle(optimiser, 1.0, 1000)
    assert schedule.get_last_lr()[0] == pytest.approx(0.04)
    for _ in range(99):
        optimiser.step()
        schedule.step()
    assert optimiser.param_groups[0]["lr"] == pytest.approx(1.0)


@pytest.mark.parametrize(("steps", "warm_up", "message"), [(0, 0.1, "invalid number of steps 0"),
                                                           (10, 1.5, "invalid warm-up fraction 1.5")])
def test_one_cycle_rejects_bad_settings(steps, warm_up, message):
    optimiser = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match=message):
        training.one_cycle(optimiser, 1.0, steps, warm_up)


def test_check_resumable_names_differences():
    saved = {"adam_steps": 100, "seed": 0, "lbfgs_steps": 10}
    training.check_resumable(saved, {**saved, "lbfgs_steps": 50}, "run.pt")
    training.check_resumable(None, saved, "run.pt")
    with pytest.raises(SystemExit, match=r"run\.pt was made with another recipe \(seed: 0 there, 1 now\)"):
        training.check_resumable(saved, {**saved, "seed": 1}, "run.pt")
    with pytest.raises(SystemExit, match="width: None there, 64 now"):
        training.check_resumable(saved, {**saved, "width": 64}, "run.pt")
