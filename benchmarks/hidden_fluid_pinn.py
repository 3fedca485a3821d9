"""Benchmark the hidden fluid mechanics PINN: time per training step, closed form against nested autograd.

Times one Adam step (loss, backward, update) of the network and batch of
``hidden_fluid.HiddenFluidRecipe``: 6 x 50 tanh in float32, with 2,000 c samples and 1,000
collocation points per step. The derivatives are taken two ways, in closed form by
``fluid_derivatives`` (as training does) and by nested ``torch.autograd.grad`` in
``autograd_derivatives`` (the straightforward implementation). The two take turns in blocks of
``--block`` steps, so that a change in the machine's load affects both alike. The ratio uses the
process's CPU time, and the JSON has wall-clock time too.

Prints a table and writes benchmarks/results/hidden_fluid_pinn.json.

Usage: python benchmarks/hidden_fluid_pinn.py [--steps 20] [--block 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

import ml4es
from ml4es.flows import wake_dataset
from ml4es.pinns import hidden_fluid as hf
from ml4es.runtime import machine_info

RESULTS = Path(__file__).resolve().parent / "results" / "hidden_fluid_pinn.json"


class Timed:
    """One implementation's model, optimiser and step, with its accumulated time."""

    def __init__(self, dataset, recipe: hf.HiddenFluidRecipe, fast: bool):
        ml4es.seed_everything(0)
        self.observations = hf.sample_concentration(dataset, n=recipe.batch_size, seed=0)
        self.collocation = hf.collocation_points(hf.domain_bounds(dataset), recipe.collocation, torch.Generator().manual_seed(0))
        self.model = hf.network_from_recipe(hf.domain_bounds(dataset), recipe)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.numbers = (float(dataset.attrs["reynolds_number"]), float(dataset.attrs["peclet_number"]))
        self.fast = fast
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.steps = 0

    def step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        value = hf.loss(self.model, self.observations, *self.numbers, self.collocation, data_weight=10.0, fast=self.fast)
        value.backward()
        self.optimizer.step()

    def run(self, steps: int) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            self.step()
        self.seconds += time.perf_counter() - wall
        self.cpu_seconds += time.process_time() - cpu
        self.steps += steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per implementation (default 20)")
    parser.add_argument("--block", type=int, default=5, help="steps per turn (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads (default 1)")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    dataset = wake_dataset(progress=False)
    recipe = hf.HiddenFluidRecipe()
    load_before = os.getloadavg()
    timed = {"closed form": Timed(dataset, recipe, fast=True), "nested autograd": Timed(dataset, recipe, fast=False)}
    for implementation in timed.values():
        implementation.step()  # warm-up, not timed
    while any(implementation.steps < arguments.steps for implementation in timed.values()):
        for implementation in timed.values():
            implementation.run(min(arguments.block, arguments.steps - implementation.steps))

    rows = {
        name: {
            "steps": item.steps,
            "cpu_seconds_per_step": item.cpu_seconds / item.steps,
            "wall_seconds_per_step": item.seconds / item.steps,
        }
        for name, item in timed.items()
    }
    ratio = rows["nested autograd"]["cpu_seconds_per_step"] / rows["closed form"]["cpu_seconds_per_step"]
    print(f"{'implementation':<18} {'CPU s/step':>11} {'wall s/step':>12}")
    for name, row in rows.items():
        print(f"{name:<18} {row['cpu_seconds_per_step']:>11.4f} {row['wall_seconds_per_step']:>12.4f}")
    print(f"nested autograd / closed form (CPU time): {ratio:.2f}")

    record = {
        "description": "time per Adam step of the hidden fluid mechanics PINN, closed-form derivatives against nested autograd",
        "recipe": {"width": recipe.width, "depth": recipe.depth, "batch_size": recipe.batch_size, "collocation": recipe.collocation, "dtype": "float32"},
        "results": rows,
        "autograd_over_closed_form_cpu": ratio,
        "machine": machine_info(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
