"""Reproduce the pretrained Lorenz-96 emulator of the chapter on data-driven dynamics.

Trains ``emulators.EmulatorRecipe`` (a periodic CNN, one-step pairs then 5-step rollouts) on 20
trajectories of 100 model time units, scores it with ``evaluation.evaluate`` and writes
code/src/ml4es/weights/lorenz96_emulator.pt and lorenz96_emulator.json (command, machine, time,
recipe, metrics).

Usage: OMP_NUM_THREADS=1 python scripts/train_lorenz96_emulator.py [--threads N]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

import ml4es
from ml4es.dynamics import emulators, evaluation
from ml4es.runtime import machine_info

logger = logging.getLogger("train_lorenz96_emulator")

WEIGHTS = Path(__file__).resolve().parents[1] / "code" / "src" / "ml4es" / "weights"
NAME = "lorenz96_emulator"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="number of CPU threads for PyTorch (default 1)")
    arguments = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(arguments.threads)
    recipe = emulators.EmulatorRecipe()
    data = evaluation.training_data(recipe.n_trajectories, recipe.duration, recipe.seed)

    ml4es.seed_everything(recipe.seed)
    start = time.perf_counter()
    model, history = emulators.train_recipe(recipe, data)
    seconds = time.perf_counter() - start

    scores = evaluation.evaluate(emulators.forecaster(model), evaluation.test_data(), float(data.std()))
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    emulators.save(model, NAME, WEIGHTS)
    record = {
        "description": "residual periodic-CNN emulator of Lorenz-96 (N = 40, F = 8), time step 0.05 MTU",
        "command": " ".join(["python", *sys.argv]),
        "machine": machine_info(),
        "train_seconds": round(seconds, 1),
        "recipe": asdict(recipe),
        "n_weights": sum(p.numel() for p in model.parameters()),
        "metrics": {
            "final_one_step_loss": history["one step"][-1],
            "final_rollout_loss": history["rollout"][-1],
            "median_vpt_lyapunov_times": scores["median_vpt_lyapunov"],
            "vpt_threshold_normalised_rmse": evaluation.ForecastTest().threshold,
            "lyapunov_exponent": evaluation.LYAPUNOV_EXPONENT,
            "n_test_initial_conditions": int(scores["vpt_mtu"].size),
            "free_run_blew_up": scores["blew_up"],
            "free_run_mtu": evaluation.ForecastTest().free_run_time,
            "hellinger": scores["hellinger"],
        },
    }
    (WEIGHTS / f"{NAME}.json").write_text(json.dumps(record, indent=2) + "\n")
    logger.info(
        "trained in %.0f s: median VPT %.2f Lyapunov times, blow-up %s, Hellinger %.4f",
        seconds, scores["median_vpt_lyapunov"], scores["blew_up"], scores["hellinger"] or np.nan,
    )


if __name__ == "__main__":
    main()
