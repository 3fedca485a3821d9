"""A small training loop with a progress bar, short enough for a chapter to show in full."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from tqdm.auto import tqdm


def train(
    loss_fn: Callable[[], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    steps: int,
    description: str = "training",
    log_every: int = 10,
    progress: bool = True,
) -> list[float]:
    """Minimise ``loss_fn()`` for ``steps`` optimiser steps and return the loss at each step.

    ``loss_fn`` takes no arguments and returns a scalar tensor. The loop works with first-order
    optimisers (Adam, SGD) and with L-BFGS, which calls ``loss_fn`` several times a step. The
    progress bar shows the latest loss every ``log_every`` steps. A NaN or infinite loss stops
    training with ``FloatingPointError``, naming the step.
    """
    if steps < 0:
        raise ValueError(f"invalid number of steps {steps}; expected a non-negative integer")

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        return loss

    history: list[float] = []
    bar = tqdm(range(steps), desc=description, disable=not progress, mininterval=0.5)
    for step in bar:
        loss = optimizer.step(closure)
        value = float(loss.detach())
        if not math.isfinite(value):
            bar.close()
            raise FloatingPointError(f"the loss became {value} at step {step}; lower the learning rate")
        history.append(value)
        if step % log_every == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{value:.3e}", refresh=False)
    bar.close()
    return history
