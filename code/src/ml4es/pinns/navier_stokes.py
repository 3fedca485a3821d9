"""A PINN that discovers the coefficients of the 2-D incompressible Navier–Stokes equations.

The network maps (t, x, y) to a stream function psi and a pressure p. The velocities u = psi_y,
v = -psi_x are divergence-free by construction, and the unknown coefficients lambda1 (advection)
and lambda2 (viscosity) of

    u_t + lambda1 (u u_x + v u_y) = -p_x + lambda2 (u_xx + u_yy)
    v_t + lambda1 (u v_x + v v_y) = -p_y + lambda2 (v_xx + v_yy)

are learnt together with the weights from scattered samples of u and v. For the cylinder wake
(:func:`ml4es.flows.wake_dataset`) lengths are in D, times in D/U and pressure in rho U^2, so the
true values are lambda1 = 1 and lambda2 = 1/Re.

The residuals need derivatives of psi up to third order. :func:`flow_derivatives` propagates them
forward through the tanh layers in closed form (Taylor mode, :mod:`ml4es.pinns.taylor`), as extra
channels of one batched matrix product per layer; :func:`autograd_derivatives` takes them with nested
``torch.autograd.grad`` calls and serves as the reference. Tensors of points are columns of shape
``(n, 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from ml4es.pinns.taylor import COORDINATES, canonical_name, derivative_plan, mlp_derivatives


DERIVATIVES = ("t", "x", "y", "tx", "ty", "xx", "xy", "yy", "xxx", "xxy", "xyy", "yyy")
"""Derivatives of psi (and p) that the residuals need, named by the coordinates they are taken in."""

VELOCITY_DERIVATIVES = ("x", "y")
"""Derivatives that give u, v (from psi) and the pressure gradient (from p)."""


# --- samples ------------------------------------------------------------------------------------


@dataclass
class Samples:
    """Velocity (and, for evaluation only, pressure) samples at scattered points.

    ``t, x, y, u, v, p`` are column tensors of shape ``(n, 1)`` in the units of the data set (D/U,
    D, U and rho U^2). ``noise`` is the relative noise level added to u and v; p is never noisy
    because the PINN does not see it.
    """

    t: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor
    p: torch.Tensor
    noise: float

    def __len__(self) -> int:
        return self.t.shape[0]


def domain_bounds(dataset: xr.Dataset) -> dict[str, tuple[float, float]]:
    """Return the ``(min, max)`` of t, x and y over the data set's coordinates ``time``, ``x``, ``y``."""
    names = {"t": "time", "x": "x", "y": "y"}
    return {name: (float(dataset[names[name]].min()), float(dataset[names[name]].max())) for name in COORDINATES}


def sample_wake(
    dataset: xr.Dataset,
    n: int = 5000,
    noise: float = 0.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Samples:
    """Draw ``n`` distinct grid points of ``dataset`` (all snapshots) at random, with noise on u, v.

    ``dataset`` contains u, v, p of shape ``(time, y, x)``. The noise is Gaussian with standard
    deviation ``noise`` times the standard deviation of the sampled u (for u) and of v (for v), as in
    Raissi et al. (2019), so ``noise=0.01`` is "1 % noise". ``seed`` fixes both the points and
    the noise.
    """
    missing = [name for name in ("u", "v", "p") if name not in dataset]
    if missing:
        raise ValueError(f"the data set has no variable(s) {missing}; expected u, v and p")
    fields = {name: dataset[name].transpose("time", "y", "x").values for name in ("u", "v", "p")}
    total = fields["u"].size
    if not 1 <= n <= total:
        raise ValueError(f"invalid number of samples {n}; expected 1 to {total}, the number of grid points")
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"invalid noise level {noise}; expected a non-negative fraction such as 0.01")

    generator = np.random.default_rng(seed)
    flat = np.sort(generator.choice(total, size=n, replace=False))
    index_t, index_y, index_x = np.unravel_index(flat, fields["u"].shape)
    columns = {
        "t": dataset["time"].values[index_t],
        "x": dataset["x"].values[index_x],
        "y": dataset["y"].values[index_y],
    }
    for name in ("u", "v", "p"):
        columns[name] = fields[name].reshape(-1)[flat].astype(np.float64)
    for name in ("u", "v"):
        columns[name] = columns[name] + noise * columns[name].std() * generator.standard_normal(n)

    tensors = {name: torch.as_tensor(values, dtype=dtype).reshape(-1, 1) for name, values in columns.items()}
    return Samples(**tensors, noise=float(noise))


