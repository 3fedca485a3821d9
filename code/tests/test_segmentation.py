"""Tests of the segmentation building blocks: metrics, the U-Net, lee-wave physics and loaders."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from ml4es import data
from ml4es.segmentation import datasets, leewaves, metrics
from ml4es.segmentation.unet import UNet


# Metrics against cases worked by hand.


def test_confusion_matrix_counts_by_hand():
    target = torch.tensor([[0, 0, 1], [1, 2, 2]])
    prediction = torch.tensor([[0, 1, 1], [1, 2, 0]])
    matrix = metrics.confusion_matrix(prediction, target, num_classes=3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics.pixel_accuracy(matrix) == pytest.approx(4 / 6)
    # IoU: class 0 1/(2+2-1), class 1 2/(3+2-2), class 2 1/(1+2-1).
    assert metrics.iou_per_class(matrix).tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert metrics.mean_iou(matrix) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_ignored_pixels_count_nowhere():
    target = np.array([0, 11, 1, 11])
    prediction = np.array([0, 1, 1, 5])  # predictions at void pixels may be anything
    matrix = metrics.confusion_matrix(prediction, target, num_classes=2, ignore_index=11)
    assert matrix.tolist() == [[1, 0], [0, 1]]
    assert metrics.pixel_accuracy(matrix) == 1.0


def test_absent_class_is_left_out_of_mean_iou():
    matrix = metrics.confusion_matrix([0, 0, 1], [0, 0, 1], num_classes=3)
    assert torch.isnan(metrics.iou_per_class(matrix)[2])
    assert metrics.mean_iou(matrix) == 1.0


@pytest.mark.parametrize(
    ("prediction", "target", "message"),
    [
        ([0, 1], [0, 1, 1], "expected the same shape"),
        ([0, 3], [0, 1], "invalid label 3 in prediction"),
        ([0.0, 1.0], [0, 1], "integer class labels"),
    ],
)
def test_confusion_matrix_rejects_bad_input(prediction, target, message):
    with pytest.raises((ValueError, TypeError), match=message):
        metrics.confusion_matrix(np.array(prediction), np.array(target), num_classes=2)


def test_dice_and_iou_of_binary_masks():
    a = np.array([1, 1, 0, 0], dtype=bool)
    b = np.array([1, 0, 1, 0], dtype=bool)
    assert metrics.dice_score(a, b) == pytest.approx(0.5)
    assert metrics.binary_iou(a, b) == pytest.approx(1 / 3)
    assert metrics.dice_score(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


@pytest.mark.filterwarnings("error")
def test_metrics_accept_reversed_and_read_only_arrays():
    a = np.array([[1, 1, 0, 0]], dtype=bool)
    b = np.array([[0, 0, 1, 1]], dtype=bool)
    assert metrics.dice_score(a, b[:, ::-1]) == 1.0
    assert metrics.binary_iou(np.broadcast_to(a, (3, 4)), np.broadcast_to(a, (3, 4))) == 1.0
    labels = np.array([[0, 1, 2]])
    assert metrics.confusion_matrix(labels[:, ::-1], labels[:, ::-1], num_classes=3).trace() == 3


# The U-Net.


@pytest.mark.parametrize("size", [(64, 64), (45, 61)])
def test_unet_output_matches_input_size(size):
    torch.manual_seed(0)
    model = UNet(in_channels=3, num_classes=11, widths=(4, 8, 16))
    scores = model(torch.rand(2, 3, *size))
    assert scores.shape == (2, 11, *size)


def test_unet_rejects_unbatched_input():
    with pytest.raises(ValueError, match="N x C x H x W"):
        UNet(1, 2, widths=(4, 8))(torch.rand(1, 32, 32))


# Lee-wave physics.


def test_trapped_wavenumber_solves_two_layer_relation():
    l_lower, l_upper, depth = 1e-3, 4e-4, 3000.0
    k = leewaves.trapped_wavenumber(l_lower, l_upper, depth)
    m, n = np.sqrt(l_lower**2 - k**2), np.sqrt(k**2 - l_upper**2)
    assert l_upper < k < l_lower
    assert m * np.cos(m * depth) + n * np.sin(m * depth) == pytest.approx(0.0, abs=1e-12)
    # The gravest mode: m H between pi/2 and pi.
    assert np.pi / 2 < m * depth < np.pi


def test_no_trapping_for_weak_contrast():
    with pytest.raises(ValueError, match="no trapped wave"):
        leewaves.trapped_wavenumber(1e-3, 9.9e-4, 3000.0)


def test_wavelength_and_orientation_recovered_on_synthetic_fields():
    for seed in range(8):
        field = leewaves.synthetic_field(np.random.default_rng(seed), n=192)
        wavelength, orientation = leewaves.dominant_wave(field.w, field.mask, field.dx)
        assert wavelength == pytest.approx(field.wavelength, rel=0.10)
        difference = (orientation - field.direction + 90.0) % 180.0 - 90.0
        assert abs(difference) < 10.0


def test_band_pass_keeps_only_the_band():
    dx, n = 2000.0, 128
    x = np.arange(n) * dx
    inside = np.sin(2 * np.pi * x / (n * dx / 16))  # 16 km waves
    outside = np.sin(2 * np.pi * x / (n * dx / 2))  # 128 km waves
    field = np.tile(inside + outside, (n, 1))
    filtered = leewaves.band_pass(field, dx, shortest=5e3, longest=35e3)
    np.testing.assert_allclose(filtered, np.tile(inside, (n, 1)), atol=1e-9)


def test_dominant_wave_rejects_empty_mask():
    with pytest.raises(ValueError, match="mask is empty"):
        leewaves.dominant_wave(np.zeros((64, 64)), np.zeros((64, 64), bool))


# Loaders, through the local mirror.


def test_split_by_day_keeps_days_apart():
    times = np.array(["2021-01-01T00", "2021-01-01T04", "2021-01-02T00", "2021-01-03T08"],
                     dtype="datetime64[ns]")
    split = datasets.split_by_day(times, validation_days=[2], test_days=[3])
    assert split["train"].tolist() == [0, 1]
    assert split["validation"].tolist() == [2]
    assert split["test"].tolist() == [3]
    with pytest.raises(ValueError, match=r"day\(s\) \[2\]"):
        datasets.split_by_day(times, [2], [2, 3])


def test_load_leewaves_gives_fields_and_masks(mirrored_data):
    ds = datasets.load_leewaves(days=[1], progress=False)
    assert ds["w"].shape == (6, 512, 512)
    assert ds["w"].attrs["units"] == "m s-1"
    assert set(np.unique(ds["mask"].values)) <= {0, 1}
    assert ds["x"].values[1] - ds["x"].values[0] == 2000.0
    # Hand-drawn waves sit where the vertical motion is strong, so the arrays are aligned.
    w, mask = np.abs(ds["w"].values), ds["mask"].values.astype(bool)
    assert w[mask].mean() > 2 * w.mean()


def test_load_leewaves_rejects_unknown_day(mirrored_data):
    with pytest.raises(ValueError, match=r"day\(s\) \[25\]"):
        datasets.load_leewaves(days=[25], progress=False)


def test_load_camvid_validation_frames(mirrored_data):
    val = datasets.load_camvid("val", size=(120, 90), progress=False)
    assert val.images.shape == (101, 3, 90, 120)
    assert val.labels.shape == (101, 90, 120)
    assert val.images.min() >= 0.0
    assert val.images.max() <= 1.0
    assert set(val.labels.unique().tolist()) <= set(range(12))
    assert len(val.classes) == 11
    assert val.ignore_index == 11


def test_load_camvid_rejects_unknown_split():
    with pytest.raises(ValueError, match="unknown CamVid split 'test'"):
        datasets.load_camvid("test")


def test_load_camvid_refuses_corrupt_mirror_file(data_cache, data_mirror, tmp_path, monkeypatch):
    bad_mirror = tmp_path / "mirror"
    listing = data.mirror_path(data.DATASETS["camvid"].url("val.txt"), data_mirror)
    copy = data.mirror_path(data.DATASETS["camvid"].url("val.txt"), bad_mirror)
    copy.parent.mkdir(parents=True)
    shutil.copyfile(listing, copy)
    with copy.open("a") as handle:
        handle.write("tampered\n")
    monkeypatch.setenv("ML4ES_DATA_MIRROR", str(bad_mirror))
    with pytest.raises(data.DataIntegrityError):
        datasets.load_camvid("val", progress=False)
