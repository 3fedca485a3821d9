"""Mauna Loa CO2 data and the composite kernel of Rasmussen and Williams (2006, section 5.4.3).

The data are the weekly flask measurements shipped with statsmodels
(``statsmodels.datasets.co2``, Scripps Institution of Oceanography), averaged to monthly means
up to the end of 2001. Times are decimal years; concentrations are in ppm (parts per million by
volume, mole fraction in dry air).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import gpytorch
import numpy as np
import pandas as pd
import torch
import xarray as xr

from ml4es.gp.exact import ExactGP

DTYPE = torch.float64
END = "2001-12-31"
SPLIT = "1995-12-31"


def load_co2(end: str = END) -> xr.Dataset:
    """Return the monthly mean CO2 concentration at Mauna Loa from March 1958 to ``end``.

    The result has one variable, ``co2`` (ppm), on a ``time`` axis of month starts, and a
    coordinate ``year`` with the middle of each month in decimal years. Months without any
    weekly measurement are dropped.
    """
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().dropna()
    monthly = monthly[monthly.index <= pd.Timestamp(end)]
    if monthly.empty:
        raise ValueError(f"no CO2 data up to {end!r}; the record starts in March 1958")

    year = _decimal_year(monthly.index)
    dataset = xr.Dataset(
        {"co2": ("time", monthly.to_numpy(dtype=np.float64))},
        coords={"time": monthly.index.to_numpy(), "year": ("time", year)},
    )
    dataset["co2"].attrs.update(units="ppm", long_name="CO2 mole fraction in dry air, monthly mean")
    dataset["year"].attrs.update(units="year", long_name="middle of the month in decimal years")
    dataset.attrs["source"] = "statsmodels.datasets.co2 (Scripps Institution of Oceanography, Mauna Loa)"
    return dataset


def _decimal_year(months: pd.DatetimeIndex) -> np.ndarray:
    start = months.year + (months.month - 1) / 12.0
    return np.asarray(start + 1 / 24.0, dtype=np.float64)


def as_tensors(dataset: xr.Dataset, until: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(x, y)``: decimal years ``(n,)`` and CO2 in ppm ``(n,)``, float64.

    With ``until`` (a date such as ``"1995-12-31"``), only the months up to that date are returned.
    """
    if until is not None:
        if isinstance(until, (int, float)):
            raise TypeError(f"invalid date until={until!r}; expected a date string such as '1995-12-31'")
        try:
            pd.Timestamp(until)
        except (TypeError, ValueError) as error:
            raise ValueError(f"invalid date until={until!r}; expected a date such as '1995-12-31'") from error
        dataset = dataset.sel(time=slice(None, until))
        if dataset.sizes["time"] == 0:
            raise ValueError(f"no CO2 data up to {until!r}; the record starts in March 1958")
    x = torch.tensor(dataset["year"].to_numpy(), dtype=DTYPE)
    y = torch.tensor(dataset["co2"].to_numpy(), dtype=DTYPE)
    return x, y


# Starting values of the hyperparameters, in the parameterisation of Rasmussen and Williams:
# amplitudes in ppm, length scales and the period in years. They are the starting values of
# scikit-learn's Mauna Loa example too, so both libraries start from the same point.
INITIAL = {
    "trend_amplitude": 50.0,
    "trend_lengthscale": 50.0,
    "seasonal_amplitude": 2.0,
    "seasonal_decay": 100.0,
    "seasonal_smoothness": 1.0,
    "period": 1.0,
    "irregular_amplitude": 0.5,
    "irregular_lengthscale": 1.0,
    "irregular_alpha": 1.0,
    "noise_amplitude": 0.1,
    "noise_lengthscale": 0.1,
    "noise_std": 0.1,
}

COMPONENTS = ("trend", "seasonal", "irregular", "short-term noise")


VARIANTS = ("rasmussen", "rough")
"""``rasmussen``: the kernel of R&W section 5.4.3. ``rough``: the same with a Matérn 3/2 trend and
a Matérn 1/2 (exponential) irregular term, whose forecasts allow changes in the growth rate."""


