"""Hidden fluid mechanics: velocity and pressure of the cylinder wake from a passive scalar alone.

After Raissi, Yazdani and Karniadakis (2020, Science 367, 1026-1030). A network maps (t, x, y)
to the concentration c of a passive scalar, the velocity (u, v) and the pressure p. It is trained
on observations of c only, and is constrained by the transport equation and the incompressible
Navier–Stokes equations through the residuals

    e1 = c_t + u c_x + v c_y - (c_xx + c_yy) / Pe
    e2 = u_t + u u_x + v u_y + p_x - (u_xx + u_yy) / Re
    e3 = v_t + u v_x + v v_y + p_y - (v_xx + v_yy) / Re
    e4 = u_x + v_y

For the cylinder wake (:func:`ml4es.flows.wake_dataset`) lengths are in D, times in D/U,
velocities in U and pressure in rho U^2, with Re = Pe = 100. The residuals need first and second
derivatives of all four outputs, which :func:`fluid_derivatives` propagates through the tanh
layers in closed form (:mod:`ml4es.pinns.taylor`); :func:`autograd_derivatives` takes them with
nested ``torch.autograd.grad`` as the reference. Tensors of points are columns of shape ``(n, 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from ml4es.pinns.navier_stokes import adam_with_decay, domain_bounds, lbfgs, relative_l2, remove_mean_pressure
from ml4es.pinns.taylor import COORDINATES, canonical_name, mlp_derivatives

FIELDS = ("c", "u", "v", "p")
"""Outputs of the network, in this order."""

DERIVATIVES = ("t", "x", "y", "xx", "yy")
"""Derivatives of every output that the residuals need, named by the coordinates they are taken in."""

OUTPUT_OFFSET = (0.5, 1.0, 0.0, 0.0)
OUTPUT_SCALE = (0.3, 0.3, 0.3, 0.3)
"""Default affine map from the last layer to (c, u, v, p).

