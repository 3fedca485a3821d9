"""A GP emulator of a simulator with two inputs, and a sequential design that picks each new run.

The "simulator" is the heat equation of the PINN chapter: a run returns the temperature anomaly
``u(t = 1, x)`` of a slab with diffusivity ``alpha`` (both dimensionless, as in
``ml4es.pinns.heat``). Its exact solution makes each run cheap, so the emulator's error can be
measured everywhere. The method is the same for a simulator that takes hours a run.
"""

from __future__ import annotations

import gpytorch
import numpy as np
import torch
from scipy.stats import qmc
from tqdm.auto import tqdm

from ml4es.gp.exact import ExactGP, fit, predict
from ml4es.pinns import heat

DTYPE = torch.float64
NAMES = ("alpha", "x")
BOUNDS = torch.tensor([[0.005, 0.0], [0.1, 1.0]], dtype=DTYPE)
"""Lower (first row) and upper (second row) bounds of the inputs: diffusivity and position."""

SIMULATOR_NOISE = 1e-6
"""Variance of the likelihood's noise, kept fixed: the simulator is deterministic, and this tiny
jitter only keeps the covariance matrix well conditioned."""


def simulator(inputs: torch.Tensor) -> torch.Tensor:
    """Run the simulator at each row ``(alpha, x)`` of ``inputs`` ``(n, 2)``; return ``u`` ``(n,)``."""
    inputs = torch.as_tensor(inputs, dtype=DTYPE)
    if inputs.ndim != 2 or inputs.shape[1] != 2:
        raise ValueError(f"inputs have shape {tuple(inputs.shape)}; expected (n, 2) with columns alpha and x")
    alpha, x = inputs[:, 0], inputs[:, 1]
    return heat.analytic_solution(torch.ones_like(x), x, alpha)


def latin_hypercube(n: int, seed: int = 0) -> torch.Tensor:
    """Return a Latin hypercube design of ``n`` runs ``(n, 2)`` within ``BOUNDS``.

    Each input's range is cut into ``n`` equal strata and each stratum contains exactly one run.
    SciPy's random coordinate-swap optimisation then spreads the runs further apart.
    """
    if n < 1:
        raise ValueError(f"invalid number of runs {n}; expected a positive integer")
    sampler = qmc.LatinHypercube(d=2, rng=np.random.default_rng(seed), optimization="random-cd")
    unit = torch.as_tensor(sampler.random(n), dtype=DTYPE)
    return to_physical(unit)


def to_unit(inputs: torch.Tensor) -> torch.Tensor:
    """Map inputs from ``BOUNDS`` to the unit square."""
    return (inputs - BOUNDS[0]) / (BOUNDS[1] - BOUNDS[0])


def to_physical(unit: torch.Tensor) -> torch.Tensor:
    """Map inputs from the unit square to ``BOUNDS``."""
    return BOUNDS[0] + unit * (BOUNDS[1] - BOUNDS[0])


def candidate_grid(n: int = 41) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(alpha, x, inputs)``: two ``(n, n)`` meshes (alpha along rows) and their ``(n², 2)`` rows."""
    alpha = torch.linspace(float(BOUNDS[0, 0]), float(BOUNDS[1, 0]), n, dtype=DTYPE)
    x = torch.linspace(float(BOUNDS[0, 1]), float(BOUNDS[1, 1]), n, dtype=DTYPE)
    mesh_alpha, mesh_x = torch.meshgrid(alpha, x, indexing="ij")
    return mesh_alpha, mesh_x, torch.stack([mesh_alpha.reshape(-1), mesh_x.reshape(-1)], dim=1)


def default_kernel() -> gpytorch.kernels.ScaleKernel:
    """Return a scaled Matérn 5/2 kernel with one length scale per input, starting at 0.3."""
    kernel = gpytorch.kernels.ScaleKernel(gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=2))
    kernel.base_kernel.lengthscale = 0.3
    return kernel


def emulator(inputs: torch.Tensor, outputs: torch.Tensor, kernel: gpytorch.kernels.Kernel | None = None) -> ExactGP:
    """Return an exact GP on the runs, with inputs mapped to the unit square.

    The kernel defaults to ``default_kernel()``. The noise variance is fixed at
    ``SIMULATOR_NOISE``, so the emulator interpolates the runs.
    """
    if kernel is None:
        kernel = default_kernel()
    likelihood = gpytorch.likelihoods.GaussianLikelihood(noise_constraint=gpytorch.constraints.GreaterThan(1e-8))
    model = ExactGP(to_unit(inputs), torch.as_tensor(outputs, dtype=DTYPE), kernel, likelihood).to(DTYPE)
    model.likelihood.noise = torch.tensor(SIMULATOR_NOISE, dtype=DTYPE)
    model.likelihood.raw_noise.requires_grad_(False)
    return model


def fit_emulator(inputs: torch.Tensor, outputs: torch.Tensor, kernel: gpytorch.kernels.Kernel | None = None) -> ExactGP:
    """Build an emulator with ``emulator`` and fit its hyperparameters by type-II maximum likelihood."""
    model = emulator(inputs, outputs, kernel)
    fit(model, optimizer="lbfgs", max_steps=200, progress=False)
    return model


def emulate(model: ExactGP, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the emulator's mean and standard deviation of ``u`` at ``inputs`` ``(n, 2)``."""
    return predict(model, to_unit(inputs), include_noise=False)


def sequential_design(initial: torch.Tensor, added_runs: int, grid_size: int = 41, progress: bool = True) -> dict:
    """Add ``added_runs`` runs one at a time, each where the emulator's variance is largest.

    Starts from the design ``initial`` ``(n, 2)``; after each new run, refits the emulator and
    measures it against the simulator on a ``grid_size`` by ``grid_size`` grid. Returns a dict
    of ``inputs`` (all runs, ``(n + added_runs, 2)``), ``model`` (the last emulator), and the
    lists ``rmse`` and ``max_std``, one entry per emulator (``added_runs + 1`` of them).
    """
    inputs = torch.as_tensor(initial, dtype=DTYPE).clone()
    _, _, grid = candidate_grid(grid_size)
    truth = simulator(grid)
    rmse, max_std = [], []
    for step in tqdm(range(added_runs + 1), desc="sequential design", disable=not progress):
        model = fit_emulator(inputs, simulator(inputs))
        mean, std = emulate(model, grid)
        rmse.append(float((mean - truth).pow(2).mean().sqrt()))
        max_std.append(float(std.max()))
        if step < added_runs:
            inputs = torch.cat([inputs, grid[std.argmax()][None]])
    return {"inputs": inputs, "model": model, "rmse": rmse, "max_std": max_std}


def held_out_rmse(kernel: gpytorch.kernels.Kernel, n_runs: int = 12, seed: int = 1, grid_size: int = 41) -> float:
    """Fit an emulator with ``kernel`` to a Latin hypercube of ``n_runs`` runs; return its RMSE on the grid.

    The grid's ``grid_size²`` points are almost all away from the runs, so this is a held-out error.
    """
    design = latin_hypercube(n_runs, seed=seed)
    model = fit_emulator(design, simulator(design), kernel)
    _, _, grid = candidate_grid(grid_size)
    mean, _ = emulate(model, grid)
    return float((mean - simulator(grid)).pow(2).mean().sqrt())
