"""Fixed random networks and points on which the PINN checkers run a reader's code and the reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from ml4es.pinns.hidden_fluid import collocation_points

PROBE_BOUNDS = {"t": (0.0, 2.0), "x": (1.0, 8.0), "y": (-2.0, 2.0)}
"""Window ``(min, max)`` of t, x and y that the probe points and the probe networks cover."""

Network = TypeVar("Network", bound=nn.Module)


def probe_points(n: int = 30, seed: int = 7) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``n`` fixed points ``(t, x, y)`` drawn uniformly in the probe bounds, each ``(n, 1)`` float64."""
    return collocation_points(PROBE_BOUNDS, n, torch.Generator().manual_seed(seed), torch.float64)


def random_network(build: Callable[[], Network], seed: int) -> Network:
    """Return ``build()`` initialised under ``seed``, with its biases drawn from N(0, 0.3^2).

    The network must have ``hidden`` layers and an ``output`` layer. Non-zero biases keep a
    reader's code from passing only because the initial biases are zero. The global random
    state is saved and restored, so a checker leaves the numbers that a chapter prints unchanged.
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build()
        with torch.no_grad():
            for layer in [*model.hidden, model.output]:
                layer.bias.normal_(0.0, 0.3)
    return model


__all__ = ["PROBE_BOUNDS", "probe_points", "random_network"]
