"""GP regression written out with plain tensors: the posterior and the log marginal likelihood.

These are the reference answers of the chapter's exercises, and the tests check them against
GPyTorch. The model is a zero-mean GP with the kernel
``k(x, x') = outputscale * exp(-(x - x')² / (2 lengthscale²))`` and Gaussian noise of variance
``noise``, on one input dimension.
"""

from __future__ import annotations

import math

import gpytorch
import torch

DTYPE = torch.float64


def rbf_kernel(x1: torch.Tensor, x2: torch.Tensor, lengthscale: float, outputscale: float) -> torch.Tensor:
    """Return the RBF covariance matrix ``(n, m)`` between points ``x1`` ``(n,)`` and ``x2`` ``(m,)``."""
    squared_distance = (x1[:, None] - x2[None, :]) ** 2
    return outputscale * torch.exp(-squared_distance / (2 * lengthscale**2))


def posterior(x_train, y_train, x_test, lengthscale: float, outputscale: float, noise: float):
    """Return the mean ``(m,)`` and variance ``(m,)`` of the latent ``f`` at ``x_test``.

    ``mean = K*ᵀ (K + noise I)⁻¹ y`` and ``var = k** - diag(K*ᵀ (K + noise I)⁻¹ K*)``, computed with
    a Cholesky factor ``L`` of ``K + noise I`` rather than an explicit inverse.
    """
    x_train, y_train, x_test = (torch.as_tensor(v, dtype=DTYPE) for v in (x_train, y_train, x_test))
    covariance = rbf_kernel(x_train, x_train, lengthscale, outputscale) + noise * torch.eye(len(x_train), dtype=DTYPE)
    cross = rbf_kernel(x_train, x_test, lengthscale, outputscale)
    factor = torch.linalg.cholesky(covariance)

    weights = torch.cholesky_solve(y_train[:, None], factor)[:, 0]
    mean = cross.T @ weights

    v = torch.linalg.solve_triangular(factor, cross, upper=False)
    variance = outputscale - (v**2).sum(dim=0)
    return mean, variance


def log_marginal_likelihood(x, y, lengthscale: float, outputscale: float, noise: float) -> torch.Tensor:
    """Return ``log p(y) = -yᵀ (K + noise I)⁻¹ y / 2 - log|K + noise I| / 2 - n log(2 pi) / 2``."""
    x, y = torch.as_tensor(x, dtype=DTYPE), torch.as_tensor(y, dtype=DTYPE)
    covariance = rbf_kernel(x, x, lengthscale, outputscale) + noise * torch.eye(len(x), dtype=DTYPE)
    factor = torch.linalg.cholesky(covariance)
    weights = torch.cholesky_solve(y[:, None], factor)[:, 0]
    data_fit = -0.5 * (y @ weights)
    complexity = -torch.log(torch.diagonal(factor)).sum()
    return data_fit + complexity - 0.5 * len(x) * math.log(2 * math.pi)


class _ZeroMeanGP(gpytorch.models.ExactGP):
    def __init__(self, x, y, likelihood):
        super().__init__(x, y, likelihood)
        self.mean_module = gpytorch.means.ZeroMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel())

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def gpytorch_model(x, y, lengthscale: float, outputscale: float, noise: float) -> _ZeroMeanGP:
    """Return the same model in GPyTorch, float64, in evaluation mode: the reference of the checks."""
    x, y = torch.as_tensor(x, dtype=DTYPE), torch.as_tensor(y, dtype=DTYPE)
    likelihood = gpytorch.likelihoods.GaussianLikelihood(noise_constraint=gpytorch.constraints.GreaterThan(1e-10))
    model = _ZeroMeanGP(x, y, likelihood).to(DTYPE)
    # Float64 tensors, because GPyTorch's setters would round Python floats through float32.
    model.covar_module.base_kernel.lengthscale = torch.tensor(lengthscale, dtype=DTYPE)
    model.covar_module.outputscale = torch.tensor(outputscale, dtype=DTYPE)
    likelihood.noise = torch.tensor(noise, dtype=DTYPE)
    model.eval()
    likelihood.eval()
    return model


def gpytorch_posterior(x_train, y_train, x_test, lengthscale, outputscale, noise) -> tuple[torch.Tensor, torch.Tensor]:
    """Return GPyTorch's mean and variance of ``f`` at ``x_test`` for the same model."""
    model = gpytorch_model(x_train, y_train, lengthscale, outputscale, noise)
    with torch.no_grad(), gpytorch.settings.fast_pred_var(False):
        latent = model(torch.as_tensor(x_test, dtype=DTYPE))
        return latent.mean, latent.variance


def gpytorch_log_marginal_likelihood(x, y, lengthscale, outputscale, noise) -> float:
    """Return GPyTorch's total log marginal likelihood of ``y`` for the same model."""
    model = gpytorch_model(x, y, lengthscale, outputscale, noise)
    model.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
    with torch.no_grad():
        return float(mll(model(model.train_inputs[0]), model.train_targets)) * len(y)
