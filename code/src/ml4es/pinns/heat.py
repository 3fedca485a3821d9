"""The 1-D heat equation u_t = alpha u_xx and physics-informed neural networks (PINNs) for it.

The problem is non-dimensional: x is measured in units of the layer thickness L and t in units
of a time scale T, so both lie in [0, 1] and alpha = kappa T / L^2 for a diffusivity kappa. The
ends are held at u = 0 and the initial profile is a sum of sine modes, so the exact solution is
known in closed form (:func:`analytic_solution`).

Tensors of points are columns: ``t`` and ``x`` have shape ``(n, 1)``. Everything defaults to
float64, which L-BFGS needs to reach relative errors below 1e-3.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ml4es.training import train

ALPHA = 0.05
"""Diffusivity of the reference problem (non-dimensional)."""

MODES = ((1, 1.0), (2, 0.5))
"""Initial condition as ``(wavenumber n, amplitude)`` pairs: u(0, x) = sum a_n sin(n pi x)."""

T_END = 1.0
LENGTH = 1.0
DTYPE = torch.float64


# --- exact solution -----------------------------------------------------------------------------


def analytic_solution(t, x, alpha: float = ALPHA, modes: Sequence[tuple[int, float]] = MODES):
    """Return u(t, x) = sum a_n exp(-alpha (n pi)^2 t) sin(n pi x), by separation of variables.

    ``t`` and ``x`` are tensors or arrays that broadcast against each other. The result has
    their broadcast shape, and is a tensor if either input is a tensor, an array otherwise.
    """
    backend = torch if isinstance(t, torch.Tensor) or isinstance(x, torch.Tensor) else np
    u = 0.0
    for n, amplitude in modes:
        k = n * math.pi / LENGTH
        u = u + amplitude * backend.exp(-alpha * k**2 * t) * backend.sin(k * x)
    return u


def initial_condition(x):
    """Return the initial profile u(0, x)."""
    return analytic_solution(0.0 * x, x)


def evaluation_grid(n_t: int = 101, n_x: int = 101) -> tuple[torch.Tensor, torch.Tensor]:
    """Return a regular grid ``(t, x)`` over the domain, each of shape ``(n_t, n_x)``."""
    t = torch.linspace(0.0, T_END, n_t, dtype=DTYPE)
    x = torch.linspace(0.0, LENGTH, n_x, dtype=DTYPE)
    grid_t, grid_x = torch.meshgrid(t, x, indexing="ij")
    return grid_t, grid_x


# --- collocation points -------------------------------------------------------------------------


@dataclass
class TrainingPoints:
    """Points where a PINN's loss is evaluated, each a column tensor of shape ``(n, 1)``.

    ``t_interior, x_interior`` are the collocation points for the PDE residual,
    ``x_initial`` lies on t = 0 and ``t_boundary`` gives the times at which both ends
    x = 0 and x = L are enforced.
    """

    t_interior: torch.Tensor
    x_interior: torch.Tensor
    x_initial: torch.Tensor
    t_boundary: torch.Tensor


def sample_points(
    n_interior: int = 2000,
    n_initial: int = 200,
    n_boundary: int = 200,
    seed: int = 0,
    dtype: torch.dtype = DTYPE,
) -> TrainingPoints:
    """Draw collocation, initial and boundary points from scrambled Sobol sequences.

    Sobol points fill the domain more evenly than independent uniform draws, and ``seed``
    fixes the scrambling so the same call always returns the same points.
    """
    for name, value in (("n_interior", n_interior), ("n_initial", n_initial), ("n_boundary", n_boundary)):
        if value < 1:
            raise ValueError(f"invalid {name} {value}; expected a positive number of points")

    interior = _sobol(2, n_interior, seed, dtype)
    initial = _sobol(1, n_initial, seed + 1, dtype)
    boundary = _sobol(1, n_boundary, seed + 2, dtype)
    return TrainingPoints(
        t_interior=interior[:, :1] * T_END,
        x_interior=interior[:, 1:] * LENGTH,
        x_initial=initial * LENGTH,
        t_boundary=boundary * T_END,
    )


def _sobol(dimension: int, n: int, seed: int, dtype: torch.dtype) -> torch.Tensor:
    engine = torch.quasirandom.SobolEngine(dimension, scramble=True, seed=seed)
    return engine.draw(n, dtype=dtype)


# --- the network --------------------------------------------------------------------------------


class HeatPINN(nn.Module):
    """A fully connected tanh network u_theta(t, x) with ``depth`` hidden layers of ``width``.

    The inputs are mapped from the domain [0, T_END] x [0, LENGTH] to [-1, 1]^2 before the first
    layer, which keeps tanh away from saturation.
    """

    def __init__(self, width: int = 32, depth: int = 4, dtype: torch.dtype = DTYPE):
        super().__init__()
        if width < 1 or depth < 1:
            raise ValueError(f"invalid network size width={width}, depth={depth}; both must be >= 1")
        self.width = width
        self.depth = depth

        layers: list[nn.Module] = []
        size_in = 2
        for _ in range(depth):
            layers += [nn.Linear(size_in, width, dtype=dtype), nn.Tanh()]
            size_in = width
        layers.append(nn.Linear(size_in, 1, dtype=dtype))
        self.network = nn.Sequential(*layers)

        for layer in self.network:
            if isinstance(layer, nn.Linear):
                nn.init.xavier_normal_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Return u at the points ``(t, x)``, both ``(n, 1)``, as an ``(n, 1)`` tensor."""
        inputs = torch.cat([2 * t / T_END - 1, 2 * x / LENGTH - 1], dim=1)
        return self.network(inputs)