c lies in [0, 1] (the inflow's peak concentration is 1). Lengths and times are scaled by D and U,
so u is about 1 away from the cylinder and v, p are of order 0.3. None of these uses velocity or
pressure data.
"""


# --- observations of c --------------------------------------------------------------------------


@dataclass
class Observations:
    """Observations of the passive scalar at scattered points of the data set's grid.

    ``t, x, y, c`` are column tensors of shape ``(n, 1)`` in D/U, D, D and the inflow's peak
    concentration. ``region`` is where they were drawn (see :func:`sample_concentration`) and
    ``noise`` the relative noise added to c.
    """

    t: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    c: torch.Tensor
    region: str = "window"
    noise: float = 0.0

    def __len__(self) -> int:
        return self.t.shape[0]

    def subset(self, index: torch.Tensor) -> Observations:
        """Return the observations at the row indices ``index``."""
        return Observations(self.t[index], self.x[index], self.y[index], self.c[index], self.region, self.noise)



def as_observations(samples: Observations | Sequence, region: str = "chosen", dtype: torch.dtype = torch.float32) -> Observations:
    """Return ``samples`` as an :class:`Observations`: four arrays or tensors (t, x, y, c) of one length.

    A reader's ``choose_samples`` may return any of the forms its checker accepts; training needs
    column tensors. An :class:`Observations` is returned unchanged.
    """
    if isinstance(samples, Observations):
        return samples
    if not isinstance(samples, (tuple, list)) or len(samples) != 4:
        raise ValueError(
            f"invalid samples of type {type(samples).__name__}; expected four arrays (t, x, y, c) or an Observations"
        )
    columns = {}
    for name, values in zip(("t", "x", "y", "c"), samples):
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().numpy()
        columns[name] = torch.as_tensor(np.array(values, dtype=np.float64).reshape(-1, 1), dtype=dtype)
    lengths = {name: column.shape[0] for name, column in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"invalid samples: t, x, y and c have different lengths {lengths}; expected one length")
    return Observations(**columns, region=region)

Region = str | Mapping[str, tuple[float, float]]
"""Sampling region for c: ``"window"``, ``"dye"`` or a box ``{"t": (min, max), "x": ..., "y": ...}``."""


def region_mask(dataset: xr.Dataset, region: Region = "window", threshold: float = 0.05) -> np.ndarray:
    """Return a boolean array ``(time, y, x)`` that is True at the grid points of ``region``.

    ``"window"`` is every grid point. ``"dye"`` is where c exceeds ``threshold``. A mapping
    selects a box: each of ``"t"``, ``"x"``, ``"y"`` it names limits that coordinate to
    ``(min, max)``, inclusive, in the units of the data set.
    """
    shape = dataset["c"].transpose("time", "y", "x").shape
    if isinstance(region, str):
        if region == "window":
            return np.ones(shape, dtype=bool)
        if region == "dye":
            if not (math.isfinite(threshold) and threshold >= 0):
                raise ValueError(f"invalid threshold {threshold}; expected a non-negative concentration such as 0.05")
            return dataset["c"].transpose("time", "y", "x").values > threshold
        raise ValueError(f"invalid region {region!r}; expected 'window', 'dye' or a mapping of (min, max) per coordinate")

    unknown = set(region) - set(COORDINATES)
    if unknown:
        raise ValueError(f"invalid region coordinates {sorted(unknown)}; expected some of {COORDINATES}")
    names = {"t": "time", "x": "x", "y": "y"}
    grid = dict(zip(("time", "y", "x"), np.meshgrid(dataset["time"].values, dataset["y"].values, dataset["x"].values, indexing="ij")))
    mask = np.ones(shape, dtype=bool)
    for name, (low, high) in region.items():
        if not low <= high:
            raise ValueError(f"invalid region {name} = ({low}, {high}); expected min <= max")
        values = grid[names[name]]
        mask &= (values >= low) & (values <= high)
    return mask


def sample_concentration(
    dataset: xr.Dataset,
    n: int = 50_000,
    region: Region = "window",
    threshold: float = 0.05,
    noise: float = 0.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Observations:
    """Draw ``n`` distinct grid points of ``region`` (all snapshots) at random, with c there.

    ``dataset`` contains c of shape ``(time, y, x)``; see :func:`region_mask` for ``region`` and
    ``threshold``. The noise is Gaussian with standard deviation ``noise`` times the standard
    deviation of the sampled c. ``seed`` fixes both the points and the noise.
    """
    if "c" not in dataset:
        raise ValueError("the data set has no variable c; expected the passive scalar's concentration")
    concentration = dataset["c"].transpose("time", "y", "x").values
    candidates = np.flatnonzero(region_mask(dataset, region, threshold))
    if not 1 <= n <= candidates.size:
        raise ValueError(f"invalid number of samples {n}; expected 1 to {candidates.size}, the grid points of region {region!r}")
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"invalid noise level {noise}; expected a non-negative fraction such as 0.01")

    generator = np.random.default_rng(seed)
    flat = np.sort(generator.choice(candidates, size=n, replace=False))
    index_t, index_y, index_x = np.unravel_index(flat, concentration.shape)
    c = concentration.reshape(-1)[flat].astype(np.float64)
    c = c + noise * c.std() * generator.standard_normal(n)
    columns = {
        "t": dataset["time"].values[index_t],
        "x": dataset["x"].values[index_x],
        "y": dataset["y"].values[index_y],
        "c": c,
    }
    tensors = {name: torch.as_tensor(values, dtype=dtype).reshape(-1, 1) for name, values in columns.items()}
    label = region if isinstance(region, str) else repr(dict(region))
    return Observations(**tensors, region=label, noise=float(noise))


def collocation_points(
    bounds: Mapping[str, tuple[float, float]], n: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``n`` points ``(t, x, y)`` drawn uniformly in ``bounds``, each ``(n, 1)``.

    The residuals need no data, so they can be evaluated anywhere in the window.
    """
    columns = []
    for name in COORDINATES:
        low, high = bounds[name]
        columns.append(low + (high - low) * torch.rand(n, 1, generator=generator, dtype=dtype))
    return columns[0], columns[1], columns[2]


# --- the network --------------------------------------------------------------------------------


class HiddenFluidPINN(nn.Module):
    """A tanh network (t, x, y) -> (c, u, v, p) with inputs mapped to [-1, 1].

    ``bounds`` gives the ``(min, max)`` of each coordinate (see
    :func:`ml4es.pinns.navier_stokes.domain_bounds`). The last layer's four outputs go through a
    fixed affine map, ``output_offset + output_scale * output``, so that a network near its
    initialisation already gives values of the right size (see :data:`OUTPUT_OFFSET`).
    ``first_layer_scale`` multiplies the first layer's Xavier-initialised weights, so that the
    first layer can follow oscillations faster than Xavier's scale allows.
    """

    def __init__(
        self,
        bounds: Mapping[str, tuple[float, float]],
        width: int = 50,
        depth: int = 6,
        first_layer_scale: float = 1.0,
        output_offset: Sequence[float] = OUTPUT_OFFSET,
        output_scale: Sequence[float] = OUTPUT_SCALE,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        if width < 1 or depth < 1:
            raise ValueError(f"invalid network size width={width}, depth={depth}; both must be >= 1")
        missing = [name for name in COORDINATES if name not in bounds]
        if missing:
            raise ValueError(f"bounds has no entry for {missing}; expected (min, max) for t, x and y")
        if len(output_offset) != len(FIELDS) or len(output_scale) != len(FIELDS):
            raise ValueError(f"output_offset and output_scale need {len(FIELDS)} values, one for each of {FIELDS}")
        low = torch.tensor([bounds[name][0] for name in COORDINATES], dtype=dtype)
        high = torch.tensor([bounds[name][1] for name in COORDINATES], dtype=dtype)
        if not bool((high > low).all()):
            raise ValueError(f"invalid bounds {dict(bounds)}; expected min < max in each coordinate")

        self.width = width
        self.depth = depth
        # z = scale * coordinate + shift maps [min, max] to [-1, 1], so scale is dz/dcoordinate.
        self.register_buffer("scale", 2 / (high - low))
        self.register_buffer("shift", -(high + low) / (high - low))
        self.register_buffer("output_offset", torch.tensor(list(output_offset), dtype=dtype))
        self.register_buffer("output_scale", torch.tensor(list(output_scale), dtype=dtype))
        sizes = [len(COORDINATES)] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:]))
        self.output = nn.Linear(width, len(FIELDS), dtype=dtype)
        for layer in [*self.hidden, self.output]:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
        with torch.no_grad():
            self.hidden[0].weight.mul_(first_layer_scale)

    def normalise(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return the inputs mapped to [-1, 1], as one ``(n, 3)`` tensor."""
        return torch.cat([t, x, y], dim=1) * self.scale + self.shift

    def forward(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return c, u, v and p at the points ``(t, x, y)``, each ``(n, 1)``."""
        h = self.normalise(t, x, y)
        for layer in self.hidden:
            h = torch.tanh(layer(h))
        out = self.output_offset + self.output_scale * self.output(h)
        return tuple(torch.split(out, 1, dim=1))


# --- derivatives --------------------------------------------------------------------------------


def fluid_derivatives(
    model: HiddenFluidPINN,
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    names: Sequence[str] = DERIVATIVES,
) -> dict[str, torch.Tensor]:
    """Return c, u, v, p and their derivatives ``names`` at ``(t, x, y)``, in closed form.

    The keys are the field names and ``"<field>_<derivative>"`` (for example ``"u_xx"``), each
    ``(n, 1)`` and differentiable with respect to the weights.
    """
    raw, raw_derivatives = mlp_derivatives(model, t, x, y, names)
    value = model.output_offset + model.output_scale * raw
    result = dict(zip(FIELDS, torch.split(value, 1, dim=1)))
    for name, derivative in raw_derivatives.items():
        for field, column in zip(FIELDS, torch.split(model.output_scale * derivative, 1, dim=1)):
            result[f"{field}_{name}"] = column
    return result


def autograd_derivatives(
    model: nn.Module,
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    names: Sequence[str] = DERIVATIVES,
) -> dict[str, torch.Tensor]:
    """Return the same dictionary as :func:`fluid_derivatives`, by nested ``torch.autograd.grad``.

    ``model(t, x, y)`` may be any module that returns c, u, v and p as ``(n, 1)`` tensors (an
    analytic flow, for instance). Each derivative is the gradient of a lower one (u_xx from u_x)
    with ``create_graph=True``, so the results can be differentiated with respect to the weights.
    """
    inputs = {name: value.detach().clone().requires_grad_(True) for name, value in zip(COORDINATES, (t, x, y))}
    result = dict(zip(FIELDS, model(inputs["t"], inputs["x"], inputs["y"])))
    for name in sorted((canonical_name(name) for name in names), key=len):
        for field in FIELDS:
            parent = result[field] if len(name) == 1 else result[f"{field}_{name[:-1]}"]
            (gradient,) = torch.autograd.grad(
                parent, inputs[name[-1]], grad_outputs=torch.ones_like(parent), create_graph=True, allow_unused=True
            )
            result[f"{field}_{name}"] = gradient if gradient is not None else torch.zeros_like(parent)
    return result


# --- the equations ------------------------------------------------------------------------------


def transport_residual(d: Mapping[str, torch.Tensor], peclet: float) -> torch.Tensor:
    """Return e1 = c_t + u c_x + v c_y - (c_xx + c_yy) / Pe from a dictionary of derivatives."""
    return d["c_t"] + d["u"] * d["c_x"] + d["v"] * d["c_y"] - (d["c_xx"] + d["c_yy"]) / peclet


def momentum_residuals(d: Mapping[str, torch.Tensor], reynolds: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return e2 (x) and e3 (y), the momentum equations' residuals, from a dictionary of derivatives."""
    e2 = d["u_t"] + d["u"] * d["u_x"] + d["v"] * d["u_y"] + d["p_x"] - (d["u_xx"] + d["u_yy"]) / reynolds
    e3 = d["v_t"] + d["u"] * d["v_x"] + d["v"] * d["v_y"] + d["p_y"] - (d["v_xx"] + d["v_yy"]) / reynolds
    return e2, e3


def continuity_residual(d: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Return e4 = u_x + v_y, the divergence of the velocity."""
    return d["u_x"] + d["v_y"]


def residuals(d: Mapping[str, torch.Tensor], reynolds: float, peclet: float) -> tuple[torch.Tensor, ...]:
    """Return the four residuals (e1, e2, e3, e4), each ``(n, 1)``."""
    e2, e3 = momentum_residuals(d, reynolds)
    return transport_residual(d, peclet), e2, e3, continuity_residual(d)


def loss_terms(
    model: HiddenFluidPINN,
    observations: Observations,
    reynolds: float,
    peclet: float,
    collocation: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    fast: bool = True,
) -> dict[str, torch.Tensor]:
    """Return the data misfit and the mean squared residuals.

    ``data`` is mean((c - c_obs)^2) at the observations. The residuals are evaluated at the
    observation points and, when given, at the extra ``collocation`` points (see
    :func:`collocation_points`). ``transport``, ``momentum`` and ``continuity`` are the means of
    e1^2, e2^2 + e3^2 and e4^2 there, and ``pde`` is their sum. ``fast`` selects
    :func:`fluid_derivatives` over :func:`autograd_derivatives`.
    """
    points = [observations.t, observations.x, observations.y]
    if collocation is not None:
        points = [torch.cat([a, b]) for a, b in zip(points, collocation)]
    derivative_fn = fluid_derivatives if fast else autograd_derivatives
    d = derivative_fn(model, *points)

    e1, e2, e3, e4 = residuals(d, reynolds, peclet)
    n = len(observations)
    terms = {
        "data": ((d["c"][:n] - observations.c) ** 2).mean(),
        "transport": (e1**2).mean(),
        "momentum": (e2**2 + e3**2).mean(),
        "continuity": (e4**2).mean(),
    }
    terms["pde"] = terms["transport"] + terms["momentum"] + terms["continuity"]
    return terms


def loss(
    model: HiddenFluidPINN,
    observations: Observations,
    reynolds: float,
    peclet: float,
    collocation: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    data_weight: float = 1.0,
    fast: bool = True,
) -> torch.Tensor:
    """Return the training loss ``data_weight * data + pde`` (see :func:`loss_terms`)."""
    terms = loss_terms(model, observations, reynolds, peclet, collocation, fast)
    return data_weight * terms["data"] + terms["pde"]


# --- training -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HiddenFluidRecipe:
    """Training recipe of ``scripts/train_hidden_fluid_pinn.py``, which makes the shipped weights.

    Each Adam step draws ``batch_size`` of the ``observations`` c samples and ``collocation``
    fresh points uniform in the window, and the residuals are taken at both. Adam's learning
    rate decays geometrically from ``learning_rate`` to ``final_learning_rate`` over
    ``adam_steps``. Full-batch L-BFGS on ``lbfgs_points`` of the observations follows for
    ``lbfgs_steps`` iterations (none when 0). The defaults are those of the run that made the
    shipped weights, so the script with no options trains the same recipe again.
    """

    observations: int = 50_000
    region: str = "window"
    batch_size: int = 2_000
    collocation: int = 1_000
    # 6 x 50 took about 0.05 s per Adam step at 1 thread (2,000 + 1,000 points, uncompiled), so an
    # hour gives tens of thousands of steps. Raissi et al.'s 10 x 200 has about 30 times as many
    # hidden weights (360,000 against 12,500), and a step costs roughly in proportion. A 5 x 100
    # network learnt more per step but less per minute: after 5 minutes its v error was 0.69,
    # against 0.58 for 6 x 50.
    width: int = 50
    depth: int = 6
    # Xavier's first layer is too smooth for the 3.6 shedding periods, as in the Navier-Stokes PINN.
    first_layer_scale: float = 5.0
    # With weight 1, 1,500 Adam steps stayed at a steady c with u near 0 (c error 31 %). With 10
    # and the learning rate below, c came first (c error 6 % after 2,000 steps) and v followed.
    data_weight: float = 10.0
    # The v error reached 0.88 after 4,500 steps at 2e-3 and after 2,500 at 5e-3. At 1e-2 it
    # reached 0.58 after 4,000 steps, where 5e-3 needed 8,500.
    learning_rate: float = 1e-2
    final_learning_rate: float = 1e-4
    # The shipped run took 70,000 Adam steps in 54 minutes and then 9,064 L-BFGS iterations in 33,
    # with torch.compile at 1 thread on a shared 2-core machine. Its command allowed 20,000 L-BFGS
    # iterations, but its 87-minute limit stopped it first, so the default is the count it took.
    adam_steps: int = 70_000
    lbfgs_points: int = 10_000
    lbfgs_steps: int = 9_064
    seed: int = 0


def network_from_recipe(bounds: Mapping[str, tuple[float, float]], recipe: HiddenFluidRecipe) -> HiddenFluidPINN:
    """Return a freshly initialised network with the size and first-layer scale of ``recipe``."""
    return HiddenFluidPINN(bounds, recipe.width, recipe.depth, recipe.first_layer_scale)


History = dict[str, list[float]]
"""Loss and its terms after each optimiser step (keys ``loss``, ``data``, ``pde``)."""

Callback = Callable[[str, int, float], bool]
"""Function called after each step with the phase name, the step and the loss. Returning True stops training."""


def train(
    model: HiddenFluidPINN,
    observations: Observations,
    optimizer: torch.optim.Optimizer,
    steps: int,
    reynolds: float,
    peclet: float,
    batch_size: int | None = None,
    collocation: int = 0,
    data_weight: float = 1.0,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    seed: int = 0,
    compile: bool = False,
    description: str = "training",
    progress: bool = True,
    callback: Callback | None = None,
) -> History:
    """Take ``steps`` steps of ``optimizer`` on :func:`loss` and return the history.

    With ``batch_size`` (None: all observations), each step draws that many observations at
    random, plus ``collocation`` uniform points in the window for the residuals. One step of
    L-BFGS evaluates its line search on the same batch. The draws come from a generator seeded
    with ``seed``. ``compile`` passes the loss through ``torch.compile``, which fuses the many
    small element-wise operations of the closed-form derivatives; the first step then compiles
    (tens of seconds). A NaN or infinite loss raises ``FloatingPointError`` naming the step.
    """
    if steps < 0:
        raise ValueError(f"invalid number of steps {steps}; expected a non-negative integer")
    n = len(observations)
    if batch_size is not None and not 1 <= batch_size <= n:
        raise ValueError(f"invalid batch size {batch_size}; expected 1 to {n}, the number of observations")
    parameter = next(model.parameters())
    generator = torch.Generator().manual_seed(seed)
    bounds = {name: (float(low), float(high)) for name, low, high in zip(COORDINATES, *_window(model))}

    terms_fn = torch.compile(_loss_terms_of_tensors) if compile else _loss_terms_of_tensors

    history: History = {"loss": [], "data": [], "pde": []}
    bar = tqdm(range(steps), desc=description, disable=not progress, mininterval=0.5)
    for step in bar:
        batch = observations
        if batch_size is not None and batch_size < n:
            batch = observations.subset(torch.randperm(n, generator=generator)[:batch_size])
        extra = collocation_points(bounds, collocation, generator, parameter.dtype) if collocation > 0 else None
        terms: dict[str, torch.Tensor] = {}

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            terms.update(terms_fn(model, batch.t, batch.x, batch.y, batch.c, extra, reynolds, peclet))
            value = data_weight * terms["data"] + terms["pde"]
            value.backward()
            return value

        value = float(optimizer.step(closure).detach())
        if not math.isfinite(value):
            bar.close()
            raise FloatingPointError(f"the loss became {value} at {description} step {step}; lower the learning rate")
        if scheduler is not None:
            scheduler.step()
        history["loss"].append(value)
        history["data"].append(float(terms["data"].detach()))
        history["pde"].append(float(terms["pde"].detach()))
        if step % 10 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{value:.2e}", data=f"{history['data'][-1]:.2e}", refresh=False)
        if callback is not None and callback(description, step, value):
            break
    bar.close()
    return history


def _loss_terms_of_tensors(
    model: HiddenFluidPINN,
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    c: torch.Tensor,
    collocation: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
    reynolds: float,
    peclet: float,
) -> dict[str, torch.Tensor]:
    """Return :func:`loss_terms` for observations given as tensors, a form that ``torch.compile`` traces."""
    return loss_terms(model, Observations(t, x, y, c), reynolds, peclet, collocation)


def _window(model: HiddenFluidPINN) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the lower and upper bounds of t, x, y that the model's input normalisation maps to [-1, 1]."""
    low = (-1 - model.shift) / model.scale
    high = (1 - model.shift) / model.scale
    return low.detach().cpu(), high.detach().cpu()


# --- evaluation ---------------------------------------------------------------------------------


def predict(
    model: HiddenFluidPINN, dataset: xr.Dataset, time_indices: Sequence[int] | None = None, chunk: int = 200_000
) -> xr.Dataset:
    """Return the network's c, u, v, p on the grid of ``dataset`` as a data set like it.

    ``time_indices`` selects snapshots (all by default). The points are evaluated in chunks of
    ``chunk`` without building a graph.
    """
    selected = dataset if time_indices is None else dataset.isel(time=list(time_indices))
    parameter = next(model.parameters())
    grid_t, grid_y, grid_x = np.meshgrid(selected["time"].values, selected["y"].values, selected["x"].values, indexing="ij")
    points = [torch.as_tensor(grid.reshape(-1, 1), dtype=parameter.dtype, device=parameter.device) for grid in (grid_t, grid_x, grid_y)]

    outputs: dict[str, list[np.ndarray]] = {name: [] for name in FIELDS}
    with torch.no_grad():
        for start in range(0, points[0].shape[0], chunk):
            values = model(*(value[start : start + chunk] for value in points))
            for name, value in zip(FIELDS, values):
                outputs[name].append(value.double().cpu().numpy().ravel())

    shape = grid_t.shape
    variables = {
        name: (("time", "y", "x"), np.concatenate(values).reshape(shape), dict(selected[name].attrs) if name in selected else {})
        for name, values in outputs.items()
    }
    coords = {name: selected[name] for name in ("time", "y", "x")}
    return xr.Dataset(variables, coords=coords, attrs={"title": "hidden fluid mechanics PINN prediction"})


def evaluate(model: HiddenFluidPINN, dataset: xr.Dataset, time_indices: Sequence[int] | None = None) -> dict[str, float]:
    """Return the relative L2 errors of c, u, v and p (p with its spatial mean removed per snapshot).

    Errors are taken over every grid point of the selected snapshots (all by default), with the
    same definitions as :func:`ml4es.pinns.navier_stokes.evaluate`.
    """
    reference = dataset if time_indices is None else dataset.isel(time=list(time_indices))
    predicted = predict(model, dataset, time_indices)
    return {
        "c_error": relative_l2(predicted["c"], reference["c"]),
        "u_error": relative_l2(predicted["u"], reference["u"]),
        "v_error": relative_l2(predicted["v"], reference["v"]),
        "p_error": relative_l2(remove_mean_pressure(predicted["p"]), remove_mean_pressure(reference["p"])),
    }


def velocity_error_map(predicted: xr.Dataset, reference: xr.Dataset) -> xr.DataArray:
    """Return the root mean square over time of the velocity error's magnitude, ``(y, x)`` in U.

    At each grid point, sqrt(mean over snapshots of (u - u_ref)^2 + (v - v_ref)^2).
    """
    squared = (predicted["u"] - reference["u"]) ** 2 + (predicted["v"] - reference["v"]) ** 2
    result = np.sqrt(squared.mean(dim="time"))
    result.attrs = {"long_name": "RMS velocity error", "units": "U"}
    return result.rename("velocity_error")


def scalar_gradient_map(dataset: xr.Dataset) -> xr.DataArray:
    """Return the root mean square over time of |grad c|, ``(y, x)`` in concentration per D.

    Velocity is observable through the transport equation only along grad c, so this map shows
    where the data constrain the flow.
    """
    c = dataset["c"].transpose("time", "y", "x")
    c_y, c_x = np.gradient(c.values, dataset["y"].values, dataset["x"].values, axis=(1, 2))
    values = np.sqrt((c_x**2 + c_y**2).mean(axis=0))
    return xr.DataArray(
        values, coords={"y": dataset["y"], "x": dataset["x"]}, dims=("y", "x"), name="scalar_gradient",
        attrs={"long_name": "RMS |grad c|", "units": "1/D"},
    )


__all__ = [
    "DERIVATIVES",
    "FIELDS",
    "HiddenFluidPINN",
    "HiddenFluidRecipe",
    "Observations",
    "adam_with_decay",
    "autograd_derivatives",
    "collocation_points",
    "continuity_residual",
    "domain_bounds",
    "evaluate",
    "fluid_derivatives",
    "lbfgs",
    "loss",
    "loss_terms",
    "momentum_residuals",
    "network_from_recipe",
    "predict",
    "region_mask",
    "residuals",
    "sample_concentration",
    "scalar_gradient_map",
    "train",
    "transport_residual",
    "velocity_error_map",
]
