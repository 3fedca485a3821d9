"""Train and evaluate a U-Net that finds trapped lee waves in UKV vertical-velocity fields.

The network takes the 700 hPa vertical velocity at the model's 2 km spacing and returns, for
each grid point, the logit of "inside a lee-wave region". It trains on random square crops of
the training days, flipped and rotated (lee waves may point any way), with a sum of binary
cross-entropy and Dice loss, and is evaluated on whole 512 x 512 tiles of held-out days.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from ml4es.segmentation import leewaves, metrics
from ml4es.segmentation.datasets import split_by_day
from ml4es.segmentation.unet import UNet
from ml4es.training import one_cycle

# Days of January 2021 held out; every other day of the mirror trains.
VALIDATION_DAYS = (5, 11)
TEST_DAYS = (3, 8, 13, 17)
WEIGHTS_FILE = "leewave_unet.pt"
RECORD_FILE = "leewave_unet.json"


def check_gain_range(gain_range: tuple[float, float]) -> tuple[float, float]:
    """Return ``(low, high)`` of a crop gain range, or raise ``ValueError`` unless 0 < low <= high."""
    if len(gain_range) != 2:
        raise ValueError(f"gain_range must be (low, high), got {gain_range}")
    low, high = gain_range
    if not 0 < low <= high:
        raise ValueError(f"gain_range must be (low, high) with 0 < low <= high, got {gain_range}")
    return low, high


@dataclass(frozen=True)
class LeeWaveRecipe:
    """Everything that sets the training run of the lee-wave U-Net."""

    widths: tuple[int, ...] = (16, 32, 64, 128)
    crop: int = 128
    batch: int = 8
    steps: int = 3000
    learning_rate: float = 2e-3
    seed: int = 0
    # Vertical velocities are divided by this (m/s) before entering the network.
    scale: float = 0.5
    evaluate_every: int = 250
    # Give the network the band-pass baseline's wave amplitude as a second input channel.
    amplitude_input: bool = False
    # Grid spacing (m) of the input fields, which sets the amplitude channel's band and smoothing.
    grid_spacing: float = 2000.0
    # Steps of training on synthetic fields (crop x crop, batches of ``batch``) before the UKV days,
    # at the same peak learning rate, and the ranges the synthetic fields are drawn from. The ranges
    # are left out of the repr, which the chapter prints.
    pretrain_steps: int = 0
    # Each training crop is multiplied by a factor drawn log-uniformly from this range, so that the
    # network learns wave patterns rather than one amplitude. (1, 1) leaves the crops alone.
    gain_range: tuple[float, float] = (1.0, 1.0)
    # When positive, the network takes asinh(w / compress) with compress in m/s: linear for weak
    # waves, logarithmic for strong ones, so that weak wave trains stand out against strong ones.
    compress: float = 0.0
    # Train on every n-th frame of the training days only (in time order), to measure how the
    # scores depend on the number of frames. 1 keeps them all.
    train_frame_stride: int = 1
    # Days of January 2021 held out for choosing the checkpoint and for the final scores. Other
    # splits measure how much the scores depend on the days (cross-validation by day).
    validation_days: tuple[int, ...] = dataclasses.field(default=VALIDATION_DAYS, repr=False)
    test_days: tuple[int, ...] = dataclasses.field(default=TEST_DAYS, repr=False)
    pretrain_fields: leewaves.SceneRanges = dataclasses.field(default=leewaves.SceneRanges(), repr=False)

    def __post_init__(self) -> None:
        check_gain_range(self.gain_range)
        if self.compress < 0:
            raise ValueError(f"invalid compress {self.compress} m/s; expected 0 (off) or a positive amplitude")
        if self.amplitude_input and self.compress > 0:
            raise ValueError(f"a recipe may set amplitude_input or compress, not both (compress={self.compress})")
        for name in ("validation_days", "test_days"):
            days = getattr(self, name)
            if not days or not all(isinstance(day, numbers.Integral) and 1 <= day <= 31 for day in days):
                raise ValueError(f"invalid {name} {days!r}; expected one or more days of the month, 1 to 31")
            if len(set(days)) != len(days):
                raise ValueError(f"invalid {name} {days!r}; each day may appear once")
            # Plain ints, so that NumPy days reach the JSON record as numbers (the recipe is frozen).
            object.__setattr__(self, name, tuple(int(day) for day in days))
        both = sorted(set(self.validation_days) & set(self.test_days))
        if both:
            raise ValueError(
                f"day(s) {both} are in both validation_days {list(self.validation_days)} and test_days {list(self.test_days)}"
            )
        if not (isinstance(self.train_frame_stride, int) and self.train_frame_stride >= 1):
            raise ValueError(f"invalid train_frame_stride {self.train_frame_stride!r}; expected a whole number of at least 1")


class WaveAmplitude(nn.Module):
    """The band-pass wave amplitude of ``leewaves.wave_amplitude`` as a layer: N x 1 x H x W in and out.

    Wavelengths between ``shortest`` and ``longest`` (m) are kept with an FFT of each whole input,
    rectified, and smoothed with a Gaussian of standard deviation ``smoothing`` (m), truncated at 4
    standard deviations with mirrored edges as in ``scipy.ndimage.gaussian_filter``. The result is in
    the units of the input.
    """

    def __init__(self, dx: float, shortest: float = 5e3, longest: float = 35e3, smoothing: float = 10e3):
        super().__init__()
        self.dx, self.shortest, self.longest = dx, shortest, longest
        sigma = smoothing / dx
        self.radius = int(4.0 * sigma + 0.5)
        offsets = torch.arange(-self.radius, self.radius + 1, dtype=torch.float32)
        kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
        self.register_buffer("kernel", kernel / kernel.sum(), persistent=False)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        height, width = w.shape[-2:]
        ky = torch.fft.fftfreq(height, d=self.dx, device=w.device)
        kx = torch.fft.rfftfreq(width, d=self.dx, device=w.device)
        magnitude = torch.hypot(*torch.meshgrid(kx, ky, indexing="xy"))
        keep = (magnitude >= 1 / self.longest) & (magnitude <= 1 / self.shortest)
        filtered = torch.fft.irfft2(torch.fft.rfft2(w) * keep, s=(height, width)).abs()
        return self._smooth(self._smooth(filtered, -1), -2)

    def _smooth(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        """Convolve along ``dim`` (-1 or -2) with the Gaussian, mirroring the edges (d c b a | a b c d)."""
        r = self.radius
        x = x.transpose(dim, -1)
        padded = torch.cat([x[..., :r].flip(-1), x, x[..., -r:].flip(-1)], dim=-1)
        rows = padded.reshape(-1, 1, padded.shape[-1])
        smoothed = nn.functional.conv1d(rows, self.kernel.view(1, 1, -1)).reshape(x.shape)
        return smoothed.transpose(dim, -1)


class AmplitudeUNet(nn.Module):
    """A U-Net whose two input channels are the field and its band-pass wave amplitude."""

    def __init__(self, widths: tuple[int, ...], dx: float):
        super().__init__()
        self.amplitude = WaveAmplitude(dx)
        self.unet = UNet(2, 1, widths)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """Return logits for fields N x 1 x H x W, or for fields with their amplitude, N x 2 x H x W."""
        if w.shape[1] == 1:
            w = torch.cat([w, self.amplitude(w)], dim=1)
        return self.unet(w)


class CompressedUNet(nn.Module):
    """A U-Net applied to asinh(x / k) of its input x: compressed at large amplitudes, linear at small."""

    def __init__(self, widths: tuple[int, ...], k: float):
        super().__init__()
        self.k = k
        self.unet = UNet(1, 1, widths)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.unet(torch.asinh(w / self.k))


def build_model(recipe: LeeWaveRecipe) -> nn.Module:
    """Return an untrained network for ``recipe``: N x 1 x H x W scaled fields in, logits out."""
    if recipe.amplitude_input:
        return AmplitudeUNet(recipe.widths, recipe.grid_spacing)
    if recipe.compress > 0:
        # The network's inputs are w / scale, so asinh(w / compress) is asinh(input / (compress / scale)).
        return CompressedUNet(recipe.widths, recipe.compress / recipe.scale)
    return UNet(1, 1, recipe.widths)


def split(ds: xr.Dataset, recipe: LeeWaveRecipe | None = None) -> dict[str, np.ndarray]:
    """Return the frame indices of the train, validation and test days: the course's, or ``recipe``'s."""
    recipe = LeeWaveRecipe() if recipe is None else recipe
    available = set(pd.DatetimeIndex(ds["time"].values).day)
    for name in ("validation_days", "test_days"):
        missing = sorted(set(getattr(recipe, name)) - available)
        if missing:
            raise ValueError(
                f"{name} {list(getattr(recipe, name))} include day(s) {missing} with no frames; "
                f"the data have frames on days {sorted(int(day) for day in available)}"
            )
    frames = split_by_day(ds["time"].values, recipe.validation_days, recipe.test_days)
    if not len(frames["train"]):
        raise ValueError("the validation and test days leave no frames to train on")
    return frames


def random_batch(
    w: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    crop: int,
    batch: int,
    gain_range: tuple[float, float] = (1.0, 1.0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``batch`` random crops of fields and masks, each flipped and rotated at random.

    ``w`` is frames x y x x, or frames x channels x y x x for several inputs per grid point. The
    crops come back as batch x channels x crop x crop. Unless ``gain_range`` is (1, 1), each crop
    is also multiplied by a factor drawn log-uniformly from that range.
    """
    low, high = check_gain_range(gain_range)
    fields = w[:, None] if w.ndim == 3 else w
    frames, channels, height, width = fields.shape
    if crop > min(height, width):
        raise ValueError(f"crop {crop} is larger than the {height} x {width} fields")
    inputs = np.empty((batch, channels, crop, crop), dtype=np.float32)
    targets = np.empty((batch, 1, crop, crop), dtype=np.float32)
    for i in range(batch):
        frame = rng.integers(frames)
        top, left = rng.integers(height - crop + 1), rng.integers(width - crop + 1)
        field = fields[frame, :, top : top + crop, left : left + crop]
        label = mask[frame, top : top + crop, left : left + crop]
        turns, flip = rng.integers(4), rng.integers(2)
        field, label = np.rot90(field, turns, axes=(-2, -1)), np.rot90(label, turns)
        if flip:
            field, label = field[..., ::-1], label[:, ::-1]
        if (low, high) != (1.0, 1.0):
            field = field * np.exp(rng.uniform(np.log(low), np.log(high)))
        inputs[i], targets[i, 0] = field, label
    return torch.from_numpy(inputs), torch.from_numpy(targets)


