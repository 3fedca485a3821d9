"""A sparse variational GP (SVGP) on every grid point of a reanalysis field.

The data are the winter (December-February) means of the 500 hPa geopotential height over the
North Atlantic and Europe, 1948-2012, on a 2.5° grid (29 latitudes by 49 longitudes, 65
winters: 92,365 values), shipped with the ``eofs`` package. The file names no source; its grid
and its start in 1948 match the NCEP/NCAR reanalysis. An exact GP
on all of them would need a 92,365 x 92,365 covariance matrix (68 GB in float64).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import gpytorch
import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

DTYPE = torch.float32


def hgt_path() -> Path:
    """Return the path of ``hgt_djf.nc`` inside the installed ``eofs`` package."""
    import eofs

    path = Path(eofs.__file__).parent / "examples" / "example_data" / "hgt_djf.nc"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found. The eofs package ships this example file: "
            "install or reinstall it with `pip install eofs`."
        )
    return path


def load_hgt() -> xr.DataArray:
    """Return the DJF mean 500 hPa geopotential height ``z`` (m) on ``(time, latitude, longitude)``."""
    with warnings.catch_warnings():
        # The file's time units, "hours since 1-1-1", make xarray warn about a year without
        # leading zeros; it reads the year as 0001, which is right.
        warnings.filterwarnings("ignore", message="Ambiguous reference date string")
        with xr.open_dataset(hgt_path()) as dataset:
            z = dataset["z"].isel(pressure=0, drop=True).load()
    z.attrs["units"] = "m"
    return z


@dataclass
class GridData:
    """Inputs ``(n, 3)`` (winter, latitude, longitude, each scaled to [0, 1]) and standardised targets ``(n,)``."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mean: float
    std: float

    def to_metres(self, standardised: torch.Tensor) -> torch.Tensor:
        """Convert standardised heights back to metres."""
        return standardised * self.std + self.mean


def grid_data(z: xr.DataArray) -> GridData:
    """Flatten every grid point of every winter into one regression data set."""
    winter, latitude, longitude = np.meshgrid(
        np.arange(z.sizes["time"], dtype=np.float64), z["latitude"].to_numpy(), z["longitude"].to_numpy(), indexing="ij"
    )
    columns = [winter, latitude, longitude]
    inputs = np.stack([(c - c.min()) / (c.max() - c.min()) for c in columns], axis=-1).reshape(-1, 3)
    values = z.to_numpy().reshape(-1)
    mean, std = float(values.mean()), float(values.std())
    return GridData(
        torch.as_tensor(inputs, dtype=DTYPE),
        torch.as_tensor((values - mean) / std, dtype=DTYPE),
        mean,
        std,
    )


def split(data: GridData, test_fraction: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Return random indices ``(train, test)`` with ``test_fraction`` of the points held out."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"invalid test_fraction {test_fraction}; expected a number between 0 and 1")
    order = torch.randperm(len(data.targets), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(test_fraction * len(order)))
    return order[n_test:], order[:n_test]


class SparseGP(gpytorch.models.ApproximateGP):
    """SVGP: ``m`` inducing points with learnt locations, a full-covariance Gaussian over their
    values, and a scaled RBF kernel with one length scale per input."""

    def __init__(self, inducing_points: torch.Tensor):
        distribution = gpytorch.variational.CholeskyVariationalDistribution(inducing_points.shape[0])
        strategy = gpytorch.variational.VariationalStrategy(
            self, inducing_points, distribution, learn_inducing_locations=True
        )
        super().__init__(strategy)
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(
            gpytorch.kernels.RBFKernel(ard_num_dims=inducing_points.shape[1])
        )

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def train_svgp(
    model: SparseGP,
    likelihood: gpytorch.likelihoods.GaussianLikelihood,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    epochs: int = 4,
    batch_size: int = 1024,
    learning_rate: float = 0.02,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Maximise the ELBO with Adam on minibatches of ``batch_size`` points for ``epochs`` passes.

    The ELBO of a minibatch is scaled by ``len(targets)`` (``num_data``) so that each step is
    an unbiased estimate of the full-data gradient. Returns ``{"elbo": ELBO per step (per
    point), "seconds": wall-clock time}``.
    """
    model.train()
    likelihood.train()
    objective = gpytorch.mlls.VariationalELBO(likelihood, model, num_data=len(targets))
    optimizer = torch.optim.Adam([*model.parameters(), *likelihood.parameters()], lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    batches = math.ceil(len(targets) / batch_size)
    history: list[float] = []
    start = time.perf_counter()
    bar = tqdm(total=epochs * batches, desc="SVGP (minibatches)", disable=not progress, mininterval=0.5)
    for _ in range(epochs):
        order = torch.randperm(len(targets), generator=generator)
        for batch in order.split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = -objective(model(inputs[batch]), targets[batch])
            loss.backward()
            optimizer.step()
            history.append(-loss.item())
            bar.update()
            bar.set_postfix(elbo=f"{history[-1]:.3f}", refresh=False)
    bar.close()
    model.eval()
    likelihood.eval()
    return {"elbo": history, "seconds": time.perf_counter() - start}


def predict_svgp(model, likelihood, inputs: torch.Tensor, batch_size: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the predictive mean and standard deviation of ``y`` (noise included), in batches."""
    model.eval()
    likelihood.eval()
    means, stds = [], []
    with torch.no_grad():
        for batch in inputs.split(batch_size):
            predictive = likelihood(model(batch))
            means.append(predictive.mean)
            stds.append(predictive.variance.sqrt())
    return torch.cat(means), torch.cat(stds)


def climatology_rmse(z: xr.DataArray, train_index: torch.Tensor, test_index: torch.Tensor) -> float:
    """Return the RMSE (m) of predicting each held-out value by its grid point's mean over the training values."""
    values = torch.as_tensor(z.to_numpy().reshape(-1), dtype=torch.float64)
    points = z.sizes["latitude"] * z.sizes["longitude"]
    grid_point = torch.arange(len(values)) % points
    total = torch.bincount(grid_point[train_index], weights=values[train_index], minlength=points)
    count = torch.bincount(grid_point[train_index], minlength=points).clamp_min(1)
    climatology = total / count
    return float((climatology[grid_point[test_index]] - values[test_index]).pow(2).mean().sqrt())


def exact_subset_rmse(data: GridData, train_index: torch.Tensor, test_index: torch.Tensor, n_subset: int = 500, seed: int = 0) -> float:
    """Fit an exact GP (RBF with one length scale per input, float64) to ``n_subset`` random training values.

    Returns its RMSE (m) on the held-out values.
    """
    from ml4es.gp.exact import ExactGP, fit, predict

    generator = torch.Generator().manual_seed(seed)
    subset = train_index[torch.randperm(len(train_index), generator=generator)[:n_subset]]
    kernel = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel(ard_num_dims=3))
    model = ExactGP(data.inputs[subset].double(), data.targets[subset].double(), kernel).double()
    fit(model, optimizer="lbfgs", max_steps=100, progress=False)
    mean, _ = predict(model, data.inputs[test_index].double())
    error = data.to_metres(mean) - data.to_metres(data.targets[test_index].double())
    return float(error.pow(2).mean().sqrt())
