"""Cross-validate the lee-wave U-Net against the band-pass baseline over several sets of test days.

Usage: python benchmarks/leewave_folds.py [--threads 2] --runs DIR [DIR ...]

Each DIR contains a network written by ``scripts/train_leewave_unet.py --output DIR``, trained with
its own ``--test-days`` (one fold). The shipped network, whose test days are 3, 8, 13 and 17
January, is always the first fold. For each fold the script scores the network at a threshold
of 0.5 and the band-pass baseline, with its threshold fitted on that fold's training days, on the
fold's test days. It then pools the counts of every fold, so that each test frame counts once.
Folds must share the shipped recipe apart from the seed and the days, and must not share test
days. The script prints a table and writes benchmarks/results/leewave_folds.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from ml4es.segmentation import datasets, leewave_unet

RESULTS = Path(__file__).resolve().parent / "results" / "leewave_folds.json"


def read_recipe(folder: Path) -> leewave_unet.LeeWaveRecipe:
    """Return the recipe of the training run in ``folder``, after checking that its files are there."""
    record_path, weights_path = folder / leewave_unet.RECORD_FILE, folder / leewave_unet.WEIGHTS_FILE
    for path in (record_path, weights_path):
        if not path.is_file():
            raise SystemExit(f"error: no {path.name} in {folder}; expected the --output folder of a training run")
    return leewave_unet.recipe_from_record(json.loads(record_path.read_text())["recipe"])


def check_folds(recipes: list[leewave_unet.LeeWaveRecipe], names: list[str]) -> None:
    """Stop unless every fold has the first one's recipe, apart from its seed and days, and its own test days."""
    shipped = recipes[0]
    for recipe, name in zip(recipes[1:], names[1:]):
        same_days = dataclasses.replace(recipe, seed=shipped.seed, validation_days=shipped.validation_days,
                                        test_days=shipped.test_days)
        if same_days != shipped:
            changed = [field.name for field in dataclasses.fields(shipped)
                       if getattr(same_days, field.name) != getattr(shipped, field.name)]
            raise SystemExit(f"error: the recipe of {name} differs from the shipped one in {', '.join(changed)}; "
                             "folds must differ only in their seed and days")
    for later in range(1, len(recipes)):
        for earlier in range(later):
            shared = sorted(set(recipes[later].test_days) & set(recipes[earlier].test_days))
            if shared:
                raise SystemExit(f"error: {names[later]} and {names[earlier]} share test day(s) {shared}; "
                                 "folds must not share test days")


def load_network(folder: Path | None, recipe: leewave_unet.LeeWaveRecipe) -> torch.nn.Module:
    """Return the network saved in ``folder``, or the shipped one when it is None."""
    if folder is None:
        return leewave_unet.load_pretrained()[0]
    model = leewave_unet.build_model(recipe)
    model.load_state_dict(torch.load(folder / leewave_unet.WEIGHTS_FILE, weights_only=True))
    return model.eval()


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

    folders: list[Path | None] = [None, *args.runs]
    names = ["the shipped network", *map(str, args.runs)]
    recipes = [leewave_unet.load_pretrained()[1], *map(read_recipe, args.runs)]
    check_folds(recipes, names)

    ds = datasets.load_leewaves()
    truth = ds["mask"].values.astype(bool)
    folds, unet_counts, baseline_counts = [], [], []
    print("| network | test days | frames | U-Net Dice | baseline Dice | margin |")
    print("| --- | --- | --- | --- | --- | --- |")
    for folder, name, recipe in zip(folders, names, recipes):
        try:
            frames = leewave_unet.split(ds, recipe)
        except ValueError as error:
            raise SystemExit(f"error: {name}: {error}") from None
        test = frames["test"]
        probability = leewave_unet.predict(load_network(folder, recipe), ds["w"].values[test], recipe.scale)
        fitted = leewave_unet.band_pass_baseline(ds, frames)
        unet = overlap_counts(probability > 0.5, truth[test])
        baseline = overlap_counts(fitted["amplitude"][test] > fitted["threshold"], truth[test])
        unet_counts.append(unet)
        baseline_counts.append(baseline)
        fold = {
            "network": name,
            "test_days": list(recipe.test_days),
            "test_frames": len(test),
            "unet_dice": round(pooled_dice([unet]), 4),
            "baseline_dice": round(pooled_dice([baseline]), 4),
        }
        fold["margin"] = round(fold["unet_dice"] - fold["baseline_dice"], 4)
        folds.append(fold)
        print(f"| {name} | {', '.join(map(str, recipe.test_days))} | {len(test)} | {fold['unet_dice']:.3f} | "
              f"{fold['baseline_dice']:.3f} | {fold['margin']:+.3f} |")

    unet_dice, baseline_dice = pooled_dice(unet_counts), pooled_dice(baseline_counts)
    results = {
        "folds": folds,
        "pooled": {
            "test_days": sorted(set().union(*(recipe.test_days for recipe in recipes))),
            "test_frames": sum(fold["test_frames"] for fold in folds),
            "unet_dice": round(unet_dice, 4),
            "baseline_dice": round(baseline_dice, 4),
            "margin": round(unet_dice - baseline_dice, 4),
        },
        "threads": args.threads,
        "torch": torch.__version__,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    pooled = results["pooled"]
    print(f"| all folds, pooled | {len(pooled['test_days'])} days | {pooled['test_frames']} | {pooled['unet_dice']:.3f} | "
          f"{pooled['baseline_dice']:.3f} | {pooled['margin']:+.3f} |")


if __name__ == "__main__":
    main()
