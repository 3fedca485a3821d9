"""Reproduce the pretrained CamVid U-Net and its record.

Trains ``camvid_unet.CamVidRecipe`` on the 367 CamVid training frames at 240 x 180 and writes
code/src/ml4es/weights/camvid_unet.pt and camvid_unet.json: the command, machine, time, the class
weights of the loss, and pixel accuracy, mean IoU and per-class IoU on the 101 validation frames,
both from the network's raw predictions and with the class weights undone at prediction
(``camvid_unet.predict``). The epoch is chosen by the raw mean IoU. The best weights so far are
written after every evaluation, so an interrupted run still leaves its best model.

Usage: python scripts/train_camvid_unet.py [--epochs N] [--threads N]
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
from ml4es.segmentation import camvid_unet, datasets

WEIGHTS = Path(__file__).resolve().parents[1] / "code" / "src" / "ml4es" / "weights"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the recipe's)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    recipe = camvid_unet.CamVidRecipe()
    if args.epochs:
        recipe = dataclasses.replace(recipe, epochs=args.epochs)
    train_set = datasets.load_camvid("train")
    validation_set = datasets.load_camvid("val")
    class_weights = camvid_unet.class_weights(train_set.labels, len(train_set.classes), train_set.ignore_index)
    start = time.perf_counter()
    best = {"mean_iou": -1.0}
    log: list[dict] = []

    def record(model, epoch: int, scores: dict) -> None:
        log.append({"epoch": epoch, "mean_iou": scores["mean_iou"], "pixel_accuracy": scores["pixel_accuracy"],
                    "seconds": round(time.perf_counter() - start, 1)})
        if scores["mean_iou"] <= best["mean_iou"]:
            return
        best.update(scores, epoch=epoch)
        torch.save(model.state_dict(), WEIGHTS / "camvid_unet.pt")
        undone = camvid_unet.evaluate(model, validation_set, class_weights)
        document = {
            "description": "U-Net for CamVid street scenes (11 classes, void ignored) at 240 x 180",
            "command": " ".join(["python", *sys.argv]),
            "machine": machine_info(),
            "train_seconds": round(time.perf_counter() - start, 1),
            "recipe": dataclasses.asdict(recipe),
            "best_epoch": epoch,
            "class_weights": class_weights.tolist(),
            "validation": {k: best[k] for k in ("pixel_accuracy", "mean_iou", "iou")},
            "validation_class_weights_undone": {k: undone[k] for k in ("pixel_accuracy", "mean_iou", "iou")},
            "history": log,
        }
        (WEIGHTS / "camvid_unet.json").write_text(json.dumps(document, indent=2) + "\n")

    camvid_unet.train(train_set, validation_set, recipe, on_evaluate=record)
    print(json.dumps({k: best[k] for k in ("epoch", "pixel_accuracy", "mean_iou")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
