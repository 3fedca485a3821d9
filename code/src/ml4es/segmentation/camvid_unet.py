"""Train and evaluate a U-Net on CamVid street scenes at the chapter's resolution.

The network takes RGB frames downscaled to 240 x 180 and returns 11 class scores per pixel; void
pixels (label 11) count in neither the loss nor the metrics. Training draws random crops, flips
them left to right and jitters brightness, contrast and saturation; the loss is cross-entropy
weighted by median-frequency balancing, so that poles, signs and cyclists are not drowned by road
and sky.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ml4es.segmentation import metrics
from ml4es.segmentation.datasets import SegmentationSet
from ml4es.segmentation.unet import UNet
from ml4es.training import one_cycle


@dataclass(frozen=True)
class CamVidRecipe:
    """Everything that sets the training run of the CamVid U-Net."""

    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    crop: tuple[int, int] = (176, 144)  # (width, height) of the training crops
    batch: int = 8
    epochs: int = 80
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    evaluate_every: int = 2  # epochs


def class_weights(labels: torch.Tensor, num_classes: int, ignore_index: int) -> torch.Tensor:
    """Median-frequency balancing: weight each class by median(frequency) / its frequency."""
    valid = labels[labels != ignore_index]
    counts = torch.bincount(valid.flatten(), minlength=num_classes).double()
    if (counts == 0).any():
        missing = [i for i in range(num_classes) if counts[i] == 0]
        raise ValueError(f"classes {missing} never occur in the labels; cannot weight them")
    frequency = counts / counts.sum()
    return (frequency.median() / frequency).float()


def augment(
    images: torch.Tensor, labels: torch.Tensor, crop: tuple[int, int], generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return random crops of a batch, flipped left to right at random and colour-jittered."""
    width, height = crop
    n, _, full_height, full_width = images.shape
    if width > full_width or height > full_height:
        raise ValueError(f"crop {crop} is larger than the {full_width} x {full_height} images")
    out_images = torch.empty(n, 3, height, width)
    out_labels = torch.empty(n, height, width, dtype=torch.long)
    for i in range(n):
        top = int(torch.randint(full_height - height + 1, (1,), generator=generator))
        left = int(torch.randint(full_width - width + 1, (1,), generator=generator))
        image = images[i, :, top : top + height, left : left + width]
        label = labels[i, top : top + height, left : left + width]
        if torch.rand(1, generator=generator) < 0.5:
            image, label = image.flip(-1), label.flip(-1)
        brightness, contrast, saturation = 1 + 0.4 * (torch.rand(3, generator=generator) - 0.5)
        grey = image.mean(0, keepdim=True)
        image = grey + saturation * (image - grey)
        image = image.mean() + contrast * (image - image.mean())
        out_images[i] = (brightness * image).clamp(0, 1)
        out_labels[i] = label
    return out_images, out_labels


# Channel statistics of the CamVid training frames, measured at 240 x 180.
MEAN = torch.tensor([0.41, 0.43, 0.43]).view(1, 3, 1, 1)
STD = torch.tensor([0.30, 0.31, 0.30]).view(1, 3, 1, 1)


def normalise(images: torch.Tensor) -> torch.Tensor:
    """Centre and scale RGB images (N x 3 x H x W in [0, 1]) by the training frames' statistics."""
    return (images - MEAN) / STD


