"""Derivatives of a tanh MLP of (t, x, y), propagated forward in closed form (Taylor mode).

The network is made of ``hidden`` tanh layers and a linear ``output`` layer, and ``normalise``
maps its inputs linearly to [-1, 1]. The derivatives of every output with respect to the
physical coordinates are carried forward layer by layer. Each layer applies its weights to the
value and to every derivative at once (one batched matrix product) and combines them through
Faà di Bruno's formula for tanh. This is several times faster than nested
``torch.autograd.grad`` calls for the second and third derivatives that PINN residuals need.
:mod:`ml4es.pinns.navier_stokes` and :mod:`ml4es.pinns.hidden_fluid` both use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Protocol

import torch
from torch import nn

COORDINATES = ("t", "x", "y")
"""Input coordinates of the networks, in this order."""


class TanhNetwork(Protocol):
    """Interface that :func:`mlp_derivatives` expects: tanh layers, a linear output and the input map."""

    hidden: nn.ModuleList
    output: nn.Linear
    scale: torch.Tensor

    def normalise(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...


def _set_partitions(items: Sequence[int]) -> list[list[tuple[int, ...]]]:
    """Return every partition of ``items`` into non-empty blocks."""
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    partitions = []
    # The block that contains ``first``: it plus any subset of the rest.
    for size in range(len(rest) + 1):
        for chosen in combinations(rest, size):
            remaining = [item for item in rest if item not in chosen]
            for partition in _set_partitions(remaining):
                partitions.append([(first, *chosen), *partition])
    return partitions


def canonical_name(name: str) -> str:
    """Return a derivative's name with its coordinates in the order t, x, y ("yx" -> "xy")."""
    return "".join(sorted(name, key=COORDINATES.index))


@dataclass(frozen=True)
class _Term:
    """One term of Faà di Bruno's formula: coefficient * tanh^(order)(a) * prod(a_block)."""

    coefficient: int
    order: int
    blocks: tuple[str, ...]


def derivative_plan(names: Iterable[str]) -> dict[str, tuple[_Term, ...]]:
    """Return, for each derivative name, the terms of d(tanh(a)) in derivatives of a.

    By Faà di Bruno's formula, a mixed derivative of tanh(a(z)) is a sum over the set partitions
    of its coordinates: tanh^(k)(a) times the product of the derivatives of a over the k blocks.
    Every block must itself be in ``names``, so that the derivatives of a that the formula needs
    are propagated too.
    """
    names = list(names)
    for name in names:
        if not name or set(name) - set(COORDINATES):
            raise ValueError(f"invalid derivative name {name!r}; expected letters from {COORDINATES}")
        if len(name) > 3:
            raise ValueError(f"derivative {name!r} is of order {len(name)}; orders up to 3 are implemented")
    names = [canonical_name(name) for name in names]

    plan = {}
    for name in names:
        counts: dict[tuple[int, tuple[str, ...]], int] = {}
        for partition in _set_partitions(list(range(len(name)))):
            blocks = tuple(sorted(canonical_name("".join(name[i] for i in block)) for block in partition))
            missing = [block for block in blocks if block not in names]
            if missing:
                raise ValueError(f"derivative {name!r} needs {missing} as well; add them to the list")
            key = (len(blocks), blocks)
            counts[key] = counts.get(key, 0) + 1
        plan[name] = tuple(_Term(count, order, blocks) for (order, blocks), count in counts.items())
    return plan


def _tanh_derivatives(h: torch.Tensor, order: int) -> list[torch.Tensor]:
    """Return [tanh', tanh'', tanh'''][:order] as functions of h = tanh(a)."""
    first = 1 - h * h
    result = [first]
    if order >= 2:
        result.append(-2 * h * first)
    if order >= 3:
        result.append(first * (6 * h * h - 2))
    return result


def mlp_derivatives(
    model: TanhNetwork,
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    names: Sequence[str],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Return the network's raw output and its derivatives ``names`` at ``(t, x, y)``.

    The output is ``(n, outputs)``, the linear output layer applied to the last hidden layer, and
    the dictionary maps each derivative name in canonical order (``"xy"``, never ``"yx"``) to an
    ``(n, outputs)`` tensor of the derivatives of every output. All are differentiable with
    respect to the weights. Each layer stacks the value and every derivative of its input as
    channels of one ``(channels, n, width)`` tensor, applies the weights with one matrix product
    (the bias only to the value) and combines the channels through Faà di Bruno's formula for
    tanh. The derivatives are with respect to the physical coordinates: the input normalisation
    contributes ``model.scale`` (dz/dt, dz/dx, dz/dy) to the first layer, and its higher
    derivatives vanish.
    """
    plan = derivative_plan(names)
    channels = list(plan)
    max_order = max(len(name) for name in channels) if channels else 0

    # First layer: the input z is linear in the coordinates, so its first derivatives are
    # constant rows of the weight matrix and its higher derivatives are zero.
    first = model.hidden[0]
    a = first(model.normalise(t, x, y))
    slopes = {name: first.weight[:, COORDINATES.index(name)] * model.scale[COORDINATES.index(name)] for name in COORDINATES}
    a_derivatives: dict[str, torch.Tensor | None] = {name: slopes.get(name) for name in channels}

    for index, layer in enumerate(model.hidden):
        if index > 0:
            stacked = torch.stack([h, *(h_derivatives[name] for name in channels)])
            # unbind, not indexing: its backward stacks the gradients instead of filling a
            # zero tensor of the full stack for each channel.
            a, *derivatives = torch.unbind(torch.matmul(stacked, layer.weight.T))
            a = a + layer.bias
            a_derivatives = dict(zip(channels, derivatives))
        h = torch.tanh(a)
        tanh_derivatives = _tanh_derivatives(h, max_order)
        h_derivatives = {}
        for name in channels:
            total = None
            for term in plan[name]:
                factors = [a_derivatives[block] for block in term.blocks]
                if any(factor is None for factor in factors):
                    continue
                value = tanh_derivatives[term.order - 1]
                for factor in factors:
                    value = value * factor
                if term.coefficient != 1:
                    value = term.coefficient * value
                total = value if total is None else total + value
            h_derivatives[name] = total if total is not None else torch.zeros_like(h)

    stacked = torch.stack([h, *(h_derivatives[name] for name in channels)])
    value, *derivatives = torch.unbind(torch.matmul(stacked, model.output.weight.T))
    return value + model.output.bias, dict(zip(channels, derivatives))


__all__ = ["COORDINATES", "TanhNetwork", "canonical_name", "derivative_plan", "mlp_derivatives"]
