"""Benchmark data-driven forecasts of Lorenz-96 (N = 40, F = 8): every method on one test.

Each method is trained on the same 20 trajectories of 100 model time units (MTU), sampled every
0.05 MTU. ``ml4es.dynamics.evaluation.evaluate`` scores it by the median valid prediction time
(VPT) over 100 test initial conditions, at a normalised RMSE threshold of 0.5 and in Lyapunov
times of 1 / 1.7 MTU. It also checks whether a 100-MTU free run from 10 states blows up, and
measures the Hellinger distance of the free run's histogram from the true one. Methods:

- persistence (no training): tomorrow is today;
- DMD of rank 40 (a linear model);
- a local echo-state network (200 units shared by every grid point, ridge readout);
- a dense residual MLP (2 hidden layers of 256), trained on one-step pairs;
- the periodic CNN of the chapter, after one-step training, then after 5-step rollout training
  (``emulators.EmulatorRecipe``, the recipe of the shipped weights).

Training times are wall-clock seconds with one PyTorch thread; the CNN's second row counts both
phases. Prints a table and writes benchmarks/results/lorenz96.json, and a copy to
code/src/ml4es/weights/lorenz96_benchmark.json for the chapter.

Usage: OMP_NUM_THREADS=1 python benchmarks/lorenz96.py [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

import ml4es
from ml4es.dynamics import dmd, emulators, evaluation, reservoir
from ml4es.runtime import machine_info

RESULTS = Path(__file__).resolve().parent / "results" / "lorenz96.json"
# A copy ships with ml4es, so that the chapter prints the table where the repository is absent (Colab).
PACKAGE_COPY = Path(__file__).resolve().parents[1] / "code" / "src" / "ml4es" / "weights" / "lorenz96_benchmark.json"
TARGETS = {"median_vpt_lyapunov": 2.0, "free_run_mtu": 100.0, "hellinger": 0.05}


def summarise(name: str, description: str, seconds: float, scores: dict) -> dict:
    return {
        "method": name,
        "description": description,
        "train_seconds": round(seconds, 1),
        "median_vpt_lyapunov": round(scores["median_vpt_lyapunov"], 3),
        "vpt_lyapunov_quartiles": [round(float(q), 3) for q in np.percentile(scores["vpt_lyapunov"], [25, 75])],
        "blew_up": scores["blew_up"],
        "hellinger": None if scores["hellinger"] is None else round(scores["hellinger"], 4),
    }


def run(data: np.ndarray, test_data: dict, std: float) -> list[dict]:
    rows = []

    def persistence(history: np.ndarray, n_steps: int) -> np.ndarray:
        return np.repeat(history[-1:], n_steps + 1, axis=0)

    rows.append(summarise("persistence", "x(t + k dt) = x(t)", 0.0, evaluation.evaluate(persistence, test_data, std)))

    start = time.perf_counter()
    linear = dmd.DMD(rank=40).fit(data)
    seconds = time.perf_counter() - start
    scores = evaluation.evaluate(lambda history, n: linear.forecast(history[-1], n), test_data, std)
    rows.append(summarise("DMD (rank 40)", "linear map of anomalies", seconds, scores))

    start = time.perf_counter()
    esn = reservoir.LocalReservoir(half_width=3, n_reservoir=200, spectral_radius=0.6, input_scale=0.5, ridge=1e-6, seed=0)
    esn.fit(data[:4])
    seconds = time.perf_counter() - start
    rows.append(summarise("echo-state network (local)", "200 units per point, 4 trajectories", seconds, evaluation.evaluate(esn.forecast, test_data, std)))

    recipe = emulators.EmulatorRecipe()
    mlp_recipe = replace(recipe, kind="mlp", channels=256, depth=2, rollout_iterations=0)
    for name, chosen, description in (
        ("dense residual MLP, one-step", mlp_recipe, "2 x 256 GELU, 2,000 Adam steps"),
        ("periodic CNN, one-step", replace(recipe, rollout_iterations=0), "3 x 32 channels, kernel 5, 2,000 Adam steps"),
        ("periodic CNN, + rollout", recipe, "then 300 steps on 5-step rollouts (shipped weights)"),
    ):
        ml4es.seed_everything(chosen.seed)
        start = time.perf_counter()
        model, _ = emulators.train_recipe(chosen, data, progress=False)
        seconds = time.perf_counter() - start
        rows.append(summarise(name, description, seconds, evaluation.evaluate(emulators.forecaster(model), test_data, std)))
        print(f"{name}: {rows[-1]}", flush=True)
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"\n{'method':30s}{'median VPT (LT)':>16s}{'blow-up':>9s}{'Hellinger':>11s}{'train (s)':>11s}")
    for row in rows:
        hellinger = "-" if row["hellinger"] is None else f"{row['hellinger']:.4f}"
        print(f"{row['method']:30s}{row['median_vpt_lyapunov']:>16.2f}{str(row['blew_up']):>9s}{hellinger:>11s}{row['train_seconds']:>11.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="number of CPU threads for PyTorch (default 1)")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    recipe = emulators.EmulatorRecipe()
    data = evaluation.training_data(recipe.n_trajectories, recipe.duration, recipe.seed)
    test_data = evaluation.test_data()
    std = float(data.std())

    results = {"benchmark": "lorenz96", "machine": machine_info(), "test": asdict(evaluation.ForecastTest())}
    results["lyapunov_exponent"] = evaluation.LYAPUNOV_EXPONENT
    results["targets"] = TARGETS
    start = time.perf_counter()
    results["methods"] = run(data, test_data, std)
    results["wall_seconds"] = round(time.perf_counter() - start, 1)
    results["machine"]["load_average_at_end"] = list(os.getloadavg())

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    PACKAGE_COPY.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results["methods"])
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