# --- the network --------------------------------------------------------------------------------


class NavierStokesPINN(nn.Module):
    """A tanh network (t, x, y) -> (psi, p) with learnable lambda1 and lambda2.

    ``bounds`` gives the ``(min, max)`` of each coordinate (see :func:`domain_bounds`). Each input
    is mapped linearly to [-1, 1] before the first layer. Both coefficients start at 0 by default,
    as in Raissi et al. (2019). ``first_layer_scale`` multiplies the first layer's Xavier-initialised
    weights (see :class:`InverseRecipe` for why).
    """

    def __init__(
        self,
        bounds: dict[str, tuple[float, float]],
        width: int = 20,
        depth: int = 8,
        lambda1_guess: float = 0.0,
        lambda2_guess: float = 0.0,
        first_layer_scale: float = 1.0,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        if width < 1 or depth < 1:
            raise ValueError(f"invalid network size width={width}, depth={depth}; both must be >= 1")
        missing = [name for name in COORDINATES if name not in bounds]
        if missing:
            raise ValueError(f"bounds has no entry for {missing}; expected (min, max) for t, x and y")
        low = torch.tensor([bounds[name][0] for name in COORDINATES], dtype=dtype)
        high = torch.tensor([bounds[name][1] for name in COORDINATES], dtype=dtype)
        if not bool((high > low).all()):
            raise ValueError(f"invalid bounds {bounds}; expected min < max in each coordinate")

        self.width = width
        self.depth = depth
        # z = scale * coordinate + shift maps [min, max] to [-1, 1], so scale is dz/dcoordinate.
        self.register_buffer("scale", 2 / (high - low))
        self.register_buffer("shift", -(high + low) / (high - low))
        sizes = [len(COORDINATES)] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:]))
        self.output = nn.Linear(width, 2, dtype=dtype)
        for layer in [*self.hidden, self.output]:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
        with torch.no_grad():
            self.hidden[0].weight.mul_(first_layer_scale)

        # NOTE: a run that stored log(lambda2) and started it at 0.1 stalled at the loss of the mean
        # flow (0.117) for 1,800 Adam steps, so lambda2 is learnt directly from 0.
        self.lambda1 = nn.Parameter(torch.tensor(float(lambda1_guess), dtype=dtype))
        self.lambda2 = nn.Parameter(torch.tensor(float(lambda2_guess), dtype=dtype))

    def normalise(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return the inputs mapped to [-1, 1], as one ``(n, 3)`` tensor."""
        return torch.cat([t, x, y], dim=1) * self.scale + self.shift

    def forward(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return psi and p at the points ``(t, x, y)``, each ``(n, 1)``."""
        h = self.normalise(t, x, y)
        for layer in self.hidden:
            h = torch.tanh(layer(h))
        out = self.output(h)
        return out[:, :1], out[:, 1:]


def flow_derivatives(
    model: NavierStokesPINN,
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    names: Sequence[str] = DERIVATIVES,
) -> dict[str, torch.Tensor]:
    """Return psi, p and their derivatives ``names`` at ``(t, x, y)``, propagated in closed form.

    The keys are ``"psi"``, ``"p"``, ``"psi_<name>"`` and ``"p_<name>"`` (for example
    ``"psi_xxy"``), each ``(n, 1)`` and differentiable with respect to the weights. See
    :func:`ml4es.pinns.taylor.mlp_derivatives` for how they are propagated.
    """
    value, derivatives = mlp_derivatives(model, t, x, y, names)
    psi, p = torch.split(value, 1, dim=1)
    result = {"psi": psi, "p": p}
    for name, derivative in derivatives.items():
        result[f"psi_{name}"], result[f"p_{name}"] = torch.split(derivative, 1, dim=1)
    return result


def autograd_derivatives(
    model: NavierStokesPINN,
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    names: Sequence[str] = DERIVATIVES,
) -> dict[str, torch.Tensor]:
    """Return the same dictionary as :func:`flow_derivatives`, by nested ``torch.autograd.grad``.

    Each derivative is the gradient of a lower one (psi_xxy from psi_xx, and so on) with
    ``create_graph=True``, so the results can be differentiated with respect to the weights.
    Only the first derivatives of p are taken, because the residuals need no others.
    """
    inputs = {name: value.detach().clone().requires_grad_(True) for name, value in zip(COORDINATES, (t, x, y))}
    psi, p = model(inputs["t"], inputs["x"], inputs["y"])
    result = {"psi": psi, "p": p}
    for name in sorted((canonical_name(name) for name in names), key=len):
        for field in ("psi", "p") if len(name) == 1 else ("psi",):
            parent = result[field] if len(name) == 1 else result[f"{field}_{name[:-1]}"]
            (gradient,) = torch.autograd.grad(
                parent, inputs[name[-1]], grad_outputs=torch.ones_like(parent), create_graph=True, allow_unused=True
            )
            result[f"{field}_{name}"] = gradient if gradient is not None else torch.zeros_like(parent)
    return result


# --- the equations ------------------------------------------------------------------------------


def velocities(derivatives: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Return u = psi_y and v = -psi_x from a dictionary of derivatives of psi."""
    return derivatives["psi_y"], -derivatives["psi_x"]


def residuals(
    derivatives: dict[str, torch.Tensor], lambda1, lambda2
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the momentum residuals f (x) and g (y) from the derivatives of psi and p.

    With u = psi_y and v = -psi_x: u_t = psi_ty, u_x = psi_xy, u_y = psi_yy, v_x = -psi_xx,
    v_y = -psi_xy, u_xx + u_yy = psi_xxy + psi_yyy and v_xx + v_yy = -(psi_xxx + psi_xyy).
    """
    d = derivatives
    u, v = velocities(d)
    u_t, u_x, u_y = d["psi_ty"], d["psi_xy"], d["psi_yy"]
    v_t, v_x, v_y = -d["psi_tx"], -d["psi_xx"], -d["psi_xy"]
    laplacian_u = d["psi_xxy"] + d["psi_yyy"]
    laplacian_v = -(d["psi_xxx"] + d["psi_xyy"])

    f = u_t + lambda1 * (u * u_x + v * u_y) + d["p_x"] - lambda2 * laplacian_u
    g = v_t + lambda1 * (u * v_x + v * v_y) + d["p_y"] - lambda2 * laplacian_v
    return f, g


def loss_terms(model: NavierStokesPINN, samples: Samples, fast: bool = True) -> dict[str, torch.Tensor]:
    """Return the data misfit and the mean squared residual at the samples.

    ``data`` is mean((u - u_obs)^2 + (v - v_obs)^2) and ``pde`` is mean(f^2 + g^2), both at the
    sample points. ``fast`` selects :func:`flow_derivatives` over :func:`autograd_derivatives`.
    """
    derivative_fn = flow_derivatives if fast else autograd_derivatives
    d = derivative_fn(model, samples.t, samples.x, samples.y)
    u, v = velocities(d)
    f, g = residuals(d, model.lambda1, model.lambda2)
    data = ((u - samples.u) ** 2 + (v - samples.v) ** 2).mean()
    pde = (f**2 + g**2).mean()
    return {"data": data, "pde": pde}


def loss(model: NavierStokesPINN, samples: Samples, fast: bool = True) -> torch.Tensor:
    """Return the training loss: data misfit + mean squared residual (see :func:`loss_terms`)."""
    terms = loss_terms(model, samples, fast)
    return terms["data"] + terms["pde"]


def loss_function(model: NavierStokesPINN, samples: Samples, fast: bool = True, compile: bool = False) -> Callable[[], torch.Tensor]:
    """Return a function of no arguments that computes :func:`loss` on ``samples``.

    With ``compile``, the function goes through ``torch.compile``, which fuses the many small
    element-wise operations of :func:`flow_derivatives` and their gradients into a few loops.
    The first call compiles (a minute on a busy 2-core machine); later calls were about 3 times
    faster than the uncompiled fast path in ``benchmarks/ns_pinn.py``.
    """

    def compute() -> torch.Tensor:
        return loss(model, samples, fast)

    return torch.compile(compute) if compile else compute


# --- training -----------------------------------------------------------------------------------


History = dict[str, list[float]]
"""Loss, lambda1 and lambda2 after each optimiser step (keys ``loss``, ``lambda1``, ``lambda2``)."""

Callback = Callable[[str, int, float], bool]
"""Called after each step with the phase name, the step and the loss; returning True stops training."""


@dataclass(frozen=True)
class InverseRecipe:
    """How the shipped weights were trained (``scripts/train_ns_inverse_pinn.py``).

    Adam's learning rate decays geometrically from ``learning_rate`` to ``final_learning_rate``
    over ``adam_steps``; L-BFGS follows for at most ``lbfgs_steps`` iterations. The script also
    stops after a time budget, so its record gives the number of steps taken.
    """

    samples: int = 5000
    width: int = 20
    # Xavier's first layer varies by about 0.3 across [-1, 1], while the wake oscillates 3.6 times
    # over the normalised t. Fitting u, v alone with Adam (lr 1e-3) stayed at the mean flow's misfit
    # (0.117) for 800 steps at scale 1, but reached 0.086 after 500 steps at scale 5.
    first_layer_scale: float = 5.0
    depth: int = 8
    lambda1_guess: float = 0.0
    lambda2_guess: float = 0.0
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-4
    adam_steps: int = 1000
    lbfgs_steps: int = 50_000
    seed: int = 0


def network_from_recipe(bounds: dict[str, tuple[float, float]], recipe: InverseRecipe) -> NavierStokesPINN:
    """Return a freshly initialised network with the size, initial lambdas and first-layer scale of ``recipe``."""
    return NavierStokesPINN(
        bounds, recipe.width, recipe.depth, recipe.lambda1_guess, recipe.lambda2_guess, recipe.first_layer_scale
    )


def adam_with_decay(model: nn.Module, recipe: InverseRecipe) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.ExponentialLR]:
    """Return Adam and a scheduler that decays its learning rate as ``recipe`` sets, once per step."""
    adam = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate)
    decay = (recipe.final_learning_rate / recipe.learning_rate) ** (1 / max(recipe.adam_steps, 1))
    return adam, torch.optim.lr_scheduler.ExponentialLR(adam, gamma=decay)


