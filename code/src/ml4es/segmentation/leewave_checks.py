"""Checkers for the exercises of the chapter on trapped lee waves."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ml4es.checks import (
    CheckFailed,
    NotImplementedYet,
    as_float,
    as_tensor,
    call,
    check_finite_number,
    checker,
    is_stub,
    relative_error,
)
from ml4es.segmentation import leewaves, metrics
from ml4es.segmentation.unet import Up as ReferenceUp

# Two-layer atmospheres (Scorer parameter below and above in 1/m, interface height in m), all
# with a trapped mode, and none with the chapter's own numbers.
TRAPPING_PROBES = ((1.0e-3, 4.0e-4, 3000.0), (1.2e-3, 3.0e-4, 2500.0), (8.0e-4, 2.0e-4, 4000.0))


def _number(value: Any, name: str) -> float:
    """Convert a scalar to a float like ``as_float``, but let NaN and infinite values through."""
    try:
        array = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=float)
    except (TypeError, ValueError):
        array = None
    if array is not None and array.size == 1 and not np.isfinite(array).all():
        return float(array.reshape(()))
    return as_float(value, name)


# --- Exercise 1: the wavelength of the two-layer model ---------------------------------------------


@checker("Exercise 1 (trapped wavelength)")
def check_trapped_wavelength(trapped_wavelength: Any) -> str:
    """Test ``trapped_wavelength(l_lower, l_upper, depth)`` against the two-layer dispersion relation."""
    if is_stub(trapped_wavelength):
        raise NotImplementedYet
    lines = []
    for l_lower, l_upper, depth in TRAPPING_PROBES:
        label = f"trapped_wavelength({l_lower:g}, {l_upper:g}, {depth:g})"
        answer = as_float(call(trapped_wavelength, l_lower, l_upper, depth, name="trapped_wavelength"), label)
        check_finite_number(answer, label)
        k = leewaves.trapped_wavenumber(l_lower, l_upper, depth)
        expected = 2 * np.pi / k
        if math.isclose(answer, k, rel_tol=1e-3):
            raise CheckFailed(f"{label} returned the wavenumber k = {answer:.4g} rad/m; return the wavelength 2π/k in metres.")
        if math.isclose(answer, 1 / k, rel_tol=1e-3):
            raise CheckFailed(f"{label} returned 1/k = {answer:.4g}; k is in radians per metre, so the wavelength is 2π/k.")
        if math.isclose(answer, expected / 1000, rel_tol=1e-3):
            raise CheckFailed(f"{label} returned {answer:.4g}, the wavelength in km; return it in metres.")
        if relative_error(answer, expected) > 1e-3:
            # Higher modes have shorter wavelengths than the gravest one.
            hint = ""
            if answer < expected:
                hint = " It is shorter than the gravest mode's: search k between the bounds given, where m H lies between π/2 and π."
            raise CheckFailed(
                f"{label} returned {answer:.5g} m, expected {expected:.5g} m, where k solves "
                f"m cos(mH) + n sin(mH) = 0.{hint}"
            )
        lines.append(f"{expected / 1000:.1f} km")
    return f"the three probe atmospheres trap waves of {', '.join(lines)}."


# --- Exercise 2: Dice score and IoU of binary masks -----------------------------------------------


def _probe_masks() -> tuple[np.ndarray, np.ndarray]:
    """Three frames of predicted and true masks: a partial overlap, an empty pair, a miss."""
    rng = np.random.default_rng(5)
    truth = np.zeros((3, 40, 48), dtype=bool)
    truth[0, 8:30, 10:34] = True
    truth[2, 5:12, 5:40] = True
    predicted = truth.copy()
    predicted[0, 20:36, 26:44] = True  # false alarms
    predicted[0, 8:14, 10:20] = False  # misses
    predicted[0] ^= rng.random(truth.shape[1:]) < 0.02
    predicted[2] = False  # a frame whose waves are all missed
    return predicted, truth


@checker("Exercise 2 (Dice score and IoU)")
def check_dice_iou(dice_score: Any, binary_iou: Any) -> str:
    """Test ``dice_score(predicted, truth)`` and ``binary_iou(predicted, truth)`` on binary masks."""
    if is_stub(dice_score) or is_stub(binary_iou):
        raise NotImplementedYet
    predicted, truth = _probe_masks()
    expected_dice = metrics.dice_score(predicted, truth)
    expected_iou = metrics.binary_iou(predicted, truth)

    dice = as_float(call(dice_score, predicted.copy(), truth.copy(), name="dice_score"), "dice_score(predicted, truth)")
    per_frame = np.mean([metrics.dice_score(p, t) for p, t in zip(predicted, truth)])
    if math.isclose(dice, expected_iou, rel_tol=1e-6):
        raise CheckFailed(f"dice_score returned {dice:.4f}, the IoU; the Dice score is 2|P∩T|/(|P|+|T|) = {expected_dice:.4f}.")
    if math.isclose(dice, per_frame, rel_tol=1e-6):
        raise CheckFailed("dice_score averages a Dice per frame; pool the counts over all frames, then take one ratio.")
    if not math.isclose(dice, expected_dice, rel_tol=1e-6):
        raise CheckFailed(f"dice_score returned {dice:.4f} on the probe masks, expected 2|P∩T|/(|P|+|T|) = {expected_dice:.4f}.")

    iou = as_float(call(binary_iou, predicted.copy(), truth.copy(), name="binary_iou"), "binary_iou(predicted, truth)")
    if math.isclose(iou, expected_dice, rel_tol=1e-6):
        raise CheckFailed(f"binary_iou returned {iou:.4f}, the Dice score; the IoU is |P∩T|/|P∪T| = {expected_iou:.4f}.")
    if not math.isclose(iou, expected_iou, rel_tol=1e-6):
        raise CheckFailed(f"binary_iou returned {iou:.4f} on the probe masks, expected |P∩T|/|P∪T| = {expected_iou:.4f}.")

    empty = np.zeros((2, 4, 4), dtype=bool)
    for name, function in (("dice_score", dice_score), ("binary_iou", binary_iou)):
        with np.errstate(invalid="ignore", divide="ignore"):
            answer = call(function, empty, empty.copy(), name=name)
        value = _number(answer, f"{name}(empty, empty)")
        if math.isnan(value):
            raise CheckFailed(f"{name} of two empty masks returned nan (0/0); two empty masks agree, so return 1.0.")
        if value != 1.0:
            raise CheckFailed(f"{name} of two empty masks returned {value}; two empty masks agree, so return 1.0.")
    as_integers = as_float(call(dice_score, predicted.astype(np.uint8), truth.astype(np.int64), name="dice_score"),
                           "dice_score on 0/1 integer masks")
    if not math.isclose(as_integers, expected_dice, rel_tol=1e-6):
        raise CheckFailed("dice_score gives a different answer for 0/1 integer masks than for boolean ones: convert both with .astype(bool).")
    return f"Dice {dice:.3f} and IoU {iou:.3f} on the probe masks, and J = D / (2 - D) holds: {expected_dice / (2 - expected_dice):.3f}."


# --- Exercise 3: the decoder step of the U-Net ------------------------------------------------------


# The checker's block: in_channels, skip_channels and out_channels all differ, so that a block
# that mixes two of them up has layers of the wrong size.
PROBE_UP = (12, 6, 8)


def _layers(module: nn.Module, kinds: tuple[type, ...]) -> list[nn.Module]:
    return [layer for layer in module.modules() if isinstance(layer, kinds)]


def _reference_up(block: nn.Module, transposed: nn.ConvTranspose2d, convolutions: list, norms: list) -> ReferenceUp:
    """The course's decoder step with the weights of the reader's block, in training mode."""
    reference = ReferenceUp(*PROBE_UP).train()
    with torch.no_grad():
        reference.up.weight.copy_(transposed.weight)
        if transposed.bias is not None:
            reference.up.bias.copy_(transposed.bias)
        else:
            reference.up.bias.zero_()
        for mine, theirs in zip(_layers(reference.conv, (nn.Conv2d,)), convolutions):
            mine.weight.copy_(theirs.weight)
        for mine, theirs in zip(_layers(reference.conv, (nn.BatchNorm2d,)), norms):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    return reference


@checker("Exercise 3 (decoder step)")
def check_up_block(up_class: Any) -> str:
    """Build ``up_class(12, 6, 8)`` and compare it with the course's decoder step, weight for weight."""
    in_channels, skip_channels, out_channels = PROBE_UP
    label = f"Up({in_channels}, {skip_channels}, {out_channels})"
    if isinstance(up_class, nn.Module):
        raise CheckFailed(f"pass the class `Up` itself, not a block built from it: the checker builds {label}.")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        block = call(up_class, *PROBE_UP, name="Up")
    if not isinstance(block, nn.Module):
        raise CheckFailed(f"`{label}` should be an nn.Module, but it is {type(block).__name__}.")
    transposed = _layers(block, (nn.ConvTranspose2d,))
    if len(transposed) != 1:
        raise CheckFailed(f"the block has {len(transposed)} nn.ConvTranspose2d layers; it needs one, to double the size.")
    (transposed,) = transposed
    if (transposed.in_channels, transposed.out_channels) != (in_channels, out_channels):
        raise CheckFailed(
            f"the transposed convolution maps {transposed.in_channels} -> {transposed.out_channels} channels; "
            f"{label} should map in_channels ({in_channels}) -> out_channels ({out_channels})."
        )
    if tuple(transposed.kernel_size) != (2, 2) or tuple(transposed.stride) != (2, 2):
        raise CheckFailed(
            f"the transposed convolution has kernel {tuple(transposed.kernel_size)} and stride {tuple(transposed.stride)}; "
            "use kernel 2 and stride 2, which double the height and width."
        )
    convolutions = _layers(block, (nn.Conv2d,))
    norms = _layers(block, (nn.BatchNorm2d,))
    if len(convolutions) != 2 or len(norms) != 2:
        raise CheckFailed(
            f"after the skip connection the block has {len(convolutions)} nn.Conv2d and {len(norms)} nn.BatchNorm2d layers; "
            "use a DoubleConv (two of each)."
        )
    if convolutions[0].in_channels != out_channels + skip_channels:
        raise CheckFailed(
            f"the first convolution after the skip connection takes {convolutions[0].in_channels} channels; the "
            f"concatenation has out_channels + skip_channels = {out_channels} + {skip_channels} = "
            f"{out_channels + skip_channels}."
        )

    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, in_channels, 5, 6, generator=generator)
    skip = torch.randn(2, skip_channels, 11, 12, generator=generator).requires_grad_(True)
    block.train()
    raw_output = call(block, x, skip, name="Up.forward")
    if isinstance(raw_output, torch.Tensor) and tuple(raw_output.shape[-2:]) == (10, 12):
        raise CheckFailed(
            "the output is 10 x 12, but the skip connection is 11 x 12: pad the upsampled x to the skip's size "
            "before concatenating (the original U-Net crops the skip instead, which loses its border)."
        )
    output = as_tensor(raw_output, f"{label}(x, skip)", shape=(2, out_channels, 11, 12), dtype=torch.float32)

    reference = _reference_up(block, transposed, convolutions, norms)
    with torch.no_grad():
        expected = reference(x, skip)
        upsampled = reference.up(x)
        upsampled = nn.functional.pad(upsampled, (0, 0, 0, 1))
        swapped = reference.conv(torch.cat([upsampled, skip], dim=1))
    if torch.allclose(output, swapped, atol=1e-4) and not torch.allclose(output, expected, atol=1e-4):
        raise CheckFailed("the channels are concatenated in the other order: use torch.cat([skip, x], dim=1).")
    if not torch.allclose(output, expected, atol=1e-4):
        raise CheckFailed(
            "with the same weights, the output differs from upsample -> pad -> cat([skip, x]) -> DoubleConv: check "
            "the padding (the odd row goes at the end, as nn.functional.pad(x, (0, 0, 0, 1)) puts it) and the order "
            "of the layers."
        )
    if not isinstance(raw_output, torch.Tensor) or not raw_output.requires_grad:
        raise CheckFailed("the block's output carries no gradient: return the tensor that the layers compute, not a copy.")
    raw_output.sum().backward()
    if skip.grad is None or float(skip.grad.abs().sum()) == 0:
        raise CheckFailed("no gradient reaches the skip connection: concatenate `skip` with the upsampled x.")
    if transposed.weight.grad is None or float(transposed.weight.grad.abs().sum()) == 0:
        raise CheckFailed("no gradient reaches the transposed convolution: check that forward() uses it.")
    return "5 x 6 features and an 11 x 12 skip connection give an 11 x 12 output, as in the course's U-Net."


