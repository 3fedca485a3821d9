"""Reproduce the pretrained weights and records of the chapter on PINNs for the heat equation.

Writes to code/src/ml4es/weights/:

- heat_forward.pt and heat_forward.json: the forward problem, trained with
  ``heat.ForwardRecipe``, and a record of the command, machine, time and error reached;
- heat_inverse_sweep.json: alpha learnt with ``heat.InverseRecipe`` at several noise levels,
  three noise realisations each.

Usage: python scripts/train_heat_pinn.py [--only forward|sweep] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

import ml4es
from ml4es.pinns import heat
from ml4es.runtime import machine_info

logger = logging.getLogger("train_heat_pinn")

WEIGHTS = Path(__file__).resolve().parents[1] / "code" / "src" / "ml4es" / "weights"
NOISE_LEVELS = (0.0, 0.01, 0.03, 0.1)
NOISE_SEEDS = (0, 1, 2)



def command() -> str:
    return " ".join(["python", *sys.argv])


def train_forward() -> None:
    recipe = heat.ForwardRecipe()
    ml4es.seed_everything(recipe.seed)
    start = time.perf_counter()
    model, history = heat.solve_forward(recipe)
    seconds = time.perf_counter() - start

    error = heat.relative_l2_error(model)
    torch.save(model.state_dict(), WEIGHTS / "heat_forward.pt")
    record = {
        "description": "PINN for u_t = alpha u_xx on [0, 1] x [0, 1], forward problem",
        "command": command(),
        "machine": machine_info(),
        "train_seconds": round(seconds, 1),
        "recipe": asdict(recipe),
        "alpha": heat.ALPHA,
        "modes": [list(mode) for mode in heat.MODES],
        "metrics": {
            "relative_l2_error": error,
            "final_loss": history["L-BFGS"][-1] if history["L-BFGS"] else history["Adam"][-1],
            "evaluation_grid": [101, 101],
        },
    }
    (WEIGHTS / "heat_forward.json").write_text(json.dumps(record, indent=2) + "\n")
    logger.info("forward problem: relative L2 error %.3e after %.0f s", error, seconds)


def train_sweep() -> None:
    recipe = heat.InverseRecipe()
    runs = []
    start = time.perf_counter()
    for noise in NOISE_LEVELS:
        for noise_seed in NOISE_SEEDS:
            ml4es.seed_everything(recipe.seed)
            model, _ = heat.solve_inverse(noise, noise_seed, recipe, progress=False)
            alpha = model.alpha.item()
            runs.append({"noise": noise, "noise_seed": noise_seed, "alpha": alpha})
            logger.info("noise %.2f, seed %d: alpha %.6f", noise, noise_seed, alpha)
    seconds = time.perf_counter() - start

    record = {
        "description": "alpha learnt from noisy observations of u_t = alpha u_xx, by noise level",
        "command": command(),
        "machine": machine_info(),
        "train_seconds": round(seconds, 1),
        "recipe": asdict(recipe),
        "alpha_true": heat.ALPHA,
        "n_observations": recipe.n_observations,
        "noise_definition": "Gaussian, standard deviation = noise x RMS of the exact observed values",
        "runs": runs,
    }
    (WEIGHTS / "heat_inverse_sweep.json").write_text(json.dumps(record, indent=2) + "\n")
    logger.info("noise sweep: %d runs in %.0f s", len(runs), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["forward", "sweep"], help="make only this part (default: both)")
    parser.add_argument("--threads", type=int, default=2, help="number of CPU threads for PyTorch (default 2)")
    arguments = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(arguments.threads)
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    if arguments.only in (None, "forward"):
        train_forward()
    if arguments.only in (None, "sweep"):
        train_sweep()


if __name__ == "__main__":
    main()
