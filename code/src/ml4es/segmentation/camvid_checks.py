"""Checkers for the exercises of the street-scene segmentation chapter."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ml4es.checks import CheckFailed, NotImplementedYet, as_float, as_tensor, call, checker, is_stub, is_text, shorten
from ml4es.segmentation import camvid_unet, metrics
from ml4es.segmentation.unet import DoubleConv

# --- Exercise 1: the U-Net block -----------------------------------------------------------------


@checker("Exercise 1 (the U-Net block)")
def check_double_conv(double_conv: Any) -> str:
    """Build ``double_conv(3, 16)`` and test its layers, output shape and gradients."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        block = call(double_conv, 3, 16, name="double_conv")
    if is_stub(block):
        raise NotImplementedYet
    if not isinstance(block, nn.Module):
        raise CheckFailed(f"`double_conv(3, 16)` should return an nn.Module (an nn.Sequential), not {type(block).__name__}.")
    convolutions = [layer for layer in block.modules() if isinstance(layer, nn.Conv2d)]
    if len(convolutions) != 2:
        raise CheckFailed(f"found {len(convolutions)} nn.Conv2d layer(s) in the block; expected two 3 x 3 convolutions.")
    for layer in convolutions:
        if layer.kernel_size != (3, 3):
            raise CheckFailed(f"a convolution has kernel size {layer.kernel_size}; expected 3 x 3.")
        # padding="same" pads a 3 x 3 kernel by 1 on every side, as padding=1 does.
        if layer.padding not in ((1, 1), "same"):
            raise CheckFailed(
                f"a convolution has padding {layer.padding}; with padding=1 a 3 x 3 convolution keeps the "
                "image size, so the skip connections line up."
            )
    channels = [(layer.in_channels, layer.out_channels) for layer in convolutions]
    if channels != [(3, 16), (16, 16)]:
        raise CheckFailed(f"the convolutions map channels {channels}; expected [(3, 16), (16, 16)].")

    norms = [layer for layer in block.modules() if isinstance(layer, nn.BatchNorm2d)]
    if len(norms) != 2:
        raise CheckFailed(
            f"found {len(norms)} nn.BatchNorm2d layer(s) in the block; expected two, one after each convolution. "
            "Each keeps statistics of its own input, so the second half needs a new one, not the first one again."
        )

    x = torch.rand(2, 3, 20, 26, requires_grad=True)
    block.train()
    order, output = _layer_order(block, x)
    expected_order = ["Conv2d", "BatchNorm2d", "ReLU"] * 2
    if [name for name in order if name in expected_order] != expected_order:
        hint = ""
        if "ReLU" not in order:
            hint = (
                " The checker sees only layers, so an activation applied as a function (F.relu) does not "
                "appear: use nn.ReLU modules, as the exercise asks."
            )
        raise CheckFailed(
            f"a batch passes the layers in the order {', '.join(order)}; expected each convolution to be "
            f"followed by batch normalisation and a ReLU: {', '.join(expected_order)}.{hint}"
        )
    values = as_tensor(output, "double_conv(3, 16)(x)", shape=(2, 16, 20, 26), dtype=torch.float32)
    if (values < 0).any():
        raise CheckFailed("the block's output has negative values: it should end with a ReLU.")
    if not isinstance(output, torch.Tensor) or not output.requires_grad:
        raise CheckFailed("the block's output carries no gradient: return the layers' result, not a detached copy.")
    output.sum().backward()
    if x.grad is None or not torch.isfinite(x.grad).all() or float(x.grad.abs().sum()) == 0:
        raise CheckFailed("no gradient flows back through the block to its input.")
    count = sum(parameter.numel() for parameter in block.parameters())
    reference = sum(parameter.numel() for parameter in DoubleConv(3, 16).parameters())
    note = "" if count == reference else f" (the reference, with bias=False before batch normalisation, has {reference})"
    return f"a 2 x 3 x 20 x 26 batch comes out as 2 x 16 x 20 x 26; {count} parameters{note}."


