"""Benchmark the Navier–Stokes inverse PINN: time per training step, and the shipped weights' accuracy.

Measures, in one run on one machine:

1. the time of one Adam step (loss, backward, update) on the 5,000 samples of the chapter, for
   the same network (8 x 20 tanh, float32) and loss computed four ways: derivatives in closed
   form compiled with ``torch.compile`` (what the training script uses), the same uncompiled,
   nested ``torch.autograd.grad`` (the straightforward implementation), and the closed form in
   float64. The implementations take turns in blocks of ``--block`` steps, so that a change in
   the machine's load affects them alike; the ratios use the process's CPU time, and the JSON
   has wall-clock time too.
2. the metrics of the shipped weights (code/src/ml4es/weights/ns_inverse_pinn.pt) recomputed on
   the whole data set, next to the targets.

Prints a table and writes benchmarks/results/ns_pinn.json. ``--metrics-only`` recomputes part 2
alone, for weights trained after the last timing run.

Usage: python benchmarks/ns_pinn.py [--steps 200] [--block 10] [--threads 1] [--metrics-only]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import torch

import ml4es
from ml4es.flows import wake_dataset
from ml4es.pinns import navier_stokes as ns
from ml4es.runtime import machine_info

RESULTS = Path(__file__).resolve().parent / "results" / "ns_pinn.json"
TARGETS = {"lambda1_error": 0.01, "lambda2_error": 0.05, "u_error": 0.02, "v_error": 0.02, "p_error": 0.07}
"""Targets on clean data: relative errors of the lambdas, and relative L2 errors of u, v, p."""

IMPLEMENTATIONS = {
    "closed form, compiled": {"fast": True, "compile": True, "dtype": torch.float32},
    "closed form": {"fast": True, "compile": False, "dtype": torch.float32},
    "nested autograd": {"fast": False, "compile": False, "dtype": torch.float32},
    "closed form, float64": {"fast": True, "compile": False, "dtype": torch.float64},
}


class Timed:
    """One implementation's model, optimiser and step, with its accumulated time."""

    def __init__(self, dataset, fast: bool, compile: bool, dtype: torch.dtype):
        ml4es.seed_everything(0)
        self.samples = ns.sample_wake(dataset, n=5000, seed=0, dtype=dtype)
        self.model = ns.NavierStokesPINN(ns.domain_bounds(dataset), dtype=dtype)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = ns.loss_function(self.model, self.samples, fast=fast, compile=compile)
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.steps = 0
        self.warmup_seconds = 0.0

    def step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.loss_fn().backward()
        self.optimizer.step()

    def warm_up(self, steps: int = 3) -> None:
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        self.warmup_seconds = time.perf_counter() - start

    def run(self, steps: int) -> None:
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(steps):
            self.step()
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.process_time() - cpu_start
        self.steps += steps


def time_steps(dataset, steps: int, block: int) -> dict:
    timed = {name: Timed(dataset, **options) for name, options in IMPLEMENTATIONS.items()}
    for implementation in timed.values():
        implementation.warm_up()
    for _ in range(max(1, steps // block)):
        for implementation in timed.values():
            implementation.run(block)

    reference = timed["nested autograd"]
    results = {}
    for name, implementation in timed.items():
        results[name] = {
            **{key: str(value) if isinstance(value, torch.dtype) else value for key, value in IMPLEMENTATIONS[name].items()},
            "steps": implementation.steps,
            "ms_per_step": round(1000 * implementation.seconds / implementation.steps, 2),
            "cpu_ms_per_step": round(1000 * implementation.cpu_seconds / implementation.steps, 2),
            "warmup_seconds_3_steps": round(implementation.warmup_seconds, 1),
            "speedup_over_nested_autograd_cpu": round(reference.cpu_seconds / implementation.cpu_seconds, 2),
            "speedup_over_nested_autograd_wall": round(reference.seconds / implementation.seconds, 2),
        }
    return results


def shipped_metrics(dataset) -> dict:
    folder = resources.files("ml4es") / "weights"
    record = json.loads((folder / "ns_inverse_pinn.json").read_text())
    with resources.as_file(folder / "ns_inverse_pinn.pt") as path:
        weights = torch.load(path, weights_only=True)
    results = {}
    for case, state in weights.items():
        model = ns.NavierStokesPINN(ns.domain_bounds(dataset))
        model.load_state_dict(state)
        measured = ns.evaluate(model, dataset)
        entry = record["cases"][case]
        results[case] = {
            "measured": measured,
            "recorded": entry["metrics"],
            "train_seconds": entry["train_seconds"],
            "steps": entry["steps"],
            "finished": entry["finished"],
        }
        if case == "clean":
            results[case]["targets"] = TARGETS
            results[case]["met"] = {name: measured[name] <= target for name, target in TARGETS.items()}
    return results


def print_table(timing: dict, metrics: dict) -> None:
    print(f"{'implementation':<24} {'ms/step':>9} {'CPU ms/step':>12} {'speed-up (CPU)':>15}")
    for name, entry in timing.items():
        print(f"{name:<24} {entry['ms_per_step']:>9.1f} {entry['cpu_ms_per_step']:>12.1f} {entry['speedup_over_nested_autograd_cpu']:>15.2f}")
    print()
    for case, entry in metrics.items():
        measured = entry["measured"]
        line = ", ".join(f"{name} {measured[name]:.4g}" for name in ("lambda1_error", "lambda2_error", "u_error", "v_error", "p_error"))
        print(f"{case}: {line} ({entry['train_seconds']:.0f} s of training, steps {entry['steps']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed Adam steps per implementation (default 200)")
    parser.add_argument("--block", type=int, default=10, help="steps per turn of each implementation (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="number of CPU threads for PyTorch (default 1)")
    parser.add_argument(
        "--metrics-only", action="store_true",
        help="recompute only the shipped weights' metrics and keep the timing of the last run's JSON",
    )
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    started = time.perf_counter()
    dataset = wake_dataset(progress=False)
    if arguments.metrics_only:
        result = json.loads(RESULTS.read_text())
        result["shipped_weights"] = shipped_metrics(dataset)
        result["metrics_command"] = "python benchmarks/ns_pinn.py --metrics-only"
        print_table(result["time_per_step"], result["shipped_weights"])
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        return

    machine = machine_info()
    timing = time_steps(dataset, arguments.steps, arguments.block)
    metrics = shipped_metrics(dataset)
    print_table(timing, metrics)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "ns_pinn",
        "command": f"python benchmarks/ns_pinn.py --steps {arguments.steps} --block {arguments.block} --threads {arguments.threads}",
        "machine": machine,
        "load_average_at_end": list(os.getloadavg()),
        "seconds": round(time.perf_counter() - started, 1),
        "time_per_step": timing,
        "shipped_weights": metrics,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
