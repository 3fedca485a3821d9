"""Exact GP regression in GPyTorch: the model, type-II maximum likelihood and predictions."""

from __future__ import annotations

import logging
import time

import gpytorch
import numpy as np
import scipy.optimize
import torch
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)


class ExactGP(gpytorch.models.ExactGP):
    """An exact GP with a constant mean and any kernel: ``f ~ GP(c, k)``, ``y = f + noise``."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, kernel: gpytorch.kernels.Kernel,
                 likelihood: gpytorch.likelihoods.GaussianLikelihood | None = None):
        _check_training_data(x, y)
        if likelihood is None:
            likelihood = gpytorch.likelihoods.GaussianLikelihood()
        super().__init__(x, y, likelihood)
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = kernel

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def _check_training_data(x: torch.Tensor, y: torch.Tensor) -> None:
    """Raise unless ``x`` ``(n,)`` or ``(n, d)`` and ``y`` ``(n,)`` are tensors with the same number of points."""
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} is a {type(value).__name__}; expected a torch.Tensor (use torch.as_tensor)")
    if y.ndim != 1:
        raise ValueError(f"y has shape {tuple(y.shape)}; expected one target per point, shape (n,)")
    if x.ndim not in (1, 2) or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x has shape {tuple(x.shape)} but y has shape {tuple(y.shape)}; expected x of shape (n,) or (n, d) "
            "with the same number of points n as y"
        )
    if y.numel() == 0:
        raise ValueError("x and y are empty; expected at least one training point")


def log_marginal_likelihood(model: ExactGP) -> torch.Tensor:
    """Return the exact log marginal likelihood ``log p(y | X, theta)`` of the training data.

    GPyTorch's ``ExactMarginalLogLikelihood`` divides by the number of points. This is the total,
    in nats as in the usual formula, and it is differentiable with respect to the hyperparameters.
    """
    model.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
    (x,) = model.train_inputs
    return mll(model(x), model.train_targets) * model.train_targets.numel()


def fit(
    model: ExactGP,
    optimizer: str = "lbfgs",
    max_steps: int = 500,
    learning_rate: float = 0.1,
    progress: bool = True,
) -> dict:
    """Fit the hyperparameters by maximising the exact log marginal likelihood (type-II ML).

    ``optimizer`` is ``"lbfgs"``, SciPy's L-BFGS-B (the optimiser scikit-learn uses) with
    PyTorch computing the gradient, or ``"adam"``, ``torch.optim.Adam`` at ``learning_rate``.
    L-BFGS-B stops when it has converged (SciPy's default tolerances) or after ``max_steps``
    iterations; Adam runs all ``max_steps``. Both work on the unconstrained raw parameters.
    Returns ``{"history": LML after each step, "seconds": wall-clock time, "evaluations":
    number of LML and gradient evaluations}``.
    """
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"invalid optimizer {optimizer!r}; expected 'lbfgs' or 'adam'")
    if max_steps < 1:
        raise ValueError(f"invalid max_steps {max_steps}; expected a positive integer")

    parameters = [p for p in model.parameters() if p.requires_grad]
    start = time.perf_counter()
    bar = tqdm(total=max_steps, desc=f"fit ({optimizer})", disable=not progress, mininterval=0.5)
    if optimizer == "lbfgs":
        history, evaluations = _fit_lbfgs(model, parameters, max_steps, bar)
    else:
        history, evaluations = _fit_adam(model, parameters, max_steps, learning_rate, bar)
    # A fit that converges early ends its bar there, not as an unfinished (red) bar.
    bar.total = bar.n
    bar.refresh()
    bar.close()
    model.eval()
    return {"history": history, "seconds": time.perf_counter() - start, "evaluations": evaluations}


def _negative_lml(model: ExactGP, parameters: list[torch.nn.Parameter]) -> torch.Tensor:
    for parameter in parameters:
        parameter.grad = None
    loss = -log_marginal_likelihood(model)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the log marginal likelihood became {-loss.item()}")
    loss.backward()
    return loss


def _fit_lbfgs(model, parameters, max_steps, bar) -> tuple[list[float], int]:
    evaluations = 0
    history: list[float] = []

    def objective(vector: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal evaluations
        evaluations += 1
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(torch.as_tensor(vector, dtype=parameters[0].dtype), parameters)
        loss = _negative_lml(model, parameters)
        gradient = torch.cat([p.grad.reshape(-1) for p in parameters])
        return loss.item(), gradient.detach().cpu().numpy().astype(np.float64)

    def callback(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        history.append(-float(intermediate_result.fun))
        bar.update()
        bar.set_postfix(lml=f"{history[-1]:.2f}", refresh=False)

    start = torch.nn.utils.parameters_to_vector(parameters).detach().cpu().numpy().astype(np.float64)
    result = scipy.optimize.minimize(
        objective, start, jac=True, method="L-BFGS-B", callback=callback, options={"maxiter": max_steps}
    )
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(torch.as_tensor(result.x, dtype=parameters[0].dtype), parameters)
    if not result.success:
        # "ABNORMAL" usually means the line search could make no progress at the optimum.
        logger.info("L-BFGS-B stopped before converging: %s", result.message)
    return history, evaluations


def _fit_adam(model, parameters, max_steps, learning_rate, bar) -> tuple[list[float], int]:
    adam = torch.optim.Adam(parameters, lr=learning_rate)
    history: list[float] = []
    for _ in range(max_steps):
        loss = _negative_lml(model, parameters)
        adam.step()
        # The value is the LML before this step's update: recording it costs no extra evaluation.
        history.append(-loss.item())
        bar.update()
        bar.set_postfix(lml=f"{history[-1]:.2f}", refresh=False)
    with torch.no_grad():
        history.append(log_marginal_likelihood(model).item())
    return history, max_steps + 1


def predict(model: ExactGP, x: torch.Tensor, include_noise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the posterior predictive mean and standard deviation at ``x``, each ``(n,)``.

    With ``include_noise`` the standard deviation is that of a new observation ``y``; without,
    that of the latent function ``f``.
    """
    model.eval()
    with torch.no_grad():
        posterior = model(x)
        if include_noise:
            posterior = model.likelihood(posterior)
        return posterior.mean, posterior.variance.clamp_min(0).sqrt()


def component_means(model: ExactGP, x: torch.Tensor) -> list[torch.Tensor]:
    """Return the posterior mean of each term of an additive kernel at ``x``, each ``(n,)``.

    For ``k = k_1 + ... + k_J``, term ``j`` contributes ``K_j(x, X) (K + s² I)^-1 (y - m)``.
    The terms and the constant mean ``m`` add up to the posterior mean of ``f``.
    """
    (x_train,) = model.train_inputs
    kernels = model.covar_module.kernels
    with torch.no_grad():
        covariance = model.covar_module(x_train).to_dense()
        covariance = covariance + model.likelihood.noise * torch.eye(len(x_train), dtype=covariance.dtype)
        residual = model.train_targets - model.mean_module(x_train)
        weights = torch.cholesky_solve(residual[:, None], torch.linalg.cholesky(covariance))[:, 0]
        return [kernel(x, x_train).to_dense() @ weights for kernel in kernels]
