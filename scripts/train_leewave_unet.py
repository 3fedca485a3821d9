"""Reproduce the pretrained lee-wave U-Net and its record.

Trains ``leewave_unet.LeeWaveRecipe`` on the UKV training days and writes
code/src/ml4es/weights/leewave_unet.pt and leewave_unet.json: the command, machine, time, and
Dice and IoU on the validation and test days beside the band-pass baseline's.

Usage: python scripts/train_leewave_unet.py [--steps N] [--threads N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from ml4es.runtime import machine_info
from ml4es.segmentation import datasets, leewave_unet

WEIGHTS = Path(__file__).resolve().parents[1] / "code" / "src" / "ml4es" / "weights"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    recipe = leewave_unet.LeeWaveRecipe()
    if args.steps:
        recipe = dataclasses.replace(recipe, steps=args.steps)
    ds = datasets.load_leewaves()
    frames = leewave_unet.split(ds)

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
        "split": {"validation_days": leewave_unet.VALIDATION_DAYS, "test_days": leewave_unet.TEST_DAYS,
                  "frames": {k: len(v) for k, v in frames.items()}},
        "metrics": {"unet": unet, "band_pass_baseline": baseline},
        "validation_dice_history": list(zip(history["step"], history["validation_dice"])),
    }
    torch.save(model.state_dict(), WEIGHTS / "leewave_unet.pt")
    (WEIGHTS / "leewave_unet.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record["metrics"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