def co2_kernel(initial: dict[str, float] | None = None, variant: str = "rasmussen") -> gpytorch.kernels.AdditiveKernel:
    """Build the sum of four kernels of R&W's CO2 model, with hyperparameters set to ``initial``.

    1. trend: amplitude² × RBF(long length scale), or Matérn 3/2 in the ``rough`` variant;
    2. seasonal: amplitude² × RBF(decay) × periodic(period 1 year, fixed);
    3. irregular: amplitude² × rational quadratic, or Matérn 1/2 in the ``rough`` variant;
    4. short-term correlated noise: amplitude² × RBF(short length scale).

    The white measurement noise belongs to the likelihood, not to this kernel. The kernel's
    ``kernels`` attribute contains the four components in that order, as ``COMPONENTS`` names them.
    NOTE: GPyTorch 1.15's ``PeriodicKernel`` computes ``exp(-2 sin²(pi d / p) / l)``, dividing by
    its length scale rather than by its square as R&W and scikit-learn do, so it stores the
    square of their smoothness parameter.
    """
    if variant not in VARIANTS:
        raise ValueError(f"invalid variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    values = _hyperparameter_values(initial)
    rough = variant == "rough"

    if rough:
        trend_shape = gpytorch.kernels.MaternKernel(nu=1.5, lengthscale_constraint=_log())
        irregular_shape = gpytorch.kernels.MaternKernel(nu=0.5, lengthscale_constraint=_log())
    else:
        trend_shape = gpytorch.kernels.RBFKernel(lengthscale_constraint=_log())
        irregular_shape = gpytorch.kernels.RQKernel(lengthscale_constraint=_log(), alpha_constraint=_log())
    decay = gpytorch.kernels.RBFKernel(lengthscale_constraint=_log())
    periodic = gpytorch.kernels.PeriodicKernel(lengthscale_constraint=_log(), period_length_constraint=_log())
    noise_shape = gpytorch.kernels.RBFKernel(lengthscale_constraint=_log())
    kernel = gpytorch.kernels.AdditiveKernel(
        _scaled(trend_shape),
        _scaled(gpytorch.kernels.ProductKernel(decay, periodic)),
        _scaled(irregular_shape),
        _scaled(noise_shape),
    )
    kernel = kernel.to(DTYPE)

    trend, seasonal, irregular, noise = kernel.kernels
    trend.outputscale = _f64(values["trend_amplitude"] ** 2)
    trend.base_kernel.lengthscale = _f64(values["trend_lengthscale"])
    seasonal.outputscale = _f64(values["seasonal_amplitude"] ** 2)
    decay.lengthscale = _f64(values["seasonal_decay"])
    periodic.lengthscale = _f64(values["seasonal_smoothness"] ** 2)
    periodic.period_length = _f64(values["period"])
    periodic.raw_period_length.requires_grad_(False)
    irregular.outputscale = _f64(values["irregular_amplitude"] ** 2)
    irregular.base_kernel.lengthscale = _f64(values["irregular_lengthscale"])
    if not rough:
        irregular.base_kernel.alpha = _f64(values["irregular_alpha"])
    noise.outputscale = _f64(values["noise_amplitude"] ** 2)
    noise.base_kernel.lengthscale = _f64(values["noise_lengthscale"])
    return kernel


def _hyperparameter_values(initial: dict[str, float] | None) -> dict[str, float]:
    """Return ``INITIAL`` updated with ``initial``, which may set only known, positive hyperparameters."""
    initial = dict(initial or {})
    unknown = sorted(set(initial) - set(INITIAL))
    if unknown:
        raise ValueError(f"unknown hyperparameters {', '.join(unknown)}; expected names from {', '.join(INITIAL)}")
    values = dict(INITIAL)
    for name, value in initial.items():
        try:
            values[name] = float(value)
        except (TypeError, ValueError) as error:
            raise TypeError(f"invalid {name}={value!r}; expected a positive number") from error
        if not (math.isfinite(values[name]) and values[name] > 0):
            raise ValueError(f"invalid {name}={value!r}; expected a positive number")
    return values


def _f64(value: float) -> torch.Tensor:
    """Return ``value`` as a float64 tensor.

    GPyTorch's setters turn a Python float into a tensor of the default dtype (float32) before
    casting it to the parameter's dtype, which rounds 0.01 to 0.0099999998; a float64 tensor
    keeps every digit.
    """
    return torch.tensor(value, dtype=DTYPE)


def _log() -> gpytorch.constraints.Positive:
    """Return a positivity constraint through ``exp``, so the optimiser works on log-hyperparameters.

    GPyTorch's default, softplus, is close to the identity for large values: a gradient step
    then changes an amplitude of 50 ppm and a length scale of 0.1 years by the same amount,
    which makes the problem badly conditioned. Scikit-learn optimises the logarithms too.
    """
    return gpytorch.constraints.Positive(transform=torch.exp, inv_transform=torch.log)


def _scaled(kernel: gpytorch.kernels.Kernel) -> gpytorch.kernels.ScaleKernel:
    return gpytorch.kernels.ScaleKernel(kernel, outputscale_constraint=_log())


def hyperparameters(model: ExactGP) -> dict[str, float]:
    """Return the CO2 model's hyperparameters in R&W's parameterisation (ppm and years)."""
    trend, seasonal, irregular, noise = model.covar_module.kernels
    decay, periodic = seasonal.base_kernel.kernels
    values = {
        "trend_amplitude": math.sqrt(trend.outputscale.item()),
        "trend_lengthscale": trend.base_kernel.lengthscale.item(),
        "seasonal_amplitude": math.sqrt(seasonal.outputscale.item()),
        "seasonal_decay": decay.lengthscale.item(),
        "seasonal_smoothness": math.sqrt(periodic.lengthscale.item()),
        "period": periodic.period_length.item(),
        "irregular_amplitude": math.sqrt(irregular.outputscale.item()),
        "irregular_lengthscale": irregular.base_kernel.lengthscale.item(),
        "noise_amplitude": math.sqrt(noise.outputscale.item()),
        "noise_lengthscale": noise.base_kernel.lengthscale.item(),
        "noise_std": math.sqrt(model.likelihood.noise.item()),
    }
    if isinstance(irregular.base_kernel, gpytorch.kernels.RQKernel):
        values["irregular_alpha"] = irregular.base_kernel.alpha.item()
    return values


def co2_model(
    x: torch.Tensor, y: torch.Tensor, initial: dict[str, float] | None = None, variant: str = "rasmussen"
) -> ExactGP:
    """Return the CO2 GP on ``(x, y)`` with the kernel ``variant``, its constant mean fixed at the mean of ``y``.

    The mean is fixed rather than learnt so that the model is the one scikit-learn fits to
    ``y - y.mean()`` (a zero-mean GP), and the two log marginal likelihoods are comparable.
    """
    values = _hyperparameter_values(initial)
    x, y = torch.as_tensor(x, dtype=DTYPE), torch.as_tensor(y, dtype=DTYPE)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(
            f"x has shape {tuple(x.shape)} and y has shape {tuple(y.shape)}; expected decimal years and CO2 "
            "values of the same shape (n,), as as_tensors returns"
        )
    likelihood = gpytorch.likelihoods.GaussianLikelihood(
        noise_constraint=gpytorch.constraints.GreaterThan(1e-6, transform=torch.exp, inv_transform=torch.log)
    ).to(DTYPE)
    likelihood.noise = _f64(values["noise_std"] ** 2)
    model = ExactGP(x, y, co2_kernel(values, variant), likelihood).to(DTYPE)
    model.mean_module.constant = _f64(float(y.mean()))
    model.mean_module.raw_constant.requires_grad_(False)
    return model


BENCHMARK = Path(__file__).resolve().parent / "gp_co2_benchmark.json"
"""Copy of the latest results of ``benchmarks/gp_co2.py``, shipped with the package."""


def load_benchmark() -> dict:
    """Return the latest results of ``benchmarks/gp_co2.py`` (GPyTorch against scikit-learn)."""
    if not BENCHMARK.exists():
        raise FileNotFoundError(f"{BENCHMARK} not found; run `python benchmarks/gp_co2.py` to write it")
    return json.loads(BENCHMARK.read_text())
