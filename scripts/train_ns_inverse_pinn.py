"""Reproduce the pretrained weights of the chapter on discovering the Navier–Stokes equations.

Trains the PINN of ``ml4es.pinns.navier_stokes`` (8 hidden layers of 20 tanh units, float32) on
5,000 velocity samples of the cylinder wake at Re = 100, clean (``--case clean``) or with 1 %
noise (``--case noisy``): Adam with a learning rate that decays geometrically, then L-BFGS with
a strong Wolfe line search. Each case is written into code/src/ml4es/weights/ns_inverse_pinn.pt
(a dictionary of state dicts keyed by case) and its record into ns_inverse_pinn.json: the
command, machine, time, steps taken, the lambdas and their errors, and the relative L2 errors of
u, v and p (spatial mean removed per snapshot) over every grid point of all 200 snapshots.

Training stops after ``--adam-steps`` and ``--lbfgs-steps`` or after ``--max-minutes``,
whichever comes first. A checkpoint (weights, optimiser state, history) is saved every
``--checkpoint-minutes`` and the weights file is updated with it, so an interrupted run still
leaves weights; ``--resume`` continues from the checkpoint.

Usage: python scripts/train_ns_inverse_pinn.py --case clean [--max-minutes 60] [--threads 1]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

import ml4es
from ml4es.flows import wake_dataset
from ml4es.pinns import navier_stokes as ns
from ml4es.runtime import machine_info
from ml4es.training import check_resumable

logger = logging.getLogger("train_ns_inverse_pinn")

WEIGHTS = Path(__file__).resolve().parents[1] / "code" / "src" / "ml4es" / "weights"
NOISE = {"clean": 0.0, "noisy": 0.01}
EVALUATION_SNAPSHOTS = list(range(0, 200, 20))
"""Snapshots of the quick u, v, p check logged during training (the final record uses all)."""


def command() -> str:
    return " ".join(["python", *sys.argv])


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(NOISE), required=True, help="clean data or 1 %% noise on u and v")
    recipe = ns.InverseRecipe()
    parser.add_argument("--adam-steps", type=int, default=recipe.adam_steps, help=f"Adam steps (default {recipe.adam_steps})")
    parser.add_argument("--learning-rate", type=float, default=recipe.learning_rate, help=f"Adam's initial learning rate (default {recipe.learning_rate:g})")
    parser.add_argument("--final-learning-rate", type=float, default=recipe.final_learning_rate, help=f"Adam's learning rate at its last step (default {recipe.final_learning_rate:g})")
    parser.add_argument("--lbfgs-steps", type=int, default=recipe.lbfgs_steps, help=f"L-BFGS iterations after Adam (default {recipe.lbfgs_steps})")
    parser.add_argument("--max-minutes", type=float, default=60.0, help="stop training after this many minutes (default 60)")
    parser.add_argument("--threads", type=int, default=1, help="number of CPU threads for PyTorch (default 1)")
    parser.add_argument("--seed", type=int, default=recipe.seed, help=f"seed of the weights, the samples and the noise (default {recipe.seed})")
    parser.add_argument("--checkpoint-dir", type=Path, default=Path("ns_checkpoints"), help="folder of checkpoints (default ./ns_checkpoints)")
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0, help="minutes between checkpoints (default 5)")
    parser.add_argument("--log-every", type=int, default=200, help="steps between progress lines in the log (default 200)")
    parser.add_argument("--no-compile", action="store_true", help="do not use torch.compile on the loss")
    parser.add_argument("--resume", action="store_true", help="continue from the case's checkpoint")
    parser.add_argument(
        "--start-from", type=Path, default=None,
        help="start from the case's weights in this weights file (with its JSON record beside it) instead of a fresh network",
    )
    return parser.parse_args()


class Run:
    """The model, optimisers and bookkeeping of one training case, with checkpoints."""

    def __init__(self, arguments: argparse.Namespace):
        self.arguments = arguments
        self.case = arguments.case
        self.dataset = wake_dataset(progress=False)
        self.reynolds = float(self.dataset.attrs["reynolds_number"])
        self.recipe = ns.InverseRecipe(
            adam_steps=arguments.adam_steps,
            lbfgs_steps=arguments.lbfgs_steps,
            learning_rate=arguments.learning_rate,
            final_learning_rate=arguments.final_learning_rate,
            seed=arguments.seed,
        )
        recipe = self.recipe
        ml4es.seed_everything(recipe.seed)
        self.samples = ns.sample_wake(self.dataset, n=recipe.samples, noise=NOISE[self.case], seed=recipe.seed)
        self.model = ns.network_from_recipe(ns.domain_bounds(self.dataset), recipe)
        self.adam, self.scheduler = ns.adam_with_decay(self.model, recipe)
        self.lbfgs = ns.lbfgs(self.model.parameters())
        self.loss_fn = ns.loss_function(self.model, self.samples, compile=not arguments.no_compile)
        self.steps = {"Adam": 0, "L-BFGS": 0}
        self.log: list[dict] = []
        self.earlier: list[dict] = []
        self.seconds_before = 0.0
        self.started = time.perf_counter()
        self.last_checkpoint = self.started
        self.checkpoint_path = arguments.checkpoint_dir / f"ns_inverse_{self.case}.pt"

    @property
    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def save_checkpoint(self) -> None:
        self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "model": self.model.state_dict(),
            "adam": self.adam.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "lbfgs": self.lbfgs.state_dict(),
            "recipe": asdict(self.recipe),
            "steps": self.steps,
            "log": self.log,
            "earlier": self.earlier,
            "seconds": self.seconds,
        }
        temporary = self.checkpoint_path.with_suffix(".tmp")
        torch.save(state, temporary)
        temporary.replace(self.checkpoint_path)
        self.last_checkpoint = time.perf_counter()

    def load_checkpoint(self) -> None:
        state = torch.load(self.checkpoint_path, weights_only=False)
        # More L-BFGS iterations may follow a finished run; every other option must match.
        check_resumable(state.get("recipe"), asdict(self.recipe), self.checkpoint_path)
        self.model.load_state_dict(state["model"])
        self.adam.load_state_dict(state["adam"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.lbfgs.load_state_dict(state["lbfgs"])
        self.steps = state["steps"]
        self.log = state["log"]
        self.earlier = state.get("earlier", [])
        self.seconds_before = state["seconds"]
        logger.info("resumed %s from %s after %s", self.case, self.checkpoint_path, self.steps)

    def start_from(self, path: Path) -> None:
        """Load the case's weights from an earlier weights file and keep that run's record."""
        weights = torch.load(path, weights_only=True)
        if self.case not in weights:
            raise KeyError(f"no weights for the case {self.case!r} in {path}; it contains {sorted(weights)}")
        self.model.load_state_dict(weights[self.case])
        record_path = path.with_suffix(".json")
        if record_path.is_file():
            earlier = json.loads(record_path.read_text())["cases"][self.case]
            self.earlier = [*earlier.get("earlier_runs", []), {key: earlier[key] for key in ("command", "train_seconds", "steps", "recipe", "metrics", "log") if key in earlier}]
        logger.info("started %s from the weights in %s", self.case, path)

    def callback(self, phase: str, step: int, loss: float) -> bool:
        self.steps[phase] += 1
        total = self.steps["Adam"] + self.steps["L-BFGS"]
        if total % self.arguments.log_every == 0:
            entry = {"phase": phase, "step": self.steps[phase], "seconds": round(self.seconds, 1), "loss": loss}
            entry.update(ns.lambda_errors(self.model, self.reynolds))
            if total % (10 * self.arguments.log_every) == 0:
                quick = ns.evaluate(self.model, self.dataset, EVALUATION_SNAPSHOTS)
                entry.update({name: quick[name] for name in ("u_error", "v_error", "p_error")})
            self.log.append(entry)
            logger.info(json.dumps(entry))
        if time.perf_counter() - self.last_checkpoint > 60 * self.arguments.checkpoint_minutes:
            self.save_checkpoint()
            write_weights(self, final=False)
        return self.seconds > 60 * self.arguments.max_minutes

    def train(self) -> None:
        arguments = self.arguments
        remaining = arguments.adam_steps - self.steps["Adam"]
        if remaining > 0 and self.seconds < 60 * arguments.max_minutes:
            ns.train(
                self.model, self.samples, self.adam, remaining, scheduler=self.scheduler, loss_fn=self.loss_fn,
                description="Adam", progress=False, callback=self.callback,
            )
        remaining = arguments.lbfgs_steps - self.steps["L-BFGS"]
        if remaining > 0 and self.seconds < 60 * arguments.max_minutes:
            ns.train(
                self.model, self.samples, self.lbfgs, remaining, loss_fn=self.loss_fn,
                description="L-BFGS", progress=False, callback=self.callback,
            )


def write_weights(run: Run, final: bool) -> None:
    """Store the case's weights and record in the shared weights file and its JSON record.

    The clean and noisy cases may run at the same time, so the read-modify-write of the two
    files holds an exclusive lock on a file in the system's temporary folder.
    """
    metrics = ns.evaluate(run.model, run.dataset) if final else ns.lambda_errors(run.model, run.reynolds)
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / "ns_inverse_pinn.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        update_weights(run, final, metrics)


def update_weights(run: Run, final: bool, metrics: dict) -> None:
    weights_path = WEIGHTS / "ns_inverse_pinn.pt"
    record_path = WEIGHTS / "ns_inverse_pinn.json"
    weights = torch.load(weights_path, weights_only=True) if weights_path.is_file() else {}
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}

    weights[run.case] = run.model.state_dict()
    record.setdefault("description", "PINN (psi, p) = N(t, x, y) for the cylinder wake at Re = 100, lambda1 and lambda2 learnt")
    record.setdefault("network", {"width": run.model.width, "depth": run.model.depth, "dtype": "float32"})
    record.setdefault("cases", {})
    record["cases"][run.case] = {
        "command": command(),
        "machine": machine_info(),
        "finished": final,
        "train_seconds": round(run.seconds, 1),
        "steps": dict(run.steps),
        "noise": NOISE[run.case],
        "recipe": asdict(run.recipe),
        "max_minutes": run.arguments.max_minutes,
        "metrics": metrics,
        "metrics_definition": (
            "lambda errors relative to 1 and 1/Re; u, v, p: relative L2 over all grid points of all "
            "200 snapshots, p with its spatial mean removed per snapshot"
        ),
        "log": run.log,
    }
    if run.earlier:
        record["cases"][run.case]["earlier_runs"] = run.earlier
    torch.save(weights, weights_path)
    record_path.write_text(json.dumps(record, indent=2) + "\n")


def main() -> None:
    arguments = parse_arguments()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(arguments.threads)

    run = Run(arguments)
    if arguments.resume:
        run.load_checkpoint()
    elif arguments.start_from is not None:
        run.start_from(arguments.start_from)
    run.train()
    run.save_checkpoint()
    write_weights(run, final=True)
    logger.info("%s: %s after %.0f s", run.case, json.dumps(run.steps), run.seconds)


if __name__ == "__main__":
    main()
