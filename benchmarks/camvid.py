"""Benchmark the street-scene chapter: the shipped U-Net's scores and the training throughput.

Measures, in one run:

1. pixel accuracy, mean IoU and per-class IoU of the shipped weights (``scripts/train_camvid_unet.py``)
   on the 101 CamVid validation frames at 240 x 180, from the raw predictions and with the
   class weights of the loss undone at prediction (targets: at least 85% and 0.50);
2. training throughput in images per second of three loops over the same network, loss and
   optimiser, each for ``--steps`` steps after two warm-up steps:
   - straightforward: whole 240 x 180 frames in the default (NCHW) memory layout, no augmentation;
   - the course's recipe: random 176 x 144 crops, flips and colour jitter (``camvid_unet.augment``);
   - the recipe with tensors in channels-last memory layout, which some CPU convolution kernels prefer.

Prints a table and writes benchmarks/results/camvid.json.

Usage: python benchmarks/camvid.py [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from ml4es.runtime import machine_info
from ml4es.segmentation import camvid_unet, datasets
from ml4es.segmentation.unet import UNet

RESULTS = Path(__file__).resolve().parent / "results" / "camvid.json"


def throughput(train_set, steps: int, crop: bool, channels_last: bool) -> float:
    """Return training images per second of one loop variant, timed after two warm-up steps."""
    recipe = camvid_unet.CamVidRecipe()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = UNet(3, 11, recipe.widths)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    weights = camvid_unet.class_weights(train_set.labels, 11, train_set.ignore_index)
    loss_function = nn.CrossEntropyLoss(weight=weights, ignore_index=train_set.ignore_index)
    optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate)
    start = None
    for step in range(steps + 2):
        if step == 2:
            start = time.perf_counter()
        index = torch.randint(len(train_set), (recipe.batch,), generator=generator)
        images, labels = train_set.images[index], train_set.labels[index]
        if crop:
            images, labels = camvid_unet.augment(images, labels, recipe.crop, generator)
        images = camvid_unet.normalise(images)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        loss = loss_function(model(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return steps * recipe.batch / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per loop")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    train_set = datasets.load_camvid("train", progress=False)
    validation_set = datasets.load_camvid("val", progress=False)
    model, record = camvid_unet.load_pretrained()
    raw = camvid_unet.evaluate(model, validation_set)
    class_weights = camvid_unet.class_weights(train_set.labels, len(train_set.classes), train_set.ignore_index)
    scores = camvid_unet.evaluate(model, validation_set, class_weights)

    loops = {
        "straightforward (whole frames, NCHW)": dict(crop=False, channels_last=False),
        "recipe (augmented crops, NCHW)": dict(crop=True, channels_last=False),
        "recipe, channels-last": dict(crop=True, channels_last=True),
    }
    speeds = {name: throughput(train_set, args.steps, **options) for name, options in loops.items()}
    pixels = {"straightforward (whole frames, NCHW)": 240 * 180}
    result = {
        "machine": machine_info(),
        "weights": {"best_epoch": record["best_epoch"], "command": record["command"]},
        "validation_raw": {key: raw[key] for key in ("pixel_accuracy", "mean_iou", "iou")},
        "validation": {
            "prediction": "class weights of the loss undone (camvid_unet.predict)",
            "pixel_accuracy": scores["pixel_accuracy"],
            "mean_iou": scores["mean_iou"],
            "iou": scores["iou"],
            "targets": {"pixel_accuracy": 0.85, "mean_iou": 0.50},
            "meets_targets": scores["pixel_accuracy"] >= 0.85 and scores["mean_iou"] >= 0.50,
        },
        "training_images_per_second": speeds,
        "training_pixels_per_second": {
            name: speed * pixels.get(name, 176 * 144) for name, speed in speeds.items()
        },
        "steps_timed": args.steps,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    print(f"validation, raw: pixel accuracy {raw['pixel_accuracy']:.1%}, mean IoU {raw['mean_iou']:.3f}")
    print(f"validation, class weights undone: pixel accuracy {scores['pixel_accuracy']:.1%} (target 85%), "
          f"mean IoU {scores['mean_iou']:.3f} (target 0.50)")
    for name, speed in speeds.items():
        print(f"{name:40s} {speed:6.2f} images/s  {result['training_pixels_per_second'][name] / 1e6:5.2f} Mpixel/s")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
