"""Benchmark the lee-wave chapter's targets and its training throughput in one run.

Measures:

1. the shipped U-Net against the band-pass baseline on the held-out days: pooled Dice and IoU
   at a probability threshold of 0.5 (target: the U-Net's test Dice at least 0.1 above the
   baseline's);
2. the dominant wavelength from a 2-D FFT inside the exact masks of 20 synthetic fields
   (256 x 256 points, seeds 100-119), and inside the masks the U-Net predicts for them (target:
   every wavelength within 10% of the truth);
3. training throughput of the chapter's loop against a straightforward one, with the same U-Net,
   loss and optimiser. The chapter's loop draws batches of 8 random 128 x 128 crops with NumPy,
   each turned and flipped. The straightforward loop feeds whole 512 x 512 tiles, turned and
   flipped, through a torch DataLoader in batches of 2. Both report images (crops or tiles) and
   megapixels per second of training, per second of wall-clock and of CPU time.

Prints a table and writes benchmarks/results/leewaves.json.

Usage: python benchmarks/leewaves.py [--threads 2] [--steps 12]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from ml4es.runtime import machine_info
from ml4es.segmentation import datasets, leewave_unet, leewaves, metrics
from ml4es.segmentation.unet import UNet

RESULTS = Path(__file__).resolve().parent / "results" / "leewaves.json"
SYNTHETIC_SEEDS = range(100, 120)


def detection_scores(ds, frames) -> dict:
    """Score the shipped U-Net and the band-pass baseline on the validation and test days."""
    model, recipe, _ = leewave_unet.load_pretrained()
    truth = ds["mask"].values.astype(bool)
    baseline = leewave_unet.band_pass_baseline(ds, frames)
    result = {"baseline_threshold_m_per_s": baseline["threshold"]}
    for part in ("validation", "test"):
        probability = leewave_unet.predict(model, ds["w"].values[frames[part]], recipe.scale)
        result[part] = {
            "unet": leewave_unet.scores(probability > 0.5, truth[frames[part]]),
            "band_pass_baseline": baseline[part],
        }
    result["test_dice_margin"] = result["test"]["unet"]["dice"] - result["test"]["band_pass_baseline"]["dice"]
    return result


def synthetic_wavelengths() -> dict:
    """Measure the FFT wavelength and orientation inside exact and predicted masks of synthetic fields."""
    model, recipe, _ = leewave_unet.load_pretrained()
    fields = [leewaves.synthetic_field(np.random.default_rng(seed), n=256) for seed in SYNTHETIC_SEEDS]
    probability = leewave_unet.predict(model, np.stack([field.w for field in fields]), recipe.scale)
    exact, predicted, orientation, dice = [], [], [], []
    for field, field_probability in zip(fields, probability):
        wavelength, angle = leewaves.dominant_wave(field.w, field.mask, field.dx)
        exact.append(wavelength / field.wavelength - 1)
        orientation.append(abs((angle - field.direction + 90.0) % 180.0 - 90.0))
        mask = field_probability > 0.5
        dice.append(metrics.dice_score(mask, field.mask))
        if mask.any():
            predicted.append(leewaves.dominant_wave(field.w, mask, field.dx)[0] / field.wavelength - 1)
    return {
        "fields": len(fields),
        "exact_mask_relative_error": {"mean": float(np.mean(np.abs(exact))), "max": float(np.max(np.abs(exact)))},
        "unet_mask_relative_error": {"mean": float(np.mean(np.abs(predicted))), "max": float(np.max(np.abs(predicted))),
                                     "fields_with_a_mask": len(predicted)},
        "orientation_error_degrees": {"mean": float(np.mean(orientation)), "max": float(np.max(orientation))},
        "unet_mean_dice_on_synthetic": float(np.mean(dice)),
    }


class WholeTiles(torch.utils.data.Dataset):
    """Whole training tiles, each turned by a random multiple of 90 degrees and flipped at random."""

    def __init__(self, w: np.ndarray, mask: np.ndarray, seed: int):
        self.w, self.mask = w, mask
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.w)

    def __getitem__(self, index: int):
        turns, flip = self.rng.integers(4), self.rng.integers(2)
        field, label = np.rot90(self.w[index], turns), np.rot90(self.mask[index], turns)
        if flip:
            field, label = field[:, ::-1], label[:, ::-1]
        return torch.from_numpy(field.copy())[None], torch.from_numpy(label.copy())[None]


class TimedLoop:
    """A fresh U-Net with its optimiser, trained on ``batches``, that clocks its own steps."""

    def __init__(self, batches, warmup: int = 2):
        torch.manual_seed(0)
        recipe = leewave_unet.LeeWaveRecipe()
        self.batches = batches
        self.model = UNet(1, 1, recipe.widths).train()
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=recipe.learning_rate)
        self.steps, self.wall, self.cpu = 0, 0.0, 0.0
        self.run(warmup, timed=False)

    def run(self, steps: int, timed: bool = True) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            inputs, targets = next(self.batches)
            loss = leewave_unet.segmentation_loss(self.model(inputs), targets)
            self.optimiser.zero_grad()
            loss.backward()
            self.optimiser.step()
        if timed:
            self.steps += steps
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu


def throughput(ds, frames, steps: int, rounds: int = 3) -> dict:
    """Measure images and megapixels per second of the chapter's loop and of a whole-tile loop.

    The two loops take turns, ``rounds`` times, so that a change in the load of a shared machine
    affects both alike. Rates are given per second of wall-clock time and of process CPU time.
    """
    recipe = leewave_unet.LeeWaveRecipe()
    w = (ds["w"].values[frames["train"]] / recipe.scale).astype(np.float32)
    mask = ds["mask"].values[frames["train"]].astype(np.float32)
    rng = np.random.default_rng(0)

    def crops():
        while True:
            yield leewave_unet.random_batch(w, mask, rng, recipe.crop, recipe.batch)

    tile_batch = 2
    loader = torch.utils.data.DataLoader(WholeTiles(w, mask, seed=0), batch_size=tile_batch, shuffle=True)

    def tiles():
        while True:
            yield from loader

    loops = {
        "ours_crops": (TimedLoop(crops()), recipe.batch, recipe.crop),
        "straightforward_whole_tiles": (TimedLoop(tiles()), tile_batch, w.shape[-1]),
    }
    per_round = max(1, steps // rounds)
    for _ in range(rounds):
        for loop, _, _ in loops.values():
            loop.run(per_round)

    result = {}
    for name, (loop, images, side) in loops.items():
        result[name] = {
            "images_per_step": images,
            "image_side": side,
            "steps": loop.steps,
            "wall_seconds": loop.wall,
            "cpu_seconds": loop.cpu,
            "images_per_second": images * loop.steps / loop.wall,
            "images_per_cpu_second": images * loop.steps / loop.cpu,
            "megapixels_per_second": images * side**2 * loop.steps / loop.wall / 1e6,
            "megapixels_per_cpu_second": images * side**2 * loop.steps / loop.cpu / 1e6,
        }
    ours, plain = result["ours_crops"], result["straightforward_whole_tiles"]
    for rate in ("images_per_second", "images_per_cpu_second", "megapixels_per_second", "megapixels_per_cpu_second"):
        result[f"{rate}_ratio"] = ours[rate] / plain[rate]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="number of torch CPU threads")
    parser.add_argument("--steps", type=int, default=12, help="number of timed training steps of each loop (in 3 rounds)")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    start = time.perf_counter()
    results: dict = {"machine": machine_info()}
    ds = datasets.load_leewaves(progress=False)
    frames = leewave_unet.split(ds)
    results["split"] = {"validation_days": leewave_unet.VALIDATION_DAYS, "test_days": leewave_unet.TEST_DAYS,
                        "frames": {part: len(indices) for part, indices in frames.items()}}
    results["detection"] = detection_scores(ds, frames)
    results["synthetic_wavelength"] = synthetic_wavelengths()
    results["throughput"] = throughput(ds, frames, arguments.steps)
    results["load_average_at_end"] = list(os.getloadavg())
    results["seconds"] = time.perf_counter() - start

    detection, synthetic, speed = results["detection"], results["synthetic_wavelength"], results["throughput"]
    rows = [
        ("test Dice, U-Net", "", detection["test"]["unet"]["dice"]),
        ("test Dice, band-pass baseline", "", detection["test"]["band_pass_baseline"]["dice"]),
        ("test Dice, U-Net minus baseline", ">= 0.1", detection["test_dice_margin"]),
        ("test IoU, U-Net", "", detection["test"]["unet"]["iou"]),
        ("test IoU, band-pass baseline", "", detection["test"]["band_pass_baseline"]["iou"]),
        ("synthetic wavelength error, exact masks (max)", "<= 0.1", synthetic["exact_mask_relative_error"]["max"]),
        ("synthetic wavelength error, U-Net masks (max)", "", synthetic["unet_mask_relative_error"]["max"]),
        ("training images/s, ours (128 x 128 crops)", "", speed["ours_crops"]["images_per_second"]),
        ("training images/s, whole 512 x 512 tiles", "", speed["straightforward_whole_tiles"]["images_per_second"]),
        ("training images per CPU second, ours", "", speed["ours_crops"]["images_per_cpu_second"]),
        ("training images per CPU second, whole tiles", "", speed["straightforward_whole_tiles"]["images_per_cpu_second"]),
        ("training megapixels/s, ours", "", speed["ours_crops"]["megapixels_per_second"]),
        ("training megapixels/s, whole tiles", "", speed["straightforward_whole_tiles"]["megapixels_per_second"]),
    ]
    for name, target, value in rows:
        print(f"{name:48s}{target:>8s}{value:12.4g}")
    print(f"total {results['seconds']:.0f} s")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
