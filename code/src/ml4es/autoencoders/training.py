"""Training recipes of the chapter's wake autoencoder and variational autoencoder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ml4es.autoencoders import models


@dataclass(frozen=True)
class WakeRecipe:
    """Full-batch Adam with a cosine learning-rate schedule."""

    latent: int = 2
    channels: int = 16
    steps: int = 300
    learning_rate: float = 2e-3
    seed: int = 0
    # Variance s^2 of the VAE's Gaussian likelihood, in standardised units. With 0.01 the
    # reconstruction term outweighed the KL term so far that the latent codes sat on a ring of
    # radius about 10, where draws from the N(0, I) prior never reach.
    vae_noise_variance: float = 1.0


def train_autoencoder(
    model: torch.nn.Module,
    train_fields: torch.Tensor,
    steps: int,
    learning_rate: float,
    progress: bool = True,
) -> list[float]:
    """Minimise the mean squared reconstruction error of ``train_fields`` ``(n, 1, h, w)``.

    Full-batch Adam with a cosine learning-rate schedule; returns the loss at each step.
    """
    return _minimise(
        model,
        lambda: ((model(train_fields) - train_fields) ** 2).mean(),
        steps,
        learning_rate,
        "autoencoder",
        progress,
    )


def train_vae(
    model: models.ConvVAE,
    train_fields: torch.Tensor,
    steps: int,
    learning_rate: float,
    noise_variance: float = 0.01,
    progress: bool = True,
) -> list[float]:
    """Minimise the negative ELBO of ``train_fields`` ``(n, 1, h, w)``; returns the loss per step."""
    return _minimise(
        model,
        lambda: models.vae_loss(model, train_fields, noise_variance)[0],
        steps,
        learning_rate,
        "VAE",
        progress,
    )


def _minimise(model, loss_fn, steps: int, learning_rate: float, description: str, progress: bool) -> list[float]:
    """Minimise ``loss_fn()`` by full-batch Adam with a cosine schedule; return the loss per step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(steps, 1))
    history = []
    bar = tqdm(range(steps), desc=description, disable=not progress, mininterval=0.5)
    for _ in bar:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        schedule.step()
        history.append(loss.item())
        bar.set_postfix(loss=f"{history[-1]:.3e}", refresh=False)
    return history