def lbfgs(parameters: Iterable[torch.Tensor], history_size: int = 50) -> torch.optim.LBFGS:
    """Return L-BFGS with a strong Wolfe line search, one iteration per ``step`` call.

    ``max_eval`` must be set with ``max_iter=1``: torch 2.13 gives the line search
    ``max_eval - 1`` evaluations, and the default ``max_eval`` of 1 leaves it none.
    """
    return torch.optim.LBFGS(
        parameters,
        lr=1.0,
        max_iter=1,
        max_eval=26,
        history_size=history_size,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )


def train(
    model: NavierStokesPINN,
    samples: Samples,
    optimizer: torch.optim.Optimizer,
    steps: int,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    loss_fn: Callable[[], torch.Tensor] | None = None,
    description: str = "training",
    progress: bool = True,
    callback: Callback | None = None,
) -> History:
    """Take ``steps`` steps of ``optimizer`` on :func:`loss` and return the history.

    ``loss_fn`` replaces ``loss(model, samples)`` (for example a compiled version of it).
    The progress bar shows the loss and the current lambdas. A NaN or infinite loss raises
    ``FloatingPointError`` naming the step.
    """
    if steps < 0:
        raise ValueError(f"invalid number of steps {steps}; expected a non-negative integer")
    loss_fn = loss_fn or (lambda: loss(model, samples))

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        value = loss_fn()
        value.backward()
        return value

    history: History = {"loss": [], "lambda1": [], "lambda2": []}
    bar = tqdm(range(steps), desc=description, disable=not progress, mininterval=0.5)
    for step in bar:
        value = float(optimizer.step(closure).detach())
        if not math.isfinite(value):
            bar.close()
            raise FloatingPointError(f"the loss became {value} at {description} step {step}; lower the learning rate")
        if scheduler is not None:
            scheduler.step()
        history["loss"].append(value)
        history["lambda1"].append(float(model.lambda1.detach()))
        history["lambda2"].append(float(model.lambda2.detach()))
        if step % 10 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{value:.2e}", lambda1=f"{history['lambda1'][-1]:.4f}", lambda2=f"{history['lambda2'][-1]:.5f}", refresh=False)
        if callback is not None and callback(description, step, value):
            break
    bar.close()
    return history


