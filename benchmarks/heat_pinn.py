"""Benchmark the heat-equation PINN: accuracy of the chapter's recipes and time to accuracy.

Measures, in one run on one machine:

1. the forward problem trained with ``heat.ForwardRecipe`` (float64, Adam then L-BFGS): the
   relative L2 error against the exact solution, and the training time to reach each threshold
   (1e-2, 1e-3, 3e-4 and 2e-4);
2. a plain implementation of the same PINN (float32, uniformly random collocation points, Adam
   alone at a learning rate of 1e-3): the same times, within a budget of steps and seconds;
3. the inverse problem with ``heat.InverseRecipe`` at 1 % noise: the error in alpha for each
   noise seed.

The clocks run only while training: evaluating the error every ``--check-every`` steps is not
counted. Both wall-clock time and the process's CPU time are recorded. The ratios use CPU time,
which other jobs on a shared machine disturb much less than wall-clock time; the JSON has both.
Prints a table and writes benchmarks/results/heat_pinn.json.

Usage: python benchmarks/heat_pinn.py [--plain-steps 30000] [--plain-seconds 900] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

import ml4es
from ml4es.pinns import heat
from ml4es.runtime import machine_info

RESULTS = Path(__file__).resolve().parent / "results" / "heat_pinn.json"
THRESHOLDS = (1e-2, 1e-3, 3e-4, 2e-4)



class Stopwatch:
    """Training time (wall-clock and CPU) to each error threshold, with evaluation time left out."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.steps = 0
        self.reached: dict[float, dict] = {}
        self.error = math.inf

    def run(
        self,
        step: Callable[[], None],
        steps: int,
        check_every: int,
        max_seconds: float = math.inf,
        stop_at_target: bool = True,
    ) -> None:
        """Call ``step`` up to ``steps`` times, checking the error every ``check_every`` steps.

        Stops early after ``max_seconds`` of training, and, with ``stop_at_target``, once the
        error is below the smallest threshold.
        """
        for _ in range(steps):
            start, cpu_start = time.perf_counter(), time.process_time()
            step()
            self.seconds += time.perf_counter() - start
            self.cpu_seconds += time.process_time() - cpu_start
            self.steps += 1
            if self.steps % check_every == 0:
                self.check()
                if stop_at_target and self.error <= min(THRESHOLDS):
                    return
                if self.seconds > max_seconds:
                    return

    def check(self) -> None:
        self.error = heat.relative_l2_error(self.model)
        for threshold in THRESHOLDS:
            if self.error <= threshold and threshold not in self.reached:
                self.reached[threshold] = {
                    "seconds": round(self.seconds, 2),
                    "cpu_seconds": round(self.cpu_seconds, 2),
                    "steps": self.steps,
                }


def optimiser_step(optimizer: torch.optim.Optimizer, loss_fn: Callable[[], torch.Tensor]) -> Callable[[], None]:
    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        return loss

    def step() -> None:
        optimizer.step(closure)

    return step


def benchmark_ours(check_every: int) -> dict:
    recipe = heat.ForwardRecipe()
    ml4es.seed_everything(recipe.seed)
    model = heat.HeatPINN(recipe.width, recipe.depth)
    points = heat.sample_points(recipe.n_interior, recipe.n_initial, recipe.n_boundary, seed=recipe.seed)

    def loss_fn() -> torch.Tensor:
        return heat.forward_loss(model, points)

    watch = Stopwatch(model)
    adam = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate)
    watch.run(optimiser_step(adam, loss_fn), recipe.adam_steps, check_every)
    # Train the whole recipe, so that the final error is that of the shipped weights' recipe.
    lbfgs = heat.lbfgs(model.parameters())
    watch.run(optimiser_step(lbfgs, loss_fn), recipe.lbfgs_steps, check_every, stop_at_target=False)
    watch.check()
    return {
        "description": "float64, Sobol points, Adam then L-BFGS (heat.ForwardRecipe)",
        "recipe": asdict(recipe),
        "final_error": watch.error,
        "train_seconds": round(watch.seconds, 2),
        "train_cpu_seconds": round(watch.cpu_seconds, 2),
        "steps": watch.steps,
        "reached": {f"{k:g}": v for k, v in watch.reached.items()},
    }


def benchmark_plain(max_steps: int, max_seconds: float, check_every: int) -> dict:
    recipe = heat.ForwardRecipe()
    ml4es.seed_everything(recipe.seed)
    model = heat.HeatPINN(recipe.width, recipe.depth, dtype=torch.float32)
    generator = torch.Generator().manual_seed(recipe.seed)
    points = heat.TrainingPoints(
        t_interior=torch.rand(recipe.n_interior, 1, generator=generator),
        x_interior=torch.rand(recipe.n_interior, 1, generator=generator),
        x_initial=torch.rand(recipe.n_initial, 1, generator=generator),
        t_boundary=torch.rand(recipe.n_boundary, 1, generator=generator),
    )

    def loss_fn() -> torch.Tensor:
        return heat.forward_loss(model, points)

    watch = Stopwatch(model)
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    watch.run(optimiser_step(adam, loss_fn), max_steps, check_every, max_seconds)
    watch.check()
    return {
        "description": "float32, uniform random points, Adam alone at lr 1e-3",
        "max_steps": max_steps,
        "max_seconds": max_seconds,
        "final_error": watch.error,
        "train_seconds": round(watch.seconds, 2),
        "train_cpu_seconds": round(watch.cpu_seconds, 2),
        "steps": watch.steps,
        "seconds_per_1000_steps": round(1000 * watch.seconds / max(watch.steps, 1), 2),
        "reached": {f"{k:g}": v for k, v in watch.reached.items()},
    }


