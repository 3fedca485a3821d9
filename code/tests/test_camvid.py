"""Tests of the street-scene chapter's code: training pieces, shipped weights, plots and checkers."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest
import torch
from torch import nn

from ml4es.segmentation import camvid_checks, camvid_plots, camvid_unet, metrics
from ml4es.segmentation.unet import DoubleConv, UNet


def test_class_weights_favour_rare_classes_and_ignore_void():
    labels = torch.tensor([0] * 6 + [1] * 3 + [2] * 1 + [11] * 50)
    weights = camvid_unet.class_weights(labels, 3, 11)
    # frequencies 0.6, 0.3, 0.1; the median is 0.3
    assert weights.tolist() == pytest.approx([0.5, 1.0, 3.0])


def test_class_weights_reject_a_missing_class():
    with pytest.raises(ValueError, match=r"classes \[2\] never occur"):
        camvid_unet.class_weights(torch.tensor([0, 1, 1]), 3, 11)


def test_augment_crops_flips_and_keeps_labels_aligned():
    # The label of each pixel is its column number, so a crop or flip shows in the labels.
    images = torch.linspace(0, 1, 40).repeat(2, 3, 30, 1)
    labels = torch.arange(40).repeat(2, 30, 1)
    generator = torch.Generator().manual_seed(0)
    out, out_labels = camvid_unet.augment(images, labels, (16, 12), generator)
    assert out.shape == (2, 3, 12, 16)
    assert out_labels.shape == (2, 12, 16)
    assert out.min() >= 0
    assert out.max() <= 1
    for row in out_labels[:, 0]:
        steps = set(torch.diff(row).tolist())
        assert steps in ({1}, {-1})  # a contiguous run of columns, maybe mirrored


def test_augment_rejects_crop_larger_than_images():
    with pytest.raises(ValueError, match="larger than the 20 x 10 images"):
        camvid_unet.augment(torch.rand(1, 3, 10, 20), torch.zeros(1, 10, 20, dtype=torch.long), (24, 8), torch.Generator())


def test_predict_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, H, W\)"):
        camvid_unet.predict(UNet(3, 11, (4, 8)), torch.rand(3, 20, 20))


class FixedScores(nn.Module):
    """A stand-in network whose class probabilities are the same at every pixel."""

    def __init__(self, probabilities):
        super().__init__()
        self.register_buffer("logits", torch.log(torch.tensor(probabilities)).view(1, -1, 1, 1))

    def forward(self, images):
        return self.logits.expand(len(images), -1, *images.shape[2:])


def test_predict_undoes_the_class_weights():
    images = torch.rand(2, 3, 4, 5)
    # Trained with weights (1, 4), the network gives 0.3 for class 0 and 0.7 for class 1; without
    # the weights the odds are 0.3 : 0.7 / 4, so class 0 is the more probable.
    model = FixedScores([0.3, 0.7])
    assert (camvid_unet.predict(model, images) == 1).all()
    assert (camvid_unet.predict(model, images, class_weights=torch.tensor([1.0, 4.0])) == 0).all()
    assert (camvid_unet.predict(model, images, class_weights=torch.tensor([1.0, 2.0])) == 1).all()


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0, -2.0], r"positive and finite; got \[\(1, -2.0\)\]"),
        ([1.0, float("inf")], r"got \[\(1, inf\)\]"),
        ([[1.0, 2.0]], r"1-D tensor .* got shape \(1, 2\)"),
        ([1.0, 2.0, 3.0], "3 class weights"),
    ],
)
def test_predict_rejects_bad_class_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        camvid_unet.predict(FixedScores([0.3, 0.7]), torch.rand(1, 3, 4, 4), class_weights=torch.tensor(weights))


def test_training_lowers_the_loss_on_a_tiny_set():
    from ml4es.segmentation.datasets import CAMVID_CLASSES, CAMVID_COLOURS, SegmentationSet

    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 11, (4, 1, 1), generator=generator).expand(4, 24, 32).clone()
    images = (labels.unsqueeze(1).float() / 10).expand(4, 3, 24, 32).clone()
    tiny = SegmentationSet(images, labels, tuple("abcd"), CAMVID_CLASSES[:11], CAMVID_COLOURS, 11)
    labels[0, :8] = torch.arange(11).repeat_interleave(8 * 32 // 11 + 1)[: 8 * 32].reshape(8, 32)
    recipe = camvid_unet.CamVidRecipe(widths=(4, 8), crop=(32, 24), batch=4, epochs=30, learning_rate=1e-2)
    _, history = camvid_unet.train(tiny, recipe=recipe, progress=False)
    assert np.mean(history["loss"][-5:]) < 0.85 * np.mean(history["loss"][:5])


def test_shipped_weights_load_with_their_record():
    record = json.loads(resources.files("ml4es").joinpath("weights", "camvid_unet.json").read_text())
    for key in ("command", "machine", "train_seconds", "recipe", "best_epoch", "class_weights", "validation",
                "validation_class_weights_undone", "history"):
        assert key in record
    model, loaded = camvid_unet.load_pretrained()
    assert loaded == record
    assert isinstance(model, UNet)
    assert model.widths == tuple(record["recipe"]["widths"])
    size = resources.files("ml4es").joinpath("weights", "camvid_unet.pt").stat().st_size
    assert size < 10e6


@pytest.mark.slow
def test_shipped_weights_reach_the_recorded_scores(mirrored_data):
    from ml4es.segmentation import datasets

    validation = datasets.load_camvid("val", progress=False)
    model, record = camvid_unet.load_pretrained()
    scores = camvid_unet.evaluate(model, validation)
    assert scores["mean_iou"] == pytest.approx(record["validation"]["mean_iou"], abs=1e-4)
    assert scores["pixel_accuracy"] == pytest.approx(record["validation"]["pixel_accuracy"], abs=1e-4)
    undone = camvid_unet.evaluate(model, validation, torch.tensor(record["class_weights"]))
    assert undone["mean_iou"] == pytest.approx(record["validation_class_weights_undone"]["mean_iou"], abs=1e-4)
    assert undone["pixel_accuracy"] == pytest.approx(record["validation_class_weights_undone"]["pixel_accuracy"], abs=1e-4)
    # the chapter's targets
    assert undone["mean_iou"] >= 0.50
    assert undone["pixel_accuracy"] >= 0.85


def test_recorded_class_weights_match_training(mirrored_data):
    from ml4es.segmentation import datasets

    train = datasets.load_camvid("train", progress=False)
    _, record = camvid_unet.load_pretrained()
    expected = camvid_unet.class_weights(train.labels, len(train.classes), train.ignore_index)
    assert record["class_weights"] == pytest.approx(expected.tolist(), rel=1e-6)


def test_load_pretrained_names_the_missing_file(monkeypatch, tmp_path):
    (tmp_path / "weights").mkdir()

    class Folder:
        def joinpath(self, *parts):
            return tmp_path.joinpath(*parts)

    monkeypatch.setattr(camvid_unet.resources, "files", lambda package: Folder())
    with pytest.raises(FileNotFoundError, match="scripts/train_camvid_unet.py"):
        camvid_unet.load_pretrained()


def test_colourise_paints_classes_and_rejects_bad_labels():
    colours = np.array([[0, 0, 0], [255, 0, 0]], dtype=np.uint8)
    picture = camvid_plots.colourise(torch.tensor([[0, 1]]), colours)
    assert picture.tolist() == [[[0, 0, 0], [255, 0, 0]]]
    with pytest.raises(ValueError, match="expected 0 to 1"):
        camvid_plots.colourise(np.array([[2]]), colours)


# Checkers: right code passes, wrong code fails with a sentence, and a stub gives "not implemented yet".


def _stub(*args):
    raise NotImplementedError


def test_double_conv_checker():
    assert camvid_checks.check_double_conv(lambda a, b: DoubleConv(a, b)).passed is True
    assert camvid_checks.check_double_conv(_stub).passed is None
    one_conv = camvid_checks.check_double_conv(lambda a, b: nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.ReLU()))
    assert one_conv.passed is False
    assert "two 3 x 3 convolutions" in one_conv.message
    no_padding = camvid_checks.check_double_conv(
        lambda a, b: nn.Sequential(nn.Conv2d(a, b, 3), nn.BatchNorm2d(b), nn.ReLU(), nn.Conv2d(b, b, 3), nn.BatchNorm2d(b), nn.ReLU())
    )
    assert no_padding.passed is False
    assert "padding" in no_padding.message
    assert camvid_checks.check_double_conv(lambda a, b: "block").passed is False


def shared_relu_block(a, b):
    relu = nn.ReLU(inplace=True)
    return nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), relu,
                         nn.Conv2d(b, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), relu)


def same_padding_block(a, b):
    return nn.Sequential(nn.Conv2d(a, b, 3, padding="same", bias=False), nn.BatchNorm2d(b), nn.ReLU(),
                         nn.Conv2d(b, b, 3, padding="same", bias=False), nn.BatchNorm2d(b), nn.ReLU())


def test_double_conv_checker_accepts_equivalent_blocks():
    assert camvid_checks.check_double_conv(shared_relu_block).passed is True
    assert camvid_checks.check_double_conv(same_padding_block).passed is True
    assert camvid_checks.check_double_conv(subclassed_relu_block).passed is True
    assert camvid_checks.check_double_conv(lambda a, b: nn.Sequential(*DoubleConv(a, b), nn.Dropout2d(0.1))).passed is True


def shared_norm_block(a, b):
    norm = nn.BatchNorm2d(b)
    return nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), norm, nn.ReLU(),
                         nn.Conv2d(b, b, 3, padding=1, bias=False), norm, nn.ReLU())


class FunctionalReluBlock(nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.first, self.first_norm = nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b)
        self.second, self.second_norm = nn.Conv2d(b, b, 3, padding=1), nn.BatchNorm2d(b)

    def forward(self, x):
        x = nn.functional.relu(self.first_norm(self.first(x)))
        return nn.functional.relu(self.second_norm(self.second(x)))


class SubclassedRelu(nn.ReLU):
    pass


def subclassed_relu_block(a, b):
    return nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), SubclassedRelu(),
                         nn.Conv2d(b, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), SubclassedRelu())


class DetachedBlock(nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.block = DoubleConv(a, b)

    def forward(self, x):
        return self.block(x).detach()


@pytest.mark.parametrize(("build", "hint"), [
    (lambda a, b: nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.Conv2d(b, b, 3, padding=1),
                                nn.BatchNorm2d(b), nn.ReLU(), nn.ReLU()), "in the order Conv2d, BatchNorm2d, Conv2d"),
    (lambda a, b: nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.Conv2d(b, b, 3, padding=1), nn.BatchNorm2d(b),
                                nn.ReLU(), nn.BatchNorm2d(b), nn.ReLU()), "in the order Conv2d, Conv2d"),
    (DetachedBlock, "carries no gradient"),
    (shared_norm_block, "found 1 nn.BatchNorm2d layer(s) in the block; expected two"),
    (FunctionalReluBlock, "an activation applied as a function (F.relu) does not appear"),
    (lambda a, b: nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.GELU(), nn.Conv2d(b, b, 3, padding=1),
                                nn.BatchNorm2d(b), nn.ReLU()), "in the order Conv2d, BatchNorm2d, GELU, Conv2d"),
])
def test_double_conv_checker_rejects_wrong_blocks(build, hint):
    verdict = camvid_checks.check_double_conv(build)
    assert verdict.passed is False
    assert hint in verdict.message


def _iou(prediction, target, num_classes, ignore_index):
    return metrics.iou_per_class(metrics.confusion_matrix(prediction, target, num_classes, ignore_index))


def test_iou_checker():
    assert camvid_checks.check_iou(_iou).passed is True
    assert camvid_checks.check_iou(_stub).passed is None
    counts_void = camvid_checks.check_iou(lambda p, t, n, i: _iou(p, t.clamp(max=n - 1), n, None))
    assert counts_void.passed is False
    assert "void pixels counted" in counts_void.message
    zero_for_absent = camvid_checks.check_iou(lambda p, t, n, i: torch.nan_to_num(_iou(p, t, n, i)))
    assert zero_for_absent.passed is False
    assert "NaN" in zero_for_absent.message
    assert camvid_checks.check_iou(lambda p, t, n, i: torch.zeros(3)).passed is False
    assert camvid_checks.check_iou(lambda p, t, n, i: "iou").passed is False
    quoted = camvid_checks.check_iou(lambda p, t, n, i: "0.5")
    assert "returned text ('0.5')" in quoted.message
    long_text = camvid_checks.check_iou(lambda p, t, n, i: np.array(["0.5"] * 4))
    assert "...); expected a tensor of 4 numbers" in long_text.message


def test_dice_loss_checker():
    reference = camvid_checks.reference_dice_loss
    assert camvid_checks.check_dice_loss(reference).passed is True
    assert camvid_checks.check_dice_loss(_stub).passed is None
    with_void = camvid_checks.check_dice_loss(lambda logits, target, i: reference(logits, target.clamp(max=3), i))
    assert with_void.passed is False
    assert "mask them out" in with_void.message
    detached = camvid_checks.check_dice_loss(lambda logits, target, i: reference(logits, target, i).item())
    assert detached.passed is False
    assert "keeps its graph" in detached.message
    assert camvid_checks.check_dice_loss(lambda logits, target, i: torch.tensor(float("nan"))).passed is False


def test_class_weights_checker():
    assert camvid_checks.check_class_weights(camvid_unet.class_weights).passed is True
    assert camvid_checks.check_class_weights(_stub).passed is None

    def inverse_frequency(labels, num_classes, ignore_index):
        counts = torch.bincount(labels[labels != ignore_index], minlength=num_classes).double()
        return counts.sum() / counts

    wrong = camvid_checks.check_class_weights(inverse_frequency)
    assert wrong.passed is False
    assert "inverse frequencies" in wrong.message
    assert camvid_checks.check_class_weights(lambda labels, n, i: torch.ones(2)).passed is False