def _layer_order(block: nn.Module, x: torch.Tensor) -> tuple[list[str], Any]:
    """Run ``block`` on ``x``; return the names of its layers in the order they ran, and the output.

    Subclasses of nn.Conv2d, nn.BatchNorm2d and nn.ReLU are named after those. Hooks see a layer
    each time it runs, so a ReLU shared by both halves appears twice.
    """
    order: list[str] = []

    def record(module: nn.Module, inputs: Any, output: Any) -> None:
        named = [kind.__name__ for kind in (nn.Conv2d, nn.BatchNorm2d, nn.ReLU) if isinstance(module, kind)]
        order.append(named[0] if named else type(module).__name__)

    leaves = [layer for layer in block.modules() if not list(layer.children())]
    hooks = [layer.register_forward_hook(record) for layer in leaves]
    try:
        output = call(block, x, name="the block")
    finally:
        for hook in hooks:
            hook.remove()
    return order, output


# --- Exercise 2: IoU with an ignored label -------------------------------------------------------


def _iou_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Small class maps with their IoU worked out by hand (4 classes, 9 is ignored)."""
    prediction = torch.tensor([[0, 0, 1, 1], [2, 2, 1, 3], [0, 3, 3, 3]])
    target = torch.tensor([[0, 0, 1, 9], [2, 1, 1, 9], [9, 3, 3, 0]])
    # class 0: predicted {(0,0),(0,1),(2,0)}, true {(0,0),(0,1),(2,3)}, (2,0) is void -> I=2, U=3
    # class 1: predicted {(0,2),(0,3),(1,2)}, true {(0,2),(1,1),(1,2)}, (0,3) void -> I=2, U=3
    # class 2: predicted {(1,0),(1,1)}, true {(1,0)} -> I=1, U=2
    # class 3: predicted {(1,3),(2,1),(2,2),(2,3)}, true {(2,1),(2,2)}, (1,3) void -> I=2, U=3
    first = torch.tensor([2 / 3, 2 / 3, 1 / 2, 2 / 3], dtype=torch.float64)
    # a batch in which class 2 appears nowhere: its IoU is undefined (NaN)
    prediction_b = torch.tensor([[[0, 1], [3, 3]], [[1, 1], [0, 9]]]).clamp(max=3)
    target_b = torch.tensor([[[0, 1], [3, 0]], [[1, 9], [0, 3]]])
    second = torch.tensor([2 / 3, 2 / 2, math.nan, 2 / 3], dtype=torch.float64)
    return [(prediction, target, first), (prediction_b, target_b, second)]


@checker("Exercise 2 (IoU with an ignored label)")
def check_iou(iou_per_class: Any) -> str:
    """Test ``iou_per_class(prediction, target, num_classes, ignore_index)`` on hand-worked cases."""
    for k, (prediction, target, expected) in enumerate(_iou_cases()):
        answer = call(iou_per_class, prediction.clone(), target.clone(), 4, 9, name="iou_per_class")
        if is_stub(answer):
            raise NotImplementedYet
        if is_text(answer):
            raise CheckFailed(f"iou_per_class returned text ({shorten(repr(answer))}); expected a tensor of 4 numbers.")
        try:
            answer = torch.as_tensor(answer.detach().cpu() if isinstance(answer, torch.Tensor) else answer, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as error:
            raise CheckFailed(f"iou_per_class gave {type(answer).__name__} ({error}); expected a tensor of 4 numbers.") from error
        if answer.shape != (4,):
            raise CheckFailed(f"iou_per_class gave shape {tuple(answer.shape)}; expected one IoU per class, shape (4,).")
        absent = torch.isnan(expected)
        if absent.any() and not torch.isnan(answer[absent]).all():
            value = float(answer[absent][0])
            raise CheckFailed(
                f"class 2 appears in neither map, so its IoU is 0/0, undefined: return NaN for it (got {value:.3g}), "
                "so that the mean IoU can skip it with torch.nanmean."
            )
        if torch.isnan(answer[~absent]).any():
            raise CheckFailed("iou_per_class returned NaN for a class that is present.")
        if not torch.allclose(answer[~absent], expected[~absent], atol=1e-6):
            with_void = metrics.iou_per_class(metrics.confusion_matrix(prediction, target.clamp(max=3), 4))
            hint = ""
            if torch.allclose(answer[~absent], with_void[~absent], atol=1e-6, equal_nan=True):
                hint = " It matches the IoU with void pixels counted: leave out every pixel whose target is ignore_index."
            got = ", ".join(f"{v:.3f}" for v in answer.tolist())
            want = ", ".join(f"{v:.3f}" for v in expected.tolist())
            raise CheckFailed(f"on test case {k + 1} the IoU per class is [{got}]; expected [{want}].{hint}")
    return "IoU matches the hand-worked cases, void pixels left out and absent classes NaN."


# --- Exercise 4: a Dice loss ---------------------------------------------------------------------


def reference_dice_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int, eps: float = 1.0) -> torch.Tensor:
    """1 - mean over classes of the soft Dice, with void pixels left out (the exercise's solution)."""
    probability = torch.softmax(logits, dim=1)
    keep = (target != ignore_index).unsqueeze(1)
    one_hot = nn.functional.one_hot(target.clamp(max=logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2)
    probability, one_hot = probability * keep, one_hot * keep
    overlap = (probability * one_hot).sum(dim=(0, 2, 3))
    total = probability.sum(dim=(0, 2, 3)) + one_hot.sum(dim=(0, 2, 3))
    return 1 - ((2 * overlap + eps) / (total + eps)).mean()


@checker("Exercise 4 (a Dice loss)")
def check_dice_loss(dice_loss: Any) -> str:
    """Test ``dice_loss(logits, target, ignore_index)`` against the reference and its gradient."""
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 6, 5, generator=generator, dtype=torch.float64)
    target = torch.randint(0, 4, (2, 6, 5), generator=generator)
    target[0, :2] = 9
    expected = reference_dice_loss(logits, target, 9)

    trial = logits.clone().requires_grad_(True)
    answer = call(dice_loss, trial, target.clone(), 9, name="dice_loss")
    if is_stub(answer):
        raise NotImplementedYet
    value = as_float(answer, "dice_loss(logits, target, 9)")
    if not math.isclose(value, float(expected), rel_tol=1e-4, abs_tol=1e-6):
        with_void = reference_dice_loss(logits, target.clamp(max=3), 9)
        hint = ""
        if math.isclose(value, float(with_void), rel_tol=1e-4):
            hint = " It matches the loss with void pixels counted as class 3: mask them out of both the probabilities and the one-hot target."
        raise CheckFailed(f"dice_loss returned {value:.5f}; expected {float(expected):.5f}.{hint}")
    if not isinstance(answer, torch.Tensor) or answer.grad_fn is None:
        raise CheckFailed("dice_loss should return a tensor that keeps its graph, so that loss.backward() can train the network.")
    answer.backward()
    if trial.grad is None or not torch.isfinite(trial.grad).all():
        raise CheckFailed("the gradient of dice_loss with respect to the logits is missing or not finite.")

    perfect = 40.0 * nn.functional.one_hot(target.clamp(max=3), 4).permute(0, 3, 1, 2).double()
    near_zero = as_float(call(dice_loss, perfect, target.clone(), 9, name="dice_loss"), "dice_loss of a perfect prediction")
    if near_zero > 1e-3:
        raise CheckFailed(f"a confident, correct prediction gives a Dice loss of {near_zero:.3g}; it should be close to 0.")
    return f"loss {value:.4f} on the test batch, close to 0 for a perfect prediction, and differentiable."


# --- Exercise 3: class weights -------------------------------------------------------------------


@checker("Exercise 3 (class weights)")
def check_class_weights(median_frequency_weights: Any) -> str:
    """Test ``median_frequency_weights(labels, num_classes, ignore_index)`` on a lopsided label set."""
    generator = torch.Generator().manual_seed(2)
    # seven classes, so that the median frequency is one class's frequency
    shares = torch.tensor([0.45, 0.25, 0.12, 0.08, 0.05, 0.04, 0.01])
    labels = torch.multinomial(shares, 40 * 30 * 3, replacement=True, generator=generator).reshape(3, 40, 30)
    labels[:, :4] = 11
    expected = camvid_unet.class_weights(labels, 7, 11).double()
    answer = call(median_frequency_weights, labels.clone(), 7, 11, name="median_frequency_weights")
    if is_stub(answer):
        raise NotImplementedYet
    weights = as_tensor(answer, "median_frequency_weights(labels, 7, 11)", shape=(7,))
    if not torch.allclose(weights, expected, rtol=1e-4):
        counted = torch.bincount(labels.flatten(), minlength=12)[:7].double()
        hint = ""
        if torch.allclose(weights, 1 / (counted / counted.sum()), rtol=1e-4):
            hint = " These are inverse frequencies: divide the median frequency by each class's frequency."
        got = ", ".join(f"{v:.3f}" for v in weights.tolist())
        want = ", ".join(f"{v:.3f}" for v in expected.tolist())
        raise CheckFailed(f"the weights are [{got}]; expected [{want}].{hint}")
    return f"the rarest class is weighted {float(weights.max()):.1f} times, the commonest {float(weights.min()):.2f}."
