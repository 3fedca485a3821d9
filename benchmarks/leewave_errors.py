"""Measure where the lee-wave U-Net and the band-pass baseline disagree with the hand-drawn masks.

Usage: python benchmarks/leewave_errors.py [--threads 2] [--runs DIR ...]

For the shipped U-Net on the validation and test days, the script measures:

- the share of grid points inside the masks, the U-Net's masks and the baseline's masks;
- the median band-pass wave amplitude in the parts of the masks that the U-Net finds, in the parts
  it misses, and outside the masks;
- how many of the U-Net's false alarms and misses lie within 10 grid points of a mask's edge;
- two cues that the U-Net does not see. The first is where waves were drawn on the training days
  (the share of training frames masked at each grid point), alone and added to the U-Net's logit.
  The second is the persistence of the band-passed field between frames 4 hours apart.

``--runs`` adds networks written by ``scripts/train_leewave_unet.py --output DIR``: each is scored
alone and in an average of probabilities with the shipped one and the others. The results go to
benchmarks/results/leewave_errors.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from ml4es.segmentation import datasets, leewave_unet, leewaves, metrics

RESULTS = Path(__file__).resolve().parent / "results" / "leewave_errors.json"
EDGE_BAND = 10  # grid points (20 km) from a mask's edge


def load_run(folder: Path, ds) -> np.ndarray:
    """Return the probabilities of every frame from the network saved in ``folder``."""
    record = json.loads((folder / leewave_unet.RECORD_FILE).read_text())
    recipe = leewave_unet.recipe_from_record(record["recipe"])
    course = leewave_unet.LeeWaveRecipe()
    if (recipe.validation_days, recipe.test_days) != (course.validation_days, course.test_days):
        raise SystemExit(
            f"error: {folder} was trained with validation days {list(recipe.validation_days)} and test days "
            f"{list(recipe.test_days)}; this script scores the course's split, so use benchmarks/leewave_folds.py"
        )
    model = leewave_unet.build_model(recipe)
    model.load_state_dict(torch.load(folder / leewave_unet.WEIGHTS_FILE, weights_only=True))
    return leewave_unet.predict(model, ds["w"].values, recipe.scale)


def dice(predicted: np.ndarray, truth: np.ndarray) -> float:
    return round(metrics.dice_score(predicted, truth), 4)


def best_threshold(score: np.ndarray, truth: np.ndarray, candidates: np.ndarray) -> float:
    """Return the candidate threshold on ``score`` with the highest pooled Dice."""
    return float(max(candidates, key=lambda threshold: metrics.dice_score(score > threshold, truth)))


def near_edge_share(wrong: np.ndarray, truth: np.ndarray) -> float:
    """Return the share of the ``wrong`` grid points within EDGE_BAND points of a mask's edge."""
    near = []
    for wrong_frame, mask in zip(wrong, truth):
        inside = ndimage.distance_transform_edt(mask)
        outside = ndimage.distance_transform_edt(~mask)
        near.append(np.maximum(inside, outside)[wrong_frame] <= EDGE_BAND)
    near = np.concatenate(near)
    return round(float(near.mean()), 3) if near.size else float("nan")


def persistence(band_passed: np.ndarray, times: np.ndarray, sigma: float = 5.0) -> np.ndarray:
    """Return sqrt of the smoothed product of each band-passed frame with its 4-hourly neighbours.

    Lee waves are tied to the ground, so their crests stay in place from frame to frame while
    moving cells do not. A frame without a neighbour 4 hours away uses itself in its place.
    """
    hours = (np.diff(times) / np.timedelta64(1, "h")).astype(int)
    out = np.empty_like(band_passed)
    for i, field in enumerate(band_passed):
        before = i - 1 if i > 0 and hours[i - 1] == 4 else i
        after = i + 1 if i < len(band_passed) - 1 and hours[i] == 4 else i
        product = field * band_passed[before] + field * band_passed[after]
        out[i] = np.sqrt(np.clip(ndimage.gaussian_filter(product, sigma), 0, None) / 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="number of torch CPU threads")
    parser.add_argument("--runs", type=Path, nargs="*", default=[], help="folders of other trained networks")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    ds = datasets.load_leewaves()
    frames = leewave_unet.split(ds)
    truth = ds["mask"].values.astype(bool)
    dx = float(ds.attrs["grid_spacing_m"])
    model, recipe, _ = leewave_unet.load_pretrained()
    probability = leewave_unet.predict(model, ds["w"].values, recipe.scale)
    fitted = leewave_unet.band_pass_baseline(ds, frames)
    amplitude, threshold = fitted["amplitude"], fitted["threshold"]
    train = frames["train"]

    # Where waves were drawn on the training days, and the U-Net's logit plus its log-odds.
    drawn = truth[train].mean(axis=0)
    logit = np.log(probability + 1e-6) - np.log(1 - probability + 1e-6)
    prior_logit = logit + np.log((drawn + 0.01) / (1 - drawn + 0.01))
    prior_threshold = best_threshold(prior_logit[frames["validation"]], truth[frames["validation"]], np.linspace(-3, 3, 25))
    steady = persistence(np.stack([leewaves.band_pass(w, dx) for w in ds["w"].values]), ds["time"].values)
    steady_threshold = best_threshold(steady[train], truth[train], np.quantile(steady[train], np.linspace(0.7, 0.99, 60)))

    results: dict = {"edge_band_grid_points": EDGE_BAND, "parts": {}}
    for part in ("validation", "test"):
        index = frames[part]
        mask, found = truth[index], probability[index] > 0.5
        results["parts"][part] = {
            "masked_share": round(float(mask.mean()), 4),
            "unet_share": round(float(found.mean()), 4),
            "baseline_share": round(float((amplitude[index] > threshold).mean()), 4),
            "median_amplitude_m_per_s": {
                "masked_and_found": round(float(np.median(amplitude[index][mask & found])), 3),
                "masked_and_missed": round(float(np.median(amplitude[index][mask & ~found])), 3),
                "outside_masks": round(float(np.median(amplitude[index][~mask])), 3),
            },
            "false_alarms_near_edge": near_edge_share(found & ~mask, mask),
            "misses_near_edge": near_edge_share(~found & mask, mask),
            "dice": {
                "unet": dice(found, mask),
                "baseline": dice(amplitude[index] > threshold, mask),
                "training_masks_drawn_in_20_percent": dice(np.broadcast_to(drawn > 0.2, mask.shape), mask),
                "unet_plus_training_mask_log_odds": dice(prior_logit[index] > prior_threshold, mask),
                "persistence_threshold": dice(steady[index] > steady_threshold, mask),
            },
        }

    probabilities = {"shipped": probability}
    for folder in args.runs:
        probabilities[folder.name] = load_run(folder, ds)
    ensembles = []
    for size in range(1, len(probabilities) + 1):
        for names in itertools.combinations(probabilities, size):
            mean = np.mean([probabilities[name] for name in names], axis=0)
            ensembles.append({
                "networks": list(names),
                **{part: dice(mean[frames[part]] > 0.5, truth[frames[part]]) for part in ("validation", "test")},
            })
    results["ensembles"] = ensembles

    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
