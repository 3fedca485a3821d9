"""Cross-validate the lee-wave U-Net against the band-pass baseline over several sets of test days.

Usage: python benchmarks/leewave_folds.py [--threads 2] --runs DIR [DIR ...]

Each DIR contains a network written by ``scripts/train_leewave_unet.py --output DIR``, trained with
its own ``--test-days`` (one fold). The shipped network, whose test days are 3, 8, 13 and 17
January, is always the first fold. For each fold the script scores the network at a threshold
of 0.5 and the band-pass baseline, with its threshold fitted on that fold's training days, on the
fold's test days. It then pools the counts of every fold, so that each test frame counts once.
Folds must not share test days. The results go to benchmarks/results/leewave_folds.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ml4es.segmentation import datasets, leewave_unet

RESULTS = Path(__file__).resolve().parent / "results" / "leewave_folds.json"


def load_fold(folder: Path | None) -> tuple[torch.nn.Module, leewave_unet.LeeWaveRecipe]:
    """Return the network and recipe saved in ``folder``, or the shipped ones when it is None."""
    if folder is None:
        model, recipe, _ = leewave_unet.load_pretrained()
        return model, recipe
    record_path = folder / leewave_unet.RECORD_FILE
    if not record_path.is_file():
        raise SystemExit(f"error: no {leewave_unet.RECORD_FILE} in {folder}; expected the --output folder of a training run")
    recipe = leewave_unet.recipe_from_record(json.loads(record_path.read_text())["recipe"])
    model = leewave_unet.build_model(recipe)
    model.load_state_dict(torch.load(folder / leewave_unet.WEIGHTS_FILE, weights_only=True))
    return model.eval(), recipe


def overlap_counts(predicted: np.ndarray, truth: np.ndarray) -> dict[str, int]:
    """Return the intersection and the sizes of two boolean masks, the counts behind Dice."""
    return {
        "intersection": int(np.logical_and(predicted, truth).sum()),
        "predicted": int(predicted.sum()),
        "truth": int(truth.sum()),
    }


def pooled_dice(counts: list[dict[str, int]]) -> float:
    """Return 2 |P ∩ T| / (|P| + |T|) over the summed counts of several folds."""
    intersection = sum(count["intersection"] for count in counts)
    total = sum(count["predicted"] + count["truth"] for count in counts)
    return 2 * intersection / total if total else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="number of torch CPU threads")
    parser.add_argument("--runs", type=Path, nargs="+", required=True, help="folders of networks trained on other folds")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    ds = datasets.load_leewaves()
    truth = ds["mask"].values.astype(bool)
    folds, unet_counts, baseline_counts, tested = [], [], [], set()
    for folder in [None, *args.runs]:
        model, recipe = load_fold(folder)
        shared = tested & set(recipe.test_days)
        if shared:
            raise SystemExit(f"error: test day(s) {sorted(shared)} of {folder} are in an earlier fold; folds must not share test days")
        tested |= set(recipe.test_days)
        frames = leewave_unet.split(ds, recipe)
        test = frames["test"]
        probability = leewave_unet.predict(model, ds["w"].values[test], recipe.scale)
        fitted = leewave_unet.band_pass_baseline(ds, frames)
        unet = overlap_counts(probability > 0.5, truth[test])
        baseline = overlap_counts(fitted["amplitude"][test] > fitted["threshold"], truth[test])
        unet_counts.append(unet)
        baseline_counts.append(baseline)
        fold = {
            "network": "shipped" if folder is None else str(folder),
            "test_days": list(recipe.test_days),
            "test_frames": len(test),
            "unet_dice": round(pooled_dice([unet]), 4),
            "baseline_dice": round(pooled_dice([baseline]), 4),
        }
        fold["margin"] = round(fold["unet_dice"] - fold["baseline_dice"], 4)
        folds.append(fold)
        print(json.dumps(fold))

    unet_dice, baseline_dice = pooled_dice(unet_counts), pooled_dice(baseline_counts)
    results = {
        "folds": folds,
        "pooled": {
            "test_days": sorted(tested),
            "test_frames": sum(fold["test_frames"] for fold in folds),
            "unet_dice": round(unet_dice, 4),
            "baseline_dice": round(baseline_dice, 4),
            "margin": round(unet_dice - baseline_dice, 4),
        },
        "threads": args.threads,
        "torch": torch.__version__,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["pooled"], indent=2))


if __name__ == "__main__":
    main()