# --- evaluation ---------------------------------------------------------------------------------


def predict(
    model: NavierStokesPINN, dataset: xr.Dataset, time_indices: Sequence[int] | None = None, chunk: int = 200_000
) -> xr.Dataset:
    """Return the network's u, v, p on the grid of ``dataset`` as a data set like it.

    ``time_indices`` selects snapshots (all by default). The points are evaluated in chunks of
    ``chunk`` with only first derivatives, without building a graph.
    """
    selected = dataset if time_indices is None else dataset.isel(time=list(time_indices))
    parameter = next(model.parameters())
    grid_t, grid_y, grid_x = np.meshgrid(selected["time"].values, selected["y"].values, selected["x"].values, indexing="ij")
    points = [torch.as_tensor(grid.reshape(-1, 1), dtype=parameter.dtype, device=parameter.device) for grid in (grid_t, grid_x, grid_y)]

    outputs: dict[str, list[np.ndarray]] = {"u": [], "v": [], "p": []}
    with torch.no_grad():
        for start in range(0, points[0].shape[0], chunk):
            t, x, y = (value[start : start + chunk] for value in points)
            d = flow_derivatives(model, t, x, y, names=VELOCITY_DERIVATIVES)
            u, v = velocities(d)
            for name, value in (("u", u), ("v", v), ("p", d["p"])):
                outputs[name].append(value.double().cpu().numpy().ravel())

    shape = grid_t.shape
    variables = {
        name: (("time", "y", "x"), np.concatenate(values).reshape(shape), dict(selected[name].attrs))
        for name, values in outputs.items()
    }
    coords = {name: selected[name] for name in ("time", "y", "x")}
    return xr.Dataset(variables, coords=coords, attrs={"title": "PINN prediction"})