@torch.no_grad()
def predict(
    model: nn.Module, images: torch.Tensor, batch: int = 8, class_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Return the predicted class of each pixel (N x H x W) for RGB images in [0, 1].

    ``class_weights`` are the weights of the cross-entropy the model was trained with. Weighting
    class c by w_c during training multiplies the probability the network learns for c by w_c
    (up to a normalisation), so subtracting log w_c from its log-probabilities undoes the
    weighting: the prediction becomes the most probable class under the frequencies of the data.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images of shape (N, 3, H, W), got {tuple(images.shape)}")
    offset = 0.0
    if class_weights is not None:
        class_weights = torch.as_tensor(class_weights, dtype=torch.float32)
        if class_weights.ndim != 1:
            raise ValueError(
                f"class_weights must be a 1-D tensor of positive weights, one per class; got shape {tuple(class_weights.shape)}"
            )
        bad = [(index, value) for index, value in enumerate(class_weights.tolist()) if not 0 < value < float("inf")]
        if bad:
            raise ValueError(f"class_weights must be positive and finite; got {bad} as (class, weight)")
        offset = class_weights.log().view(1, -1, 1, 1)
    model.eval()
    scores = []
    for i in range(0, len(images), batch):
        logits = model(normalise(images[i : i + batch]))
        if class_weights is not None and logits.shape[1] != offset.shape[1]:
            raise ValueError(f"the model predicts {logits.shape[1]} classes but {offset.shape[1]} class weights were given")
        if class_weights is not None:
            offset = offset.to(logits)
        scores.append((logits.log_softmax(1) - offset).argmax(1))
    return torch.cat(scores)


def evaluate(model: nn.Module, data: SegmentationSet, class_weights: torch.Tensor | None = None) -> dict:
    """Return pixel accuracy, mean IoU and per-class IoU of ``model`` on ``data``.

    ``class_weights``, if given, are undone at prediction (see :func:`predict`).
    """
    predicted = predict(model, data.images, class_weights=class_weights)
    matrix = metrics.confusion_matrix(predicted, data.labels, len(data.classes), data.ignore_index)
    return {
        "pixel_accuracy": metrics.pixel_accuracy(matrix),
        "mean_iou": metrics.mean_iou(matrix),
        "iou": dict(zip(data.classes, metrics.iou_per_class(matrix).tolist())),
    }


def train(
    train_set: SegmentationSet,
    validation_set: SegmentationSet | None = None,
    recipe: CamVidRecipe = CamVidRecipe(),
    model: nn.Module | None = None,
    epochs: int | None = None,
    progress: bool = True,
    on_evaluate=None,
) -> tuple[nn.Module, dict[str, list]]:
    """Train (or go on training) a U-Net on ``train_set``; keep the weights of best validation mIoU.

    ``on_evaluate(model, epoch, scores)`` is called after each evaluation, for logging or
    checkpoints.
    """
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    num_classes = len(train_set.classes)
    model = model if model is not None else UNet(3, num_classes, recipe.widths)
    epochs = recipe.epochs if epochs is None else epochs
    weights = class_weights(train_set.labels, num_classes, train_set.ignore_index)
    loss_function = nn.CrossEntropyLoss(weight=weights, ignore_index=train_set.ignore_index)
    steps_per_epoch = max(1, len(train_set) // recipe.batch)
    optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    schedule = one_cycle(optimiser, recipe.learning_rate, epochs * steps_per_epoch)
    history: dict[str, list] = {"loss": [], "epoch": [], "mean_iou": [], "pixel_accuracy": []}
    best, best_state = -1.0, None
    bar = tqdm(range(1, epochs + 1), desc="CamVid U-Net", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(train_set), generator=generator)
        for step in range(steps_per_epoch):
            index = order[step * recipe.batch : (step + 1) * recipe.batch]
            images, labels = augment(train_set.images[index], train_set.labels[index], recipe.crop, generator)
            loss = loss_function(model(normalise(images)), labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            history["loss"].append(loss.item())
        if validation_set is not None and (epoch % recipe.evaluate_every == 0 or epoch == epochs):
            scores = evaluate(model, validation_set)
            history["epoch"].append(epoch)
            history["mean_iou"].append(scores["mean_iou"])
            history["pixel_accuracy"].append(scores["pixel_accuracy"])
            bar.set_postfix(loss=f"{loss.item():.3f}", miou=f"{scores['mean_iou']:.3f}")
            if scores["mean_iou"] > best:
                best = scores["mean_iou"]
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if on_evaluate is not None:
                on_evaluate(model, epoch, scores)
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, history


def load_pretrained(model: nn.Module | None = None) -> tuple[nn.Module, dict]:
    """Load the shipped CamVid weights (``scripts/train_camvid_unet.py``) and their JSON record.

    Pass ``model`` to load the weights into a network of your own with the same layer names, such
    as the chapter's U-Net. Without it, the weights go into a
    :class:`~ml4es.segmentation.unet.UNet` of the recipe's widths.
    """
    folder = resources.files("ml4es").joinpath("weights")
    try:
        record = json.loads(folder.joinpath("camvid_unet.json").read_text("utf-8"))
        with resources.as_file(folder.joinpath("camvid_unet.pt")) as path:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"the pretrained CamVid weights are missing ({error.filename}); "
            "run `python scripts/train_camvid_unet.py` to make them"
        ) from error
    widths = tuple(record["recipe"]["widths"])
    if model is None:
        model = UNet(3, 11, widths)
    model.load_state_dict(state)
    model.eval()
    return model, record
