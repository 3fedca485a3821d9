"""Benchmark the lattice-Boltzmann cylinder wake: validation figures and their grid convergence.

For each resolution (lattice nodes per diameter) runs ``ml4es.flows.wake_dataset`` (or reads
it from the cache) and reports the fitted Navier–Stokes coefficients lambda1 and lambda2, the
relative divergence, the Strouhal number, the mean drag coefficient and the generation time,
then the change of the Strouhal number from each resolution to the next. Prints a table and
writes benchmarks/results/cylinder_wake.json.

Usage: python benchmarks/cylinder_wake.py [--diameters 10 20 40] [--threads 2]
           [--spinup 60] [--snapshots 200] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ml4es.flows import validation, wake
from ml4es.runtime import machine_info

RESULTS = Path(__file__).resolve().parent / "results" / "cylinder_wake.json"


def measure(diameter: int, spinup: float, snapshots: int) -> dict:
    start = time.perf_counter()
    data = wake.wake_dataset(re=100, diameter=diameter, spinup=spinup, snapshots=snapshots)
    seconds = time.perf_counter() - start
    fit = validation.fit_navier_stokes(data)
    return {
        "diameter_nodes": diameter,
        "spinup": spinup,
        "snapshots": snapshots,
        "lambda1": fit.lambda1,
        "lambda1_error_percent": 100 * (fit.lambda1 - 1),
        "lambda2": fit.lambda2,
        "lambda2_error_percent": 100 * (fit.lambda2 * 100 - 1),
        "fit_residual": fit.residual,
        "relative_divergence": validation.relative_divergence(data),
        "strouhal_number": data.attrs["strouhal_number"],
        "mean_drag_coefficient": data.attrs["mean_drag_coefficient"],
        "blockage_ratio": data.attrs["blockage_ratio"],
        "simulation_seconds": data.attrs["seconds"],
        "node_updates": int(data.attrs["node_updates"]),
        "seconds_this_run": seconds,
        "from_cache": bool(seconds < 0.5 * data.attrs["seconds"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diameters", type=int, nargs="+", default=[10, 20, 40], help="lattice nodes per diameter")
    parser.add_argument("--spinup", type=float, default=60.0, help="time before the first snapshot, in D/U")
    parser.add_argument("--snapshots", type=int, default=200, help="snapshots, 0.1 D/U apart")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON file to write")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    runs = [measure(diameter, arguments.spinup, arguments.snapshots) for diameter in arguments.diameters]
    for coarse, fine in zip(runs, runs[1:]):
        fine["strouhal_change_percent_from_coarser"] = 100 * (fine["strouhal_number"] / coarse["strouhal_number"] - 1)

    print(f"{'D':>4s}{'lambda1 %':>11s}{'lambda2 %':>11s}{'div':>8s}{'St':>8s}{'Cd':>7s}{'St change %':>13s}{'seconds':>9s}")
    for run in runs:
        change = run.get("strouhal_change_percent_from_coarser")
        print(
            f"{run['diameter_nodes']:4d}{run['lambda1_error_percent']:11.3f}{run['lambda2_error_percent']:11.3f}"
            f"{run['relative_divergence']:8.3f}{run['strouhal_number']:8.4f}{run['mean_drag_coefficient']:7.3f}"
            f"{'' if change is None else f'{change:.2f}':>13s}{run['simulation_seconds']:9.0f}"
        )
    arguments.output.parent.mkdir(exist_ok=True)
    record = {"runs": runs, "arguments": {**vars(arguments), "output": str(arguments.output)}, "machine": machine_info()}
    arguments.output.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
