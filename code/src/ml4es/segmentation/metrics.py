"""Segmentation metrics from a confusion matrix: pixel accuracy, IoU, mean IoU and Dice.

Every metric takes integer class maps of the same shape. Pixels whose target equals
``ignore_index`` (CamVid's void label, 11) count in no metric.
"""

from __future__ import annotations

import numpy as np
import torch


def _tensor(value) -> torch.Tensor:
    """Return ``value`` as a tensor, copying NumPy arrays that torch cannot share (read-only or reversed)."""
    if isinstance(value, torch.Tensor):
        return value
    array = np.asarray(value)
    if not array.flags.writeable or any(stride < 0 for stride in array.strides):
        array = array.copy()
    return torch.as_tensor(array)


def _as_long(name: str, value) -> torch.Tensor:
    tensor = _tensor(value)
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        if tensor.dtype == torch.bool:
            return tensor.long()
        raise TypeError(f"{name} must hold integer class labels, got dtype {tensor.dtype}")
    return tensor.detach().long().cpu()


def _as_mask(name: str, value) -> torch.Tensor:
    """Return a binary mask as a boolean CPU tensor, without the 8-byte copy of ``_as_long``."""
    tensor = _tensor(value)
    if tensor.dtype == torch.bool:
        return tensor.detach().cpu()
    return _as_long(name, tensor).bool()


def confusion_matrix(
    prediction, target, num_classes: int, ignore_index: int | None = None
) -> torch.Tensor:
    """Return the ``(num_classes, num_classes)`` matrix of pixel counts, rows true, columns predicted.

    Pixels whose target is ``ignore_index`` are left out. A label outside ``0..num_classes-1``
    (other than ``ignore_index``) raises ``ValueError``.
    """
    prediction = _as_long("prediction", prediction)
    target = _as_long("target", target)
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction has shape {tuple(prediction.shape)} but target has shape "
            f"{tuple(target.shape)}; expected the same shape"
        )
    keep = torch.ones_like(target, dtype=torch.bool)
    if ignore_index is not None:
        keep = target != ignore_index
    prediction, target = prediction[keep], target[keep]
    for name, labels in (("prediction", prediction), ("target", target)):
        if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
            bad = labels[(labels < 0) | (labels >= num_classes)][0].item()
            raise ValueError(
                f"invalid label {bad} in {name}; expected labels 0 to {num_classes - 1}"
                + (f" or the ignored {ignore_index}" if ignore_index is not None else "")
            )
    counts = torch.bincount(target * num_classes + prediction, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


def pixel_accuracy(matrix: torch.Tensor) -> float:
    """Return the fraction of counted pixels whose class is right."""
    total = matrix.sum()
    if total == 0:
        raise ValueError("the confusion matrix counts no pixels, so accuracy is undefined")
    return float(matrix.diagonal().sum() / total)


def iou_per_class(matrix: torch.Tensor) -> torch.Tensor:
    """Return each class's intersection over union; NaN for a class absent from both maps."""
    matrix = matrix.double()
    intersection = matrix.diagonal()
    union = matrix.sum(0) + matrix.sum(1) - intersection
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.nan)


def mean_iou(matrix: torch.Tensor) -> float:
    """Return the mean IoU over the classes present in the prediction or the target."""
    return float(torch.nanmean(iou_per_class(matrix)))


def dice_score(prediction, target) -> float:
    """Return the Dice coefficient 2|A∩B| / (|A|+|B|) of two binary masks (1.0 if both are empty)."""
    prediction = _as_mask("prediction", prediction)
    target = _as_mask("target", target)
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction has shape {tuple(prediction.shape)} but target has shape "
            f"{tuple(target.shape)}; expected the same shape"
        )
    # count_nonzero is several times faster than sum() on boolean tensors of millions of pixels.
    total = int(torch.count_nonzero(prediction)) + int(torch.count_nonzero(target))
    if total == 0:
        return 1.0
    return 2 * int(torch.count_nonzero(prediction & target)) / total


def binary_iou(prediction, target) -> float:
    """Return the IoU |A∩B| / |A∪B| of two binary masks (1.0 if both are empty)."""
    dice = dice_score(prediction, target)
    return dice / (2 - dice)