# --- Exercise 4: the probability threshold ---------------------------------------------------------


# The thresholds the exercise gives as `thresholds`.
SWEPT_THRESHOLDS = np.round(np.linspace(0.1, 0.9, 9), 2)


def _pooled_dice(probability: np.ndarray, truth: np.ndarray, threshold: float) -> float:
    return metrics.dice_score(probability > threshold, truth)


@checker("Exercise 4 (probability threshold)")
def check_threshold_choice(
    validation_dice: Any,
    best_threshold: Any,
    test_dice: Any,
    validation_probability: np.ndarray,
    validation_mask: np.ndarray,
    test_probability: np.ndarray,
    test_mask: np.ndarray,
) -> str:
    """Test a threshold sweep on the validation days, the chosen threshold and its test Dice."""
    if is_stub(validation_dice) or is_stub(best_threshold) or is_stub(test_dice):
        raise NotImplementedYet
    if not isinstance(validation_dice, Mapping) or not validation_dice:
        raise CheckFailed(
            f"`validation_dice` should be a non-empty dict {{threshold: Dice}}, but it is {type(validation_dice).__name__}."
        )
    validation_mask = np.asarray(validation_mask).astype(bool)
    test_mask = np.asarray(test_mask).astype(bool)
    for threshold, value in validation_dice.items():
        threshold = as_float(threshold, f"threshold {threshold!r} in validation_dice")
        value = as_float(value, f"validation_dice[{threshold:g}]")
        expected = _pooled_dice(validation_probability, validation_mask, threshold)
        if not math.isclose(value, expected, abs_tol=1e-6):
            on_test = _pooled_dice(test_probability, test_mask, threshold)
            if math.isclose(value, on_test, abs_tol=1e-6):
                raise CheckFailed(
                    f"validation_dice[{threshold:g}] is the Dice on the test days; choose the threshold on the validation days."
                )
            per_frame = np.mean([
                metrics.dice_score(frame > threshold, mask) for frame, mask in zip(validation_probability, validation_mask)
            ])
            if math.isclose(value, per_frame, abs_tol=1e-6):
                raise CheckFailed(
                    f"validation_dice[{threshold:g}] is the mean of one Dice per frame; pool the counts over all "
                    "validation frames, then take one ratio."
                )
            raise CheckFailed(
                f"validation_dice[{threshold:g}] is {value:.6f}, expected {expected:.6f}: the Dice of "
                f"probability > {threshold:g} against the masks, pooled over all validation frames."
            )
    swept = [as_float(threshold, f"threshold {threshold!r} in validation_dice") for threshold in validation_dice]
    missing = [float(t) for t in SWEPT_THRESHOLDS if not any(math.isclose(t, s, abs_tol=1e-9) for s in swept)]
    if missing:
        raise CheckFailed(
            f"`validation_dice` has no entry for the thresholds {missing}; sweep every value in `thresholds`, "
            f"{', '.join(f'{t:g}' for t in SWEPT_THRESHOLDS)}."
        )
    chosen = as_float(best_threshold, "best_threshold")
    best = max(validation_dice, key=lambda key: float(validation_dice[key]))
    if not math.isclose(chosen, float(best), abs_tol=1e-9):
        raise CheckFailed(
            f"best_threshold is {chosen:g}, but the highest validation Dice in your sweep is at {float(best):g}."
        )
    value = as_float(test_dice, "test_dice")
    expected_test = _pooled_dice(test_probability, test_mask, chosen)
    if not math.isclose(value, expected_test, abs_tol=1e-6):
        raise CheckFailed(
            f"test_dice is {value:.4f}, expected {expected_test:.4f}: the Dice of probability > {chosen:g} on the test days."
        )
    at_half = _pooled_dice(test_probability, test_mask, 0.5)
    return f"the validation days pick {chosen:g}, which gives test Dice {value:.3f} (0.5 gives {at_half:.3f})."