def benchmark_inverse(noise_seeds: list[int]) -> dict:
    recipe = heat.InverseRecipe()
    runs = []
    for noise_seed in noise_seeds:
        ml4es.seed_everything(recipe.seed)
        start = time.perf_counter()
        model, _ = heat.solve_inverse(0.01, noise_seed, recipe, progress=False)
        seconds = time.perf_counter() - start
        alpha = model.alpha.item()
        runs.append(
            {
                "noise_seed": noise_seed,
                "alpha": alpha,
                "relative_error": abs(alpha - heat.ALPHA) / heat.ALPHA,
                "train_seconds": round(seconds, 2),
            }
        )
    errors = [run["relative_error"] for run in runs]
    return {
        "description": "alpha from 200 observations with 1 % noise (heat.InverseRecipe)",
        "recipe": asdict(recipe),
        "alpha_true": heat.ALPHA,
        "runs": runs,
        "mean_relative_error": float(np.mean(errors)),
        "max_relative_error": float(np.max(errors)),
    }


def speedups(ours: dict, plain: dict) -> dict:
    """Return time_plain / time_ours per threshold, in CPU and wall-clock time.

    Where the plain implementation never reached a threshold, its whole training time is used
    and the ratio is a lower bound.
    """
    ratios = {}
    for threshold in THRESHOLDS:
        key = f"{threshold:g}"
        if key not in ours["reached"]:
            ratios[key] = {"cpu_ratio": None, "wall_ratio": None, "note": "our recipe did not reach this error"}
            continue
        reached = plain["reached"].get(key)
        plain_cpu = reached["cpu_seconds"] if reached else plain["train_cpu_seconds"]
        plain_wall = reached["seconds"] if reached else plain["train_seconds"]
        ratios[key] = {
            "cpu_ratio": round(plain_cpu / ours["reached"][key]["cpu_seconds"], 2),
            "wall_ratio": round(plain_wall / ours["reached"][key]["seconds"], 2),
            "lower_bound": reached is None,
        }
    return ratios


def print_table(results: dict) -> None:
    ours, plain, inverse = results["ours"], results["plain"], results["inverse"]
    print()
    print(f"{'':40s}{'ours':>16s}{'plain':>16s}")
    print(f"{'final relative L2 error':40s}{ours['final_error']:>16.2e}{plain['final_error']:>16.2e}")
    print(f"{'training CPU time (s)':40s}{ours['train_cpu_seconds']:>16.1f}{plain['train_cpu_seconds']:>16.1f}")
    print(f"{'training wall-clock time (s)':40s}{ours['train_seconds']:>16.1f}{plain['train_seconds']:>16.1f}")
    print(f"{'steps':40s}{ours['steps']:>16d}{plain['steps']:>16d}")
    for threshold in THRESHOLDS:
        key = f"{threshold:g}"
        cells = []
        for run in (ours, plain):
            reached = run["reached"].get(key)
            cells.append(f"{reached['cpu_seconds']:.1f}" if reached else "not reached")
        print(f"{'CPU time to error <= ' + key + ' (s)':40s}{cells[0]:>16s}{cells[1]:>16s}")
    for key, ratio in results["speedup"].items():
        if ratio["cpu_ratio"] is not None:
            bound = ">= " if ratio["lower_bound"] else ""
            print(
                f"time-to-accuracy ratio plain / ours at {key}: {bound}{ratio['cpu_ratio']:.1f} (CPU time), "
                f"{bound}{ratio['wall_ratio']:.1f} (wall-clock)"
            )
    print(
        f"inverse problem, 1 % noise: error in alpha {100 * inverse['mean_relative_error']:.2f} % "
        f"mean, {100 * inverse['max_relative_error']:.2f} % max over {len(inverse['runs'])} noise seeds"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain-steps", type=int, default=30000, help="maximum Adam steps of the plain implementation (default 30000)")
    parser.add_argument("--plain-seconds", type=float, default=900.0, help="maximum training seconds of the plain implementation (default 900)")
    parser.add_argument("--check-every", type=int, default=25, help="steps between error evaluations (default 25)")
    parser.add_argument("--inverse-seeds", type=int, nargs="+", default=[0, 1, 2], help="noise seeds of the inverse runs (default 0 1 2)")
    parser.add_argument("--threads", type=int, default=2, help="number of CPU threads for PyTorch (default 2)")
    arguments = parser.parse_args()

    torch.set_num_threads(arguments.threads)
    results = {"benchmark": "heat_pinn", "machine": machine_info(), "thresholds": list(THRESHOLDS)}
    start = time.perf_counter()
    results["ours"] = benchmark_ours(arguments.check_every)
    results["plain"] = benchmark_plain(arguments.plain_steps, arguments.plain_seconds, arguments.check_every)
    results["speedup"] = speedups(results["ours"], results["plain"])
    results["inverse"] = benchmark_inverse(arguments.inverse_seeds)
    results["wall_seconds"] = round(time.perf_counter() - start, 1)
    results["machine"]["load_average_at_end"] = list(os.getloadavg())

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
