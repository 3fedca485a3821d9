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


def one_cycle(
    optimiser: torch.optim.Optimizer, max_lr: float, total_steps: int, warm_up: float = 0.1
) -> torch.optim.lr_scheduler.LRScheduler:
    """Return a one-cycle learning-rate schedule over ``total_steps`` steps.

    The rate rises from ``max_lr / 25`` to ``max_lr`` over the fraction ``warm_up`` of the steps,
    then falls towards zero. For short runs the warm-up is lengthened to two steps (at most half
    the run): PyTorch's ``OneCycleLR`` divides by zero when the warm-up ends at the first step,
    as it does for 10 steps at a fraction of 0.1. Runs of one or two steps, too short for a
    cycle, keep ``max_lr`` throughout.
    """
    if total_steps < 1:
        raise ValueError(f"invalid number of steps {total_steps}; expected a positive integer")
    if not 0 < warm_up < 1:
        raise ValueError(f"invalid warm-up fraction {warm_up}; expected a number between 0 and 1")
    if total_steps < 3:
        for group in optimiser.param_groups:
            group["lr"] = max_lr
        return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0)
    warm_up = min(0.5, max(warm_up, 2 / total_steps))
    return torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=max_lr, total_steps=total_steps, pct_start=warm_up
    )


def check_resumable(saved: dict | None, current: dict, checkpoint: object, free: tuple[str, ...] = ("lbfgs_steps",)) -> None:
    """Stop with ``SystemExit`` unless a checkpoint's recipe ``saved`` matches ``current``.

    Both are ``dataclasses.asdict`` of a training recipe; the settings named in ``free`` may
    differ (more L-BFGS iterations may follow a finished run). ``saved`` is None for a checkpoint
    written before recipes were stored in them: it is accepted. ``checkpoint`` names the file in
    the message.
    """
    if saved is None:
        return
    different = sorted(key for key in saved.keys() | current.keys()
                       if key not in free and saved.get(key) != current.get(key))
    if different:
        settings = "; ".join(f"{key}: {saved.get(key)!r} there, {current.get(key)!r} now" for key in different)
        raise SystemExit(
            f"the checkpoint {checkpoint} was made with another recipe ({settings}). "
            "Pass the same options to resume, or start without --resume."
        )
