"""Reproduce the pretrained weights of the chapter on hidden fluid mechanics.

Trains the PINN of ``ml4es.pinns.hidden_fluid`` (c, u, v, p) = N(t, x, y) on observations of
the passive scalar c alone in the cylinder wake at Re = Pe = 100 (float32): Adam on random
mini-batches of the c samples plus fresh collocation points, with a learning rate that decays
geometrically, then full-batch L-BFGS. The options default to ``HiddenFluidRecipe``, the recipe
of the shipped weights, so the script with no options trains them again (87 minutes at 1 thread
on a shared 2-core machine).

The weights are written to code/src/ml4es/weights/hidden_fluid_pinn.pt and the record to
hidden_fluid_pinn.json beside them. The record contains the command, machine, time, steps taken
and recipe. It also contains the relative L2 errors of c, u, v and p over every grid point of all
200 snapshots, p with its spatial mean removed per snapshot.

Training stops after ``--adam-steps`` and ``--lbfgs-steps``, or earlier after ``--max-minutes``
when given. A checkpoint (weights, optimiser state, history) is saved every
``--checkpoint-minutes`` and the weights file is updated with it, so an interrupted run still
leaves weights. ``--resume`` continues from the checkpoint. A resumed run draws different
batches from an uninterrupted one, so it follows the same recipe but does not give the same
weights.

Usage: python scripts/train_hidden_fluid_pinn.py [--max-minutes 60] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

import torch

import ml4es
from ml4es.flows import wake_dataset
from ml4es.pinns import hidden_fluid as hf
from ml4es.runtime import machine_info
from ml4es.training import check_resumable

logger = logging.getLogger("train_hidden_fluid_pinn")

WEIGHTS = Path(__file__).resolve().parents[1] / "code" / "src" / "ml4es" / "weights"
EVALUATION_SNAPSHOTS = list(range(0, 200, 20))
"""Snapshots of the quick c, u, v, p check logged during training (the final record uses all)."""


def command() -> str:
    """Return the command line of this run, for the record."""
    return " ".join(["python", *sys.argv])


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    recipe = hf.HiddenFluidRecipe()

    help_text = {
        "observations": "number of c samples drawn from the grid",
        "region": "where c is sampled: window or dye (c > 0.05)",
        "batch_size": "c samples per Adam step",
        "collocation": "extra uniform residual points per Adam step",
        "width": "units per hidden layer",
        "depth": "hidden layers",
        "first_layer_scale": "factor on the first layer's initial weights",
        "data_weight": "weight of the c misfit against the residuals",
        "learning_rate": "Adam's initial learning rate",
        "final_learning_rate": "Adam's learning rate at its last step",
        "adam_steps": "Adam steps",
        "lbfgs_points": "c samples in L-BFGS's full batch",
        "lbfgs_steps": "L-BFGS iterations after Adam",
        "seed": "seed of the weights, the samples and the batches",
    }
    for field in fields(hf.HiddenFluidRecipe):
        default = getattr(recipe, field.name)
        kind = type(default)
        choices = ["window", "dye"] if field.name == "region" else None
        parser.add_argument(
            f"--{field.name.replace('_', '-')}", type=kind, default=default, choices=choices,
            help=f"{help_text[field.name]} (default {default})",
        )

    parser.add_argument("--max-minutes", type=float, default=None, help="stop training after this many minutes (default: no limit)")
    parser.add_argument("--threads", type=int, default=1, help="number of CPU threads for PyTorch (default 1)")
    parser.add_argument("--checkpoint-dir", type=Path, default=Path("hfm_checkpoints"), help="folder of checkpoints (default ./hfm_checkpoints)")
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0, help="minutes between checkpoints (default 5)")
    parser.add_argument("--log-every", type=int, default=500, help="steps between progress lines in the log (default 500)")
    parser.add_argument("--evaluate-every", type=int, default=2000, help="steps between quick error checks on 10 snapshots (default 2000)")
    parser.add_argument("--output", type=Path, default=WEIGHTS / "hidden_fluid_pinn.pt", help="weights file; the record goes beside it as .json")
    parser.add_argument("--no-compile", action="store_true", help="do not use torch.compile on the loss")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    return parser.parse_args()


class Run:
    """The model, optimisers and bookkeeping of one training run, with checkpoints."""

    def __init__(self, arguments: argparse.Namespace):
        self.arguments = arguments
        self.dataset = wake_dataset(progress=False)
        self.reynolds = float(self.dataset.attrs["reynolds_number"])
        self.peclet = float(self.dataset.attrs["peclet_number"])
        self.recipe = hf.HiddenFluidRecipe(**{field.name: getattr(arguments, field.name) for field in fields(hf.HiddenFluidRecipe)})
        recipe = self.recipe

        ml4es.seed_everything(recipe.seed)
        self.observations = hf.sample_concentration(self.dataset, n=recipe.observations, region=recipe.region, seed=recipe.seed)
        self.model = hf.network_from_recipe(hf.domain_bounds(self.dataset), recipe)
        self.adam, self.scheduler = hf.adam_with_decay(self.model, recipe)
        self.lbfgs = hf.lbfgs(self.model.parameters())
        self.steps = {"Adam": 0, "L-BFGS": 0}
        self.log: list[dict] = []
        self.seconds_before = 0.0
        self.started = time.perf_counter()
        self.last_checkpoint = self.started
        self.checkpoint_path = arguments.checkpoint_dir / "hidden_fluid.pt"

    @property
    def seconds(self) -> float:
        """Training time so far in seconds, including the runs this one resumed."""
        return self.seconds_before + time.perf_counter() - self.started

    def out_of_time(self) -> bool:
        """Return True once the training time exceeds ``--max-minutes`` (never without it)."""
        max_minutes = self.arguments.max_minutes
        return max_minutes is not None and self.seconds > 60 * max_minutes

    def save_checkpoint(self) -> None:
        self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "model": self.model.state_dict(),
            "adam": self.adam.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "lbfgs": self.lbfgs.state_dict(),
            "steps": self.steps,
            "log": self.log,
            "seconds": self.seconds,
            "recipe": asdict(self.recipe),
        }
        temporary = self.checkpoint_path.with_suffix(".tmp")
        torch.save(state, temporary)
        temporary.replace(self.checkpoint_path)
        self.last_checkpoint = time.perf_counter()

    def load_checkpoint(self) -> None:
        state = torch.load(self.checkpoint_path, weights_only=False)
        # More L-BFGS iterations may follow a finished run; every other option must match.
        check_resumable(state["recipe"], asdict(self.recipe), self.checkpoint_path)
        self.model.load_state_dict(state["model"])
        self.adam.load_state_dict(state["adam"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.lbfgs.load_state_dict(state["lbfgs"])
        self.steps = state["steps"]
        self.log = state["log"]
        self.seconds_before = state["seconds"]
        logger.info("resumed from %s after %s", self.checkpoint_path, self.steps)

    def callback(self, phase: str, step: int, loss: float) -> bool:
        """Count the step, log and checkpoint when due, and return True to stop once out of time."""
        self.steps[phase] += 1
        total = self.steps["Adam"] + self.steps["L-BFGS"]
        if total % self.arguments.log_every == 0:
            entry = {"phase": phase, "step": self.steps[phase], "seconds": round(self.seconds, 1), "loss": loss}
            if total % self.arguments.evaluate_every == 0:
                entry.update(hf.evaluate(self.model, self.dataset, EVALUATION_SNAPSHOTS))
            self.log.append(entry)
            logger.info(json.dumps(entry))
        if time.perf_counter() - self.last_checkpoint > 60 * self.arguments.checkpoint_minutes:
            self.save_checkpoint()
            write_weights(self, final=False)
        return self.out_of_time()

    def train(self) -> None:
        recipe = self.recipe
        remaining = recipe.adam_steps - self.steps["Adam"]
        if remaining > 0 and not self.out_of_time():
            # The batches' seed moves on with the steps taken, so a resumed run draws new batches.
            hf.train(
                self.model, self.observations, self.adam, remaining, self.reynolds, self.peclet,
                batch_size=recipe.batch_size, collocation=recipe.collocation, data_weight=recipe.data_weight,
                scheduler=self.scheduler, seed=recipe.seed + self.steps["Adam"], compile=not self.arguments.no_compile, description="Adam",
                progress=False, callback=self.callback,
            )
        remaining = recipe.lbfgs_steps - self.steps["L-BFGS"]
        if remaining > 0 and not self.out_of_time():
            # A fixed subset of the observations, drawn with the recipe's seed, is L-BFGS's full batch.
            points = min(recipe.lbfgs_points, len(self.observations))
            order = torch.randperm(len(self.observations), generator=torch.Generator().manual_seed(recipe.seed))
            batch = self.observations.subset(order[:points])
            hf.train(
                self.model, batch, self.lbfgs, remaining, self.reynolds, self.peclet,
                data_weight=recipe.data_weight, compile=not self.arguments.no_compile, description="L-BFGS",
                progress=False, callback=self.callback,
            )


def write_weights(run: Run, final: bool) -> None:
    """Write the weights and the record, with the errors over all snapshots when ``final``."""
    if final:
        metrics = hf.evaluate(run.model, run.dataset)
    else:
        checked = [entry for entry in run.log if "u_error" in entry]
        metrics = checked[-1] if checked else {}
    metrics = {name: value for name, value in metrics.items() if name.endswith("_error")}
    weights_path = run.arguments.output
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "description": "hidden fluid mechanics PINN (c, u, v, p) = N(t, x, y) for the cylinder wake at Re = Pe = 100, trained on c only",
        "network": {"width": run.model.width, "depth": run.model.depth, "dtype": "float32"},
        "command": command(),
        "machine": machine_info(),
        "finished": final,
        "train_seconds": round(run.seconds, 1),
        "steps": dict(run.steps),
        "recipe": asdict(run.recipe),
        "max_minutes": run.arguments.max_minutes,
        "metrics": metrics,
        "metrics_definition": (
            "relative L2 over all grid points of all 200 snapshots (the last quick check on 10 snapshots while "
            "finished is false), p with its spatial mean removed per snapshot"
        ),
        "log": run.log,
    }
    torch.save(run.model.state_dict(), weights_path)
    weights_path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")


def main() -> None:
    arguments = parse_arguments()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(arguments.threads)

    run = Run(arguments)
    if arguments.resume:
        run.load_checkpoint()
    run.train()
    run.save_checkpoint()
    write_weights(run, final=True)
    record = json.loads(arguments.output.with_suffix(".json").read_text())
    logger.info("%s after %.0f s: %s", json.dumps(run.steps), run.seconds, json.dumps(record["metrics"]))


if __name__ == "__main__":
    main()