# --- Exercise 5: wavelength and orientation from a 2-D FFT ------------------------------------------


def _plane_wave(shape: tuple[int, int], cycles: tuple[int, int], dx: float, seed: int) -> tuple[np.ndarray, float, float]:
    """A plane wave with whole cycles across the domain, an offset and noise; its wavelength and orientation."""
    ny, nx = shape
    y, x = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    cycles_y, cycles_x = cycles
    phase = 2 * np.pi * (cycles_x * x / nx + cycles_y * y / ny)
    rng = np.random.default_rng(seed)
    field = 0.8 + np.cos(phase + 0.3) + 0.2 * rng.standard_normal(shape)
    kx, ky = cycles_x / (nx * dx), cycles_y / (ny * dx)
    return field, 1 / np.hypot(kx, ky), float(np.rad2deg(np.arctan2(ky, kx)) % 180)


def _angle_difference(a: float, b: float) -> float:
    """Smallest difference between two orientations, in degrees, modulo 180."""
    return abs((a - b + 90.0) % 180.0 - 90.0)


@checker("Exercise 5 (FFT wavelength)")
def check_fft_wavelength(fft_wavelength: Any) -> str:
    """Test ``fft_wavelength(field, dx)`` on noisy plane waves of known wavelength and orientation."""
    if is_stub(fft_wavelength):
        raise NotImplementedYet
    probes = (((96, 128), (5, 8), 2000.0), ((128, 128), (-6, 9), 1500.0), ((80, 120), (7, 0), 2500.0))
    found = []
    for seed, (shape, cycles, dx) in enumerate(probes):
        field, wavelength, orientation = _plane_wave(shape, cycles, dx, seed)
        label = f"fft_wavelength(field of shape {shape}, dx={dx:g})"
        answer = call(fft_wavelength, field.copy(), dx, name="fft_wavelength")
        if isinstance(answer, (np.ndarray, torch.Tensor)) and answer.shape == (2,):
            answer = list(answer)
        if not isinstance(answer, (tuple, list)) or len(answer) != 2:
            raise CheckFailed(f"{label} should return two numbers (wavelength, orientation), but it returned {answer!r:.80}.")
        estimate = _number(answer[0], "the wavelength")
        angle = as_float(answer[1], "the orientation")
        if math.isnan(estimate):
            raise CheckFailed(f"{label} returned a wavelength of nan m, expected {wavelength:.5g} m.")
        if math.isinf(estimate) or estimate > 10 * wavelength:
            raise CheckFailed(
                f"{label} returned a wavelength of {estimate:.4g} m, far longer than the wave's {wavelength:.4g} m: "
                "subtract the mean first, or the zero-frequency peak wins."
            )
        if relative_error(estimate * dx, wavelength) < 0.02 or relative_error(estimate, wavelength * dx) < 0.02:
            raise CheckFailed(f"{label} returned {estimate:.4g}, off by a factor dx: pass d=dx to np.fft.fftfreq.")
        if relative_error(estimate * 1000, wavelength) < 0.02:
            raise CheckFailed(f"{label} returned {estimate:.4g}, the wavelength in km; return it in metres.")
        if relative_error(estimate / (2 * np.pi), wavelength) < 0.02:
            raise CheckFailed(f"{label} returned {estimate:.4g}: np.fft.fftfreq gives cycles per metre, so the wavelength is 1/|f|, not 2π/|f|.")
        if relative_error(estimate, wavelength) > 0.02:
            raise CheckFailed(f"{label} returned a wavelength of {estimate:.5g} m, expected {wavelength:.5g} m (within 2%).")
        if 0 < abs(angle) <= np.pi + 1e-9 and _angle_difference(np.rad2deg(angle), orientation) < 2.0 and orientation > 5:
            raise CheckFailed(f"{label} returned the orientation {angle:.4g}, in radians; return degrees.")
        if _angle_difference(angle, 90.0 - orientation) < 2.0 and _angle_difference(angle, orientation) >= 2.0:
            raise CheckFailed(
                f"{label} returned the orientation {angle:.4g}°, expected {orientation:.4g}°: rows are y (axis 0) and "
                "columns x (axis 1), so the angle is arctan2(f_y, f_x)."
            )
        if _angle_difference(angle, orientation) >= 2.0:
            raise CheckFailed(f"{label} returned the orientation {angle:.4g}°, expected {orientation:.4g}° (modulo 180).")
        if not 0 <= angle < 180:
            raise CheckFailed(
                f"{label} returned the orientation {angle:.4g}°, the right direction but outside 0° to 180°: "
                f"take it modulo 180, which gives {angle % 180:.4g}°."
            )
        found.append(f"{estimate / 1000:.1f} km at {angle:.0f}°")
    return "the three probe waves come out as " + ", ".join(found) + "."
