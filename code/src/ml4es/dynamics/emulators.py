"""Neural emulators of a time step: x_{k+1} = x_k + network(x_k), trained on one step or on rollouts.

Two networks share the same interface. :class:`ResidualMLP` is a dense network that sees the whole
state. :class:`PeriodicCNN` applies the same small stencil at every grid point with circular
padding, so it respects the cyclic symmetry of Lorenz-96 and has far fewer weights to learn.
States are float32 tensors of shape ``(batch, N)`` in the units of the system; each emulator
normalises them internally with the mean and standard deviation it was built with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
import logging
import math
from importlib import resources
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)


class Emulator(nn.Module):
    """Base class: a residual step in normalised units, x_{k+1} = x_k + std * increment(z_k)."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def increment(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the state one emulator step after ``x`` (shape ``(batch, N)``)."""
        z = (x - self.mean) / self.std
        return x + self.std * self.increment(z)

    @torch.no_grad()
    def rollout(self, initial_states: Any, n_steps: int) -> np.ndarray:
        """Run the emulator freely for ``n_steps`` and return the states, shape ``(n_steps + 1, batch, N)``."""
        state = torch.as_tensor(np.asarray(initial_states), dtype=torch.float32)
        if state.ndim == 1:
            state = state[None]
        states = [state]
        for _ in range(n_steps):
            state = self(state)
            states.append(state)
        return torch.stack(states).numpy().astype(np.float64)