def remove_mean_pressure(p: xr.DataArray) -> xr.DataArray:
    """Return p minus its spatial mean at each time: the PINN's pressure is known up to a function of t."""
    return p - p.mean(dim=("y", "x"))


def relative_l2(predicted, reference) -> float:
    """Return ||predicted - reference|| / ||reference|| over all entries."""
    predicted = np.asarray(predicted, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    return float(np.linalg.norm(predicted - reference) / np.linalg.norm(reference))


def lambda_errors(model: NavierStokesPINN, reynolds: float) -> dict[str, float]:
    """Return lambda1, lambda2 and their relative errors against 1 and 1/Re."""
    lambda1 = float(model.lambda1.detach())
    lambda2 = float(model.lambda2.detach())
    return {
        "lambda1": lambda1,
        "lambda2": lambda2,
        "lambda1_error": abs(lambda1 - 1.0),
        "lambda2_error": abs(lambda2 * reynolds - 1.0),
    }


def evaluate(model: NavierStokesPINN, dataset: xr.Dataset, time_indices: Sequence[int] | None = None) -> dict[str, float]:
    """Return the relative L2 errors of u, v and p (spatial mean removed per snapshot) and the lambdas.

    Errors are taken over every grid point of the selected snapshots (all by default), with the
    Reynolds number from the data set's ``reynolds_number`` attribute.
    """
    reference = dataset if time_indices is None else dataset.isel(time=list(time_indices))
    predicted = predict(model, dataset, time_indices)
    metrics = lambda_errors(model, float(dataset.attrs["reynolds_number"]))
    metrics["u_error"] = relative_l2(predicted["u"], reference["u"])
    metrics["v_error"] = relative_l2(predicted["v"], reference["v"])
    metrics["p_error"] = relative_l2(remove_mean_pressure(predicted["p"]), remove_mean_pressure(reference["p"]))
    return metrics


__all__ = [
    "COORDINATES",
    "DERIVATIVES",
    "InverseRecipe",
    "Samples",
    "adam_with_decay",
    "NavierStokesPINN",
    "autograd_derivatives",
    "derivative_plan",
    "domain_bounds",
    "evaluate",
    "flow_derivatives",
    "lambda_errors",
    "lbfgs",
    "loss",
    "loss_function",
    "loss_terms",
    "network_from_recipe",
    "predict",
    "relative_l2",
    "remove_mean_pressure",
    "residuals",
    "sample_wake",
    "train",
    "velocities",
]
