"""Reproduce the pretrained lee-wave U-Net and its record.

Trains ``leewave_unet.LeeWaveRecipe`` on the UKV training days and writes
code/src/ml4es/weights/leewave_unet.pt and leewave_unet.json: the command, machine, time, and
Dice and IoU on the validation and test days beside the band-pass baseline's.

Usage: python scripts/train_leewave_unet.py [--steps N] [--threads N] [--output DIR]
    [--widths 16,32,64,128] [--crop N] [--batch N] [--evaluate-every N] [--amplitude-input]
    [--pretrain-steps N] [--gain-range LOW,HIGH] [--compress M_PER_S] [--seed N] [--frame-stride N]
    [--validation-days D,...] [--test-days D,...]

The options from --widths on change the recipe for experiments, and then need --output, so that
the shipped weights stay. Without them the script reproduces the shipped weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import torch

from ml4es.runtime import machine_info
from ml4es.segmentation import datasets, leewave_unet

WEIGHTS = Path(__file__).resolve().parents[1] / "code" / "src" / "ml4es" / "weights"


def positive_int(text: str) -> int:
    """Parse a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; expected a whole number of at least 1")
    return int(text)


def non_negative_int(text: str) -> int:
    """Parse a whole number of at least 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; expected a whole number of at least 0")
    return int(text)


def widths(text: str) -> tuple[int, ...]:
    """Parse channels per depth, such as 16,32,64,128."""
    parts = text.split(",")
    if len(parts) < 2 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(
            f"invalid widths {text!r}; expected two or more whole numbers separated by commas, such as 16,32,64,128"
        )
    return tuple(int(part) for part in parts)


def days(text: str) -> tuple[int, ...]:
    """Parse days of the month, such as 3,8,13,17."""
    parts = text.split(",")
    if not all(part.isdigit() and 1 <= int(part) <= 31 for part in parts):
        raise argparse.ArgumentTypeError(
            f"invalid days {text!r}; expected days of the month (1 to 31) separated by commas, such as 3,8,13,17"
        )
    return tuple(int(part) for part in parts)


def gain_range(text: str) -> tuple[float, float]:
    """Parse LOW,HIGH into two positive numbers with LOW <= HIGH."""
    try:
        return leewave_unet.check_gain_range(tuple(float(value) for value in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid gain range {text!r}; expected LOW,HIGH with 0 < LOW <= HIGH, such as 0.5,2"
        ) from None


def main() -> int:
    default = leewave_unet.LeeWaveRecipe()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=positive_int, default=None, help=f"training steps (default: {default.steps})")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--output", type=Path, default=WEIGHTS,
                        help="folder for leewave_unet.pt and .json (default: the package's weights folder)")
    parser.add_argument("--widths", type=widths, default=None,
                        help=f"channels per depth, comma-separated (default: {','.join(map(str, default.widths))})")
    parser.add_argument("--crop", type=positive_int, default=None, help=f"side of the square training crops, grid points (default: {default.crop})")
    parser.add_argument("--batch", type=positive_int, default=None, help=f"crops per training step (default: {default.batch})")
    parser.add_argument("--evaluate-every", type=positive_int, default=None, help=f"steps between validation scores (default: {default.evaluate_every})")
    parser.add_argument("--amplitude-input", action="store_true",
                        help="give the network the band-pass wave amplitude as a second input channel")
    parser.add_argument("--pretrain-steps", type=non_negative_int, default=None,
                        help="steps of training on synthetic lee-wave fields before the UKV days (default: 0)")
    parser.add_argument("--gain-range", type=gain_range, default=None,
                        help="multiply each training crop by a factor drawn log-uniformly from LOW,HIGH")
    parser.add_argument("--compress", type=float, default=None,
                        help="give the network asinh(w / M_PER_S) instead of w")
    parser.add_argument("--seed", type=non_negative_int, default=None,
                        help=f"random seed of the initial weights and the training crops (default: {default.seed})")
    parser.add_argument("--frame-stride", type=positive_int, default=None,
                        help="train on every N-th frame of the training days only (default: 1, all of them)")
    parser.add_argument("--validation-days", type=days, default=None,
                        help=f"days that choose the checkpoint (default: {','.join(map(str, default.validation_days))})")
    parser.add_argument("--test-days", type=days, default=None,
                        help=f"days of the final scores (default: {','.join(map(str, default.test_days))})")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    changes = {"steps": args.steps, "crop": args.crop, "batch": args.batch, "evaluate_every": args.evaluate_every,
               "pretrain_steps": args.pretrain_steps, "compress": args.compress, "seed": args.seed,
               "train_frame_stride": args.frame_stride, "validation_days": args.validation_days,
               "test_days": args.test_days}
    changes = {key: value for key, value in changes.items() if value is not None}
    if args.widths:
        changes["widths"] = args.widths
    if args.gain_range:
        changes["gain_range"] = args.gain_range
    if args.amplitude_input:
        changes["amplitude_input"] = True
    try:
        recipe = dataclasses.replace(default, **changes)
    except ValueError as error:
        parser.error(str(error))
    if recipe != default and args.output.resolve() == WEIGHTS.resolve():
        parser.error("the options change the recipe: pass --output DIR, so that the shipped weights stay as they are")
    # Fail now rather than after the training run if the weights cannot be written.
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"cannot create the output folder {args.output}: {error.strerror}")
    if not os.access(args.output, os.W_OK):
        parser.error(f"the output folder {args.output} is not writable")
    ds = datasets.load_leewaves()
    try:
        frames = leewave_unet.split(ds, recipe)
    except ValueError as error:
        parser.error(str(error))

    start = time.perf_counter()
    model, history = leewave_unet.train(ds, recipe)
    seconds = time.perf_counter() - start

    truth = ds["mask"].values.astype(bool)
    unet = {}
    for part in ("validation", "test"):
        probability = leewave_unet.predict(model, ds["w"].values[frames[part]], recipe.scale)
        unet[part] = leewave_unet.scores(probability > 0.5, truth[frames[part]])
    fitted = leewave_unet.band_pass_baseline(ds, frames)
    baseline = {"threshold_m_per_s": fitted["threshold"], "validation": fitted["validation"], "test": fitted["test"]}
    record = {
        "description": "U-Net for trapped lee waves in UKV 700 hPa vertical velocity",
        "command": " ".join(["python", *sys.argv]),
        "machine": machine_info(),
        "train_seconds": round(seconds, 1),
        "recipe": dataclasses.asdict(recipe),
        "split": {"validation_days": recipe.validation_days, "test_days": recipe.test_days,
                  "frames": {k: len(v) for k, v in frames.items()},
                  "training_frames_used": len(frames["train"][:: recipe.train_frame_stride])},
        "metrics": {"unet": unet, "band_pass_baseline": baseline},
        "validation_dice_history": list(zip(history["step"], history["validation_dice"])),
    }
    if "pretrain_loss" in history:
        losses = history["pretrain_loss"]
        record["pretraining"] = {
            "final_loss_mean_of_last_50": sum(losses[-50:]) / len(losses[-50:]),
            "synthetic_dice": history["pretrain_synthetic_dice"][0],
            "validation_dice_before_fine_tuning": history["pretrain_validation_dice"][0],
        }
    torch.save(model.state_dict(), args.output / "leewave_unet.pt")
    (args.output / "leewave_unet.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record["metrics"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