class ResidualMLP(Emulator):
    """Dense residual network on the whole state: N inputs, ``depth`` hidden layers, N outputs."""

    def __init__(self, n_variables: int, mean: float, std: float, width: int = 256, depth: int = 2):
        super().__init__(mean, std)
        self.config = {"kind": "mlp", "n_variables": n_variables, "width": width, "depth": depth}
        layers: list[nn.Module] = []
        size = n_variables
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.GELU()]
            size = width
        layers.append(nn.Linear(size, n_variables))
        self.net = nn.Sequential(*layers)

    def increment(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class PeriodicCNN(Emulator):
    """Stack of 1-D convolutions with circular padding: the same local stencil at every point.

    The input channels are z and z^2, because the Lorenz-96 tendency is quadratic. With
    ``depth`` layers of width ``kernel_size`` each output sees ``depth * (kernel_size - 1) + 1``
    neighbouring points.
    """

    def __init__(self, mean: float, std: float, channels: int = 32, kernel_size: int = 5, depth: int = 3):
        super().__init__(mean, std)
        self.config = {"kind": "cnn", "channels": channels, "kernel_size": kernel_size, "depth": depth}
        layers: list[nn.Module] = []
        size = 2
        for _ in range(depth):
            layers += [nn.Conv1d(size, channels, kernel_size, padding=kernel_size // 2, padding_mode="circular"), nn.GELU()]
            size = channels
        layers.append(nn.Conv1d(size, 1, 1))
        self.net = nn.Sequential(*layers)

    def increment(self, z: torch.Tensor) -> torch.Tensor:
        features = torch.stack([z, z**2], dim=1)
        return self.net(features)[:, 0]


def build(config: dict, mean: float, std: float) -> Emulator:
    """Build an emulator from the ``config`` dict that each emulator stores."""
    options = {key: value for key, value in config.items() if key != "kind"}
    if config["kind"] == "mlp":
        return ResidualMLP(mean=mean, std=std, **options)
    if config["kind"] == "cnn":
        return PeriodicCNN(mean=mean, std=std, **options)
    raise ValueError(f"unknown emulator kind {config['kind']!r}; expected 'mlp' or 'cnn'")


def windows(trajectories: np.ndarray, length: int) -> torch.Tensor:
    """Cut every window of ``length`` consecutive states from trajectories ``(n, T, N)`` or ``(T, N)``.

    Returns a float32 tensor of shape ``(n_windows, length, N)``.
    """
    data = np.asarray(trajectories, dtype=np.float32)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or data.shape[1] < length:
        raise ValueError(f"expected trajectories of shape (n, T, N) with T >= {length}, got {data.shape}")
    views = np.lib.stride_tricks.sliding_window_view(data, length, axis=1)
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(views, -1, 2).reshape(-1, length, data.shape[-1])))


def one_step_loss(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of one emulator step, in units of the model's standard deviation squared."""
    return ((model(x) - target) / model.std).pow(2).mean()


def rollout_loss(model: nn.Module, x0: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error over a rollout of ``K = targets.shape[1]`` steps from ``x0``.

    ``x0`` has shape ``(batch, N)`` and ``targets`` ``(batch, K, N)``; the error of every step is
    weighted equally and measured in units of the model's standard deviation squared. Gradients
    flow back through the whole rollout.
    """
    state = x0
    total = 0.0
    for k in range(targets.shape[1]):
        state = model(state)
        total = total + ((state - targets[:, k]) / model.std).pow(2).mean()
    return total / targets.shape[1]


def fit(
    model: Emulator,
    data: torch.Tensor,
    steps: int,
    rollout_length: int = 1,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 0,
    description: str = "training",
    progress: bool = True,
) -> list[float]:
    """Train ``model`` with Adam on random batches of windows ``data`` ``(n, L, N)`` and return the losses.

    With ``rollout_length`` = 1 the loss is :func:`one_step_loss`, otherwise :func:`rollout_loss`
    over the first ``rollout_length`` + 1 states of each window. The learning rate follows a cosine
    schedule down to zero over ``steps``.
    """
    if data.shape[1] < rollout_length + 1:
        raise ValueError(f"windows of length {data.shape[1]} are too short for rollouts of {rollout_length} steps")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))

    def loss_fn() -> torch.Tensor:
        index = torch.randint(0, data.shape[0], (batch_size,), generator=generator)
        batch = data[index]
        if rollout_length == 1:
            loss = one_step_loss(model, batch[:, 0], batch[:, 1])
        else:
            loss = rollout_loss(model, batch[:, 0], batch[:, 1 : rollout_length + 1])
        return loss

    history: list[float] = []
    bar = tqdm(range(steps), desc=description, disable=not progress, mininterval=0.5)
    for step in bar:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        schedule.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            bar.close()
            raise FloatingPointError(f"the loss became {value} at step {step}; lower the learning rate")
        history.append(value)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{value:.2e}", refresh=False)
    bar.close()
    return history


def save(model: Emulator, name: str, folder: Any) -> None:
    """Write ``model``'s weights to ``folder/name.pt`` with its configuration and normalisation."""
    torch.save({"config": model.config, "mean": float(model.mean), "std": float(model.std), "state_dict": model.state_dict()}, folder / f"{name}.pt")


def load_pretrained(name: str = "lorenz96_emulator") -> Emulator:
    """Load emulator weights shipped in ``ml4es/weights`` (see ``scripts/train_lorenz96_emulator.py``)."""
    path = resources.files("ml4es").joinpath("weights", f"{name}.pt")
    with resources.as_file(path) as local:
        saved = torch.load(local, map_location="cpu", weights_only=True)
    model = build(saved["config"], saved["mean"], saved["std"])
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return model


def load_record(name: str = "lorenz96_emulator") -> dict:
    """Return the JSON record of how the shipped weights ``name`` were made."""
    text = resources.files("ml4es").joinpath("weights", f"{name}.json").read_text("utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class EmulatorRecipe:
    """Training recipe of the shipped Lorenz-96 emulator: one-step pairs, then short rollouts."""

    kind: str = "cnn"
    channels: int = 32
    kernel_size: int = 5
    depth: int = 3
    one_step_iterations: int = 2000
    one_step_learning_rate: float = 2e-3
    rollout_iterations: int = 300
    rollout_length: int = 5
    rollout_learning_rate: float = 3e-4
    batch_size: int = 128
    n_trajectories: int = 20
    duration: float = 100.0
    seed: int = 0


def train_recipe(recipe: EmulatorRecipe, data: np.ndarray, progress: bool = True) -> tuple[Emulator, dict[str, list[float]]]:
    """Train an emulator with ``recipe`` on trajectories ``data`` ``(n, T, N)``; return it and its losses."""
    torch.manual_seed(recipe.seed)
    mean, std = float(data.mean()), float(data.std())
    if recipe.kind == "cnn":
        model: Emulator = PeriodicCNN(mean, std, recipe.channels, recipe.kernel_size, recipe.depth)
    else:
        model = ResidualMLP(data.shape[-1], mean, std, width=recipe.channels, depth=recipe.depth)
    pairs = windows(data, recipe.rollout_length + 1)
    history = {
        "one step": fit(
            model, pairs, recipe.one_step_iterations, 1, recipe.batch_size, recipe.one_step_learning_rate,
            seed=recipe.seed, description="one-step training", progress=progress,
        ),
        "rollout": fit(
            model, pairs, recipe.rollout_iterations, recipe.rollout_length, recipe.batch_size,
            recipe.rollout_learning_rate, seed=recipe.seed + 1, description="rollout training", progress=progress,
        ),
    }
    model.eval()
    return model, history


def forecaster(model: Emulator):
    """Wrap ``model`` as a forecaster for ``evaluation.evaluate``: it starts from the last history row."""

    def forecast(history: np.ndarray, n_steps: int) -> np.ndarray:
        return model.rollout(history[-1], n_steps)

    return forecast