# --- residual and losses ------------------------------------------------------------------------


def derivatives(model: Callable, t: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return ``u``, ``u_t``, ``u_x`` and ``u_xx`` of ``model`` at the points ``(t, x)``, each ``(n, 1)``.

    ``create_graph=True`` keeps the graph of each derivative, so u_xx can be taken from u_x and a
    loss built from them can be differentiated with respect to the network's weights.
    """
    t = t.detach().clone().requires_grad_(True)
    x = x.detach().clone().requires_grad_(True)
    u = model(t, x)

    ones = torch.ones_like(u)
    u_t, u_x = torch.autograd.grad(u, (t, x), grad_outputs=ones, create_graph=True)
    (u_xx,) = torch.autograd.grad(u_x, x, grad_outputs=torch.ones_like(u_x), create_graph=True)
    return {"u": u, "u_t": u_t, "u_x": u_x, "u_xx": u_xx}


def residual(model: Callable, t: torch.Tensor, x: torch.Tensor, alpha) -> torch.Tensor:
    """Return the PDE residual u_t - alpha u_xx of ``model`` at the points ``(t, x)``, ``(n, 1)``.

    The derivatives come from automatic differentiation (:func:`derivatives`), so the residual can
    be differentiated with respect to the network's weights and ``alpha``, when it is learnable.
    """
    d = derivatives(model, t, x)
    return d["u_t"] - alpha * d["u_xx"]


def initial_loss(model: Callable, x_initial: torch.Tensor) -> torch.Tensor:
    """Return the mean squared misfit between u(0, x) and the initial condition."""
    t0 = torch.zeros_like(x_initial)
    return (model(t0, x_initial) - initial_condition(x_initial)).pow(2).mean()


def boundary_loss(model: Callable, t_boundary: torch.Tensor) -> torch.Tensor:
    """Return the mean squared value of u at both ends, x = 0 and x = L, over all points."""
    left = model(t_boundary, torch.zeros_like(t_boundary))
    right = model(t_boundary, torch.full_like(t_boundary, LENGTH))
    return torch.cat([left, right]).pow(2).mean()


@dataclass
class LossWeights:
    """Weights of the terms of a PINN loss."""

    pde: float = 1.0
    initial: float = 1.0
    boundary: float = 1.0
    data: float = 1.0


def forward_loss(
    model: Callable,
    points: TrainingPoints,
    alpha: float = ALPHA,
    weights: LossWeights | None = None,
) -> torch.Tensor:
    """Return the loss of the forward problem: PDE residual + initial + boundary terms."""
    weights = weights or LossWeights()
    pde = residual(model, points.t_interior, points.x_interior, alpha).pow(2).mean()
    return (
        weights.pde * pde
        + weights.initial * initial_loss(model, points.x_initial)
        + weights.boundary * boundary_loss(model, points.t_boundary)
    )


def relative_l2_error(model: Callable, alpha: float = ALPHA, n_t: int = 101, n_x: int = 101) -> float:
    """Return ||u_theta - u|| / ||u|| on a regular ``n_t`` x ``n_x`` grid."""
    grid_t, grid_x = evaluation_grid(n_t, n_x)
    exact = analytic_solution(grid_t, grid_x, alpha)
    predicted = predict(model, grid_t, grid_x)
    return float(torch.linalg.norm(predicted - exact) / torch.linalg.norm(exact))


def predict(model: Callable, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Evaluate ``model`` on tensors ``t, x`` of any one shape and return u with that shape."""
    dtype = next(model.parameters()).dtype if isinstance(model, nn.Module) else DTYPE
    with torch.no_grad():
        u = model(t.reshape(-1, 1).to(dtype), x.reshape(-1, 1).to(dtype))
    return u.reshape(t.shape).to(DTYPE)


# --- training recipes ---------------------------------------------------------------------------


def lbfgs(parameters) -> torch.optim.LBFGS:
    """Return L-BFGS with a strong Wolfe line search, one iteration per ``step`` call.

    One iteration per call lets :func:`ml4es.training.train` show each one in its progress bar.
    ``max_eval`` must be set with ``max_iter=1``: torch 2.13 gives the line search
    ``max_eval - 1`` evaluations, and the default ``max_eval`` of 1 leaves it none, which
    stalls training within a few steps.
    """
    return torch.optim.LBFGS(
        parameters,
        lr=1.0,
        max_iter=1,
        max_eval=26,
        history_size=50,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )


def train_forward(
    model: HeatPINN,
    points: TrainingPoints,
    alpha: float = ALPHA,
    adam_steps: int = 500,
    lbfgs_steps: int = 1000,
    learning_rate: float = 1e-3,
    weights: LossWeights | None = None,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train ``model`` on the forward problem with Adam, then L-BFGS; return both loss histories.

    Adam moves the randomly initialised weights into a region where the loss is smooth; L-BFGS
    then converges much faster than Adam would, because it uses curvature information.
    """

    def loss_fn() -> torch.Tensor:
        return forward_loss(model, points, alpha, weights)

    adam = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history_adam = train(loss_fn, adam, adam_steps, description="Adam", progress=progress)
    history_lbfgs = train(loss_fn, lbfgs(model.parameters()), lbfgs_steps, description="L-BFGS", progress=progress)
    return {"Adam": history_adam, "L-BFGS": history_lbfgs}


# --- inverse problem ----------------------------------------------------------------------------


@dataclass
class Observations:
    """Noisy measurements ``u`` at points ``(t, x)``, each ``(n, 1)``; ``noise`` is relative."""

    t: torch.Tensor
    x: torch.Tensor
    u: torch.Tensor
    noise: float


def observe(n: int = 200, noise: float = 0.01, seed: int = 0, alpha: float = ALPHA) -> Observations:
    """Sample ``n`` observations of the exact solution at random interior points, with noise.

    The noise is Gaussian with standard deviation ``noise`` times the root-mean-square of the
    exact values, so ``noise=0.01`` is "1 % noise". Boundaries are excluded: the points lie in
    t in [0, 1], x in [0.02, 0.98].
    """
    if n < 1:
        raise ValueError(f"invalid number of observations {n}; expected a positive integer")
    if noise < 0:
        raise ValueError(f"invalid noise level {noise}; expected a non-negative fraction")

    generator = torch.Generator().manual_seed(seed)
    t = torch.rand(n, 1, generator=generator, dtype=DTYPE) * T_END
    x = (0.02 + 0.96 * torch.rand(n, 1, generator=generator, dtype=DTYPE)) * LENGTH
    exact = analytic_solution(t, x, alpha)
    scale = exact.pow(2).mean().sqrt()
    u = exact + noise * scale * torch.randn(n, 1, generator=generator, dtype=DTYPE)
    return Observations(t=t, x=x, u=u, noise=noise)


class InverseHeatPINN(HeatPINN):
    """A :class:`HeatPINN` with a learnable diffusivity, stored as its logarithm.

    Learning log(alpha) keeps alpha positive whatever step the optimiser takes.
    """

    def __init__(self, alpha_guess: float = 0.1, width: int = 32, depth: int = 4, dtype: torch.dtype = DTYPE):
        super().__init__(width=width, depth=depth, dtype=dtype)
        if alpha_guess <= 0:
            raise ValueError(f"invalid alpha_guess {alpha_guess}; expected a positive diffusivity")
        self.log_alpha = nn.Parameter(torch.tensor(math.log(alpha_guess), dtype=dtype))

    @property
    def alpha(self) -> torch.Tensor:
        """The current diffusivity, exp(log_alpha)."""
        return self.log_alpha.exp()


def inverse_loss(
    model: InverseHeatPINN,
    observations: Observations,
    points: TrainingPoints,
    weights: LossWeights | None = None,
) -> torch.Tensor:
    """Return the loss of the inverse problem: data misfit + PDE residual + boundary terms.

    The initial condition is treated as unknown, so it has no term: the observations and the
    PDE have to pin down both the field and alpha.
    """
    weights = weights or LossWeights()
    misfit = (model(observations.t, observations.x) - observations.u).pow(2).mean()
    pde = residual(model, points.t_interior, points.x_interior, model.alpha).pow(2).mean()
    return (
        weights.data * misfit
        + weights.pde * pde
        + weights.boundary * boundary_loss(model, points.t_boundary)
    )


def train_inverse(
    model: InverseHeatPINN,
    observations: Observations,
    points: TrainingPoints,
    adam_steps: int = 500,
    lbfgs_steps: int = 500,
    learning_rate: float = 1e-3,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train ``model`` and its alpha on noisy observations with Adam, then L-BFGS.

    Returns the loss at each step of each optimiser (keys ``"Adam"`` and ``"L-BFGS"``) and the
    value of alpha after every step (key ``"alpha"``). A NaN or infinite loss raises
    ``FloatingPointError``.
    """
    phases = [
        ("Adam", torch.optim.Adam(model.parameters(), lr=learning_rate), adam_steps),
        ("L-BFGS", lbfgs(model.parameters()), lbfgs_steps),
    ]
    history: dict[str, list[float]] = {"Adam": [], "L-BFGS": [], "alpha": []}
    bar = tqdm(total=adam_steps + lbfgs_steps, desc="inverse problem", disable=not progress, mininterval=0.5)

    for name, optimizer, steps in phases:

        def closure(optimizer=optimizer) -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            loss = inverse_loss(model, observations, points)
            loss.backward()
            return loss

        for step in range(steps):
            loss = float(optimizer.step(closure).detach())
            if not math.isfinite(loss):
                bar.close()
                raise FloatingPointError(f"the loss became {loss} at {name} step {step}; lower the learning rate")
            history[name].append(loss)
            history["alpha"].append(model.alpha.item())
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.2e}", alpha=f"{history['alpha'][-1]:.5f}", refresh=False)

    bar.close()
    return history


# --- recipes: the settings behind the pretrained weights and the benchmark -------------------------


@dataclass
class ForwardRecipe:
    """Settings of a forward-problem run: network, points, optimiser steps and seed."""

    width: int = 32
    depth: int = 4
    n_interior: int = 2000
    n_initial: int = 200
    n_boundary: int = 200
    adam_steps: int = 500
    lbfgs_steps: int = 2000
    learning_rate: float = 1e-3
    seed: int = 0


@dataclass
class InverseRecipe:
    """Settings of an inverse-problem run; the noise level and noise seed are given per run."""

    width: int = 32
    depth: int = 4
    n_observations: int = 200
    n_interior: int = 1000
    n_boundary: int = 200
    alpha_guess: float = 0.1
    adam_steps: int = 200
    lbfgs_steps: int = 400
    learning_rate: float = 1e-3
    seed: int = 0


def solve_forward(recipe: ForwardRecipe | None = None, progress: bool = True) -> tuple[HeatPINN, dict[str, list[float]]]:
    """Train a new network on the forward problem with ``recipe``; return it and its losses."""
    recipe = recipe or ForwardRecipe()
    torch.manual_seed(recipe.seed)
    model = HeatPINN(recipe.width, recipe.depth)
    points = sample_points(recipe.n_interior, recipe.n_initial, recipe.n_boundary, seed=recipe.seed)
    history = train_forward(
        model,
        points,
        adam_steps=recipe.adam_steps,
        lbfgs_steps=recipe.lbfgs_steps,
        learning_rate=recipe.learning_rate,
        progress=progress,
    )
    return model, history


def solve_inverse(
    noise: float,
    noise_seed: int = 0,
    recipe: InverseRecipe | None = None,
    progress: bool = True,
) -> tuple[InverseHeatPINN, dict[str, list[float]]]:
    """Learn alpha from observations with relative ``noise`` drawn with ``noise_seed``.

    Returns the trained model and its history (see :func:`train_inverse`).
    """
    recipe = recipe or InverseRecipe()
    torch.manual_seed(recipe.seed)
    model = InverseHeatPINN(recipe.alpha_guess, recipe.width, recipe.depth)
    points = sample_points(recipe.n_interior, 1, recipe.n_boundary, seed=recipe.seed)
    observations = observe(recipe.n_observations, noise, seed=noise_seed)
    history = train_inverse(
        model,
        observations,
        points,
        adam_steps=recipe.adam_steps,
        lbfgs_steps=recipe.lbfgs_steps,
        learning_rate=recipe.learning_rate,
        progress=progress,
    )
    return model, history


# --- ill-posedness: the heat equation run backwards ---------------------------------------------


def backward_heat_demo(
    noise: float = 1e-3,
    n_x: int = 51,
    dt: float = 1e-3,
    t_start: float = 1.0,
    t_stop: float = 0.9,
    alpha: float = ALPHA,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Run the heat equation backwards in time from a slightly noisy state, by finite differences.

    Starting from the exact u(t_start, x) plus Gaussian noise of standard deviation ``noise``,
    the explicit scheme u^(k-1) = u^k - dt alpha D2 u^k marches back to ``t_stop``. Each step
    multiplies the grid mode of wavenumber m by 1 + 4 r sin^2(m pi dx / 2), r = alpha dt / dx^2,
    so the noise grows fastest at the shortest wavelengths. Returns the grid ``x``, the times,
    the reconstructed and exact profiles at each time (rows) and the RMS error at each time.
    """
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, LENGTH, n_x)
    dx = x[1] - x[0]
    steps = int(round((t_start - t_stop) / dt))
    times = t_start - dt * np.arange(steps + 1)

    u = analytic_solution(t_start, x, alpha) + noise * rng.standard_normal(n_x)
    u[0] = u[-1] = 0.0
    profiles = [u.copy()]
    for _ in range(steps):
        laplacian = np.zeros_like(u)
        laplacian[1:-1] = (u[2:] - 2 * u[1:-1] + u[:-2]) / dx**2
        u = u - dt * alpha * laplacian
        profiles.append(u.copy())

    profiles = np.array(profiles)
    exact = analytic_solution(times[:, None], x[None, :], alpha)
    rms_error = np.sqrt(np.mean((profiles - exact) ** 2, axis=1))
    return {"x": x, "t": times, "u": profiles, "exact": exact, "rms_error": rms_error}


# --- pretrained weights -------------------------------------------------------------------------


def weights_path(name: str) -> Path:
    """Return the path of a file shipped in ``ml4es/weights``."""
    return Path(str(resources.files("ml4es").joinpath("weights", name)))


def load_record(name: str) -> dict:
    """Load the JSON record ``<name>.json`` that describes how a set of weights was made."""
    path = weights_path(f"{name}.json")
    if not path.exists():
        raise FileNotFoundError(
            f"record {path} not found; run `python scripts/train_heat_pinn.py` to make it"
        )
    return json.loads(path.read_text())


def load_pretrained(name: str = "heat_forward") -> HeatPINN:
    """Load the pretrained network ``<name>.pt`` of the forward problem, in evaluation mode.

    The network size comes from the recipe in ``<name>.json``, which also records how the
    weights were made and the error they reach.
    """
    record = load_record(name)
    path = weights_path(f"{name}.pt")
    if not path.exists():
        raise FileNotFoundError(f"weights {path} not found; run `python scripts/train_heat_pinn.py`")
    recipe = record["recipe"]
    model = HeatPINN(width=recipe["width"], depth=recipe["depth"])
    model.load_state_dict(torch.load(path, weights_only=True))
    model.eval()
    return model


def load_inverse_sweep(name: str = "heat_inverse_sweep") -> dict:
    """Load the learnt alpha of every run of the noise sweep made by the training script."""
    return load_record(name)