def synthetic_batch(
    rng: np.random.Generator, recipe: LeeWaveRecipe, batch: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw fresh synthetic fields and their exact masks from ``leewaves.synthetic_scene``.

    Returns inputs divided by ``recipe.scale`` and float 0/1 targets, both
    batch x 1 x crop x crop, with ``recipe.batch`` fields unless ``batch`` is given.
    """
    batch = recipe.batch if batch is None else batch
    inputs = np.empty((batch, 1, recipe.crop, recipe.crop), dtype=np.float32)
    targets = np.empty((batch, 1, recipe.crop, recipe.crop), dtype=np.float32)
    for i in range(batch):
        w, mask = leewaves.synthetic_scene(rng, recipe.crop, recipe.grid_spacing, recipe.pretrain_fields)
        inputs[i, 0], targets[i, 0] = w / recipe.scale, mask
    return torch.from_numpy(inputs), torch.from_numpy(targets)


def pretrain(
    model: nn.Module, recipe: LeeWaveRecipe, progress: bool = True, device: torch.device | str = "cpu"
) -> dict[str, list]:
    """Train ``model`` for ``recipe.pretrain_steps`` steps on synthetic fields; return the losses.

    Uses the loss and optimiser of :func:`train`, with a learning-rate cycle of its own. The
    fields come from a random stream seeded by ``recipe.seed`` but separate from the one that
    draws the UKV crops, so the fine-tuning that follows draws the same crops as without
    pretraining. The history also contains the Dice, at a threshold of 0.5, on 32 fixed synthetic
    fields after the last step.
    """
    rng = np.random.default_rng([recipe.seed, 1])
    model = model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate)
    schedule = one_cycle(optimiser, recipe.learning_rate, recipe.pretrain_steps)
    history: dict[str, list] = {"loss": []}
    bar = tqdm(range(recipe.pretrain_steps), desc="synthetic pretraining", disable=not progress)
    for _ in bar:
        loss = _step(model, optimiser, schedule, *synthetic_batch(rng, recipe), device)
        history["loss"].append(loss)
        bar.set_postfix(loss=f"{loss:.3f}")

    inputs, targets = synthetic_batch(np.random.default_rng([recipe.seed, 2]), recipe, batch=32)
    probability = predict(model, inputs[:, 0].numpy() * recipe.scale, recipe.scale)
    history["synthetic_dice"] = [scores(probability > 0.5, targets[:, 0].numpy())["dice"]]
    return history


def _step(
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    device: torch.device | str,
) -> float:
    """Take one optimiser and schedule step on a batch in training mode; return the batch's loss."""
    model.train()
    loss = segmentation_loss(model(inputs.to(device)), targets.to(device))
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    schedule.step()
    return loss.item()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Return 1 - soft Dice between sigmoid(logits) and a binary target, pooled over the batch."""
    probability = torch.sigmoid(logits)
    overlap = (probability * target).sum()
    return 1 - (2 * overlap + eps) / (probability.sum() + target.sum() + eps)


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus Dice loss: the first trains every pixel, the second the overlap."""
    return nn.functional.binary_cross_entropy_with_logits(logits, target) + dice_loss(logits, target)


@torch.no_grad()
def predict(model: nn.Module, w: np.ndarray, scale: float, batch: int = 4) -> np.ndarray:
    """Return the lee-wave probability for each frame of ``w`` (frames x y x x), on the CPU.

    The frames go through the model on the device of its weights.
    """
    model.eval()
    device = next(model.parameters()).device
    w = np.asarray(w, dtype=np.float32)
    if w.ndim != 3:
        raise ValueError(f"expected fields of shape (frames, y, x), got {w.shape}")
    out = []
    for start in range(0, len(w), batch):
        inputs = torch.from_numpy(w[start : start + batch, None] / scale).to(device)
        out.append(torch.sigmoid(model(inputs))[:, 0].cpu().numpy())
    return np.concatenate(out)


def scores(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Return pooled Dice and IoU over all frames, and the mean of per-frame Dice."""
    predicted, truth = np.asarray(predicted).astype(bool), np.asarray(truth).astype(bool)
    per_frame = [metrics.dice_score(p, t) for p, t in zip(predicted, truth)]
    return {
        "dice": metrics.dice_score(predicted, truth),
        "iou": metrics.binary_iou(predicted, truth),
        "mean_frame_dice": float(np.mean(per_frame)),
    }


def train(
    ds: xr.Dataset,
    recipe: LeeWaveRecipe = LeeWaveRecipe(),
    model: nn.Module | None = None,
    steps: int | None = None,
    progress: bool = True,
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, dict[str, list]]:
    """Train (or go on training) a U-Net on the training days; keep the best validation Dice.

    The model moves to ``device`` and stays there. The random crops are drawn on the CPU. When
    ``model`` is None, a new network is built and, if ``recipe.pretrain_steps`` is positive,
    first trained on synthetic fields by :func:`pretrain`. Its losses then go to the history as
    ``pretrain_loss``, with the Dice on synthetic fields and on the validation days reached
    before any UKV training.
    """
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    frames = split(ds, recipe)
    w = ds["w"].values / recipe.scale
    if recipe.amplitude_input:
        if float(ds.attrs["grid_spacing_m"]) != recipe.grid_spacing:
            raise ValueError(
                f"the fields have a grid spacing of {ds.attrs['grid_spacing_m']} m but the recipe's "
                f"amplitude channel expects {recipe.grid_spacing} m: set grid_spacing in the recipe"
            )
        # Amplitude of each whole frame, so that training crops match whole-frame prediction.
        layer = WaveAmplitude(recipe.grid_spacing)
        amplitude = torch.cat([layer(torch.from_numpy(frame[None, None].astype(np.float32))) for frame in w])
        w = np.concatenate([w[:, None], amplitude.numpy()], axis=1)
    mask = ds["mask"].values.astype(np.float32)
    training_frames = frames["train"][:: recipe.train_frame_stride]
    w_train, mask_train = w[training_frames], mask[training_frames]
    w_val, mask_val = ds["w"].values[frames["validation"]], mask[frames["validation"]]

    history: dict[str, list] = {"loss": [], "step": [], "validation_dice": []}
    if model is None:
        model = build_model(recipe)
        if recipe.pretrain_steps > 0:
            synthetic = pretrain(model, recipe, progress, device)
            history["pretrain_loss"] = synthetic["loss"]
            history["pretrain_synthetic_dice"] = synthetic["synthetic_dice"]
            dice = scores(predict(model, w_val, recipe.scale) > 0.5, mask_val)["dice"]
            history["pretrain_validation_dice"] = [dice]
    model = model.to(device)
    steps = recipe.steps if steps is None else steps
    optimiser = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate)
    schedule = one_cycle(optimiser, recipe.learning_rate, steps)
    best_dice, best_state = -1.0, None
    bar = tqdm(range(1, steps + 1), desc="lee-wave U-Net", disable=not progress)
    for step in bar:
        batch = random_batch(w_train, mask_train, rng, recipe.crop, recipe.batch, recipe.gain_range)
        loss = _step(model, optimiser, schedule, *batch, device)
        history["loss"].append(loss)
        if step % recipe.evaluate_every == 0 or step == steps:
            dice = scores(predict(model, w_val, recipe.scale) > 0.5, mask_val)["dice"]
            history["step"].append(step)
            history["validation_dice"].append(dice)
            bar.set_postfix(loss=f"{loss:.3f}", val_dice=f"{dice:.3f}")
            if dice > best_dice:
                best_dice = dice
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, history


def band_pass_baseline(ds: xr.Dataset, frames: dict[str, np.ndarray]) -> dict:
    """Fit the band-pass baseline's threshold on the training days and score it on the held-out ones.

    Returns the wave amplitude of every frame (m/s, frames x y x x), the threshold (m/s) and the
    scores of ``amplitude > threshold`` on the validation and test frames.
    """
    dx = float(ds.attrs["grid_spacing_m"])
    amplitude = np.stack([leewaves.wave_amplitude(w, dx) for w in ds["w"].values])
    truth = ds["mask"].values.astype(bool)
    threshold = leewaves.fit_threshold(amplitude[frames["train"]], truth[frames["train"]])
    result = {"amplitude": amplitude, "threshold": threshold}
    for part in ("validation", "test"):
        result[part] = scores(amplitude[frames[part]] > threshold, truth[frames[part]])
    return result


def recipe_from_record(settings: dict) -> LeeWaveRecipe:
    """Rebuild a recipe from its JSON form (``dataclasses.asdict``), ignoring unknown keys."""
    fields = {field.name for field in dataclasses.fields(LeeWaveRecipe)}
    settings = {key: value for key, value in settings.items() if key in fields}
    settings["widths"] = tuple(settings.get("widths", LeeWaveRecipe.widths))
    settings["gain_range"] = tuple(settings.get("gain_range", LeeWaveRecipe.gain_range))
    for days in ("validation_days", "test_days"):
        if days in settings:
            settings[days] = tuple(settings[days])
    # Records written before the amplitude channel existed describe networks without it.
    settings.setdefault("amplitude_input", False)
    if "pretrain_fields" in settings:
        ranges = {key: tuple(value) for key, value in settings["pretrain_fields"].items()}
        settings["pretrain_fields"] = leewaves.SceneRanges(**ranges)
    return LeeWaveRecipe(**settings)


def load_pretrained() -> tuple[nn.Module, LeeWaveRecipe, dict]:
    """Return the shipped U-Net (in eval mode), its recipe and the record of how it was trained.

    The weights come from ``scripts/train_leewave_unet.py``; the record holds the command, the
    machine, the training time and the scores it reached.
    """
    weights = resources.files("ml4es") / "weights"
    record = json.loads((weights / RECORD_FILE).read_text())
    recipe = recipe_from_record(record["recipe"])
    model = build_model(recipe)
    with resources.as_file(weights / WEIGHTS_FILE) as path:
        model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval(), recipe, record
