"""Benchmark the Mauna Loa CO2 GP: GPyTorch against scikit-learn, side by side in one run.

Both libraries fit the same model to the same data:

- data: monthly means of the Mauna Loa record from March 1958 to December 2001 (521 months,
  ``ml4es.gp.co2.load_co2``), time in decimal years, CO2 in ppm;
- models: the composite kernel of Rasmussen and Williams (2006, section 5.4.3), which is trend +
  seasonal + irregular + short-term noise, plus white noise. The second model is the ``rough``
  variant of ``co2.co2_kernel`` (Matérn 3/2 trend, Matérn 1/2 irregular term). Both libraries
  start from the same hyperparameters (``co2.INITIAL``), with the period fixed at one year;
- scale: both fit ``y - mean(y)`` in ppm. Scikit-learn runs with ``normalize_y=False`` and
  GPyTorch's constant mean is fixed at ``mean(y)``, so both log marginal likelihoods are of the
  same zero-mean GP on the same numbers, in nats. As a cross-check, scikit-learn also evaluates
  its own log marginal likelihood at GPyTorch's fitted hyperparameters;
- optimiser: SciPy's L-BFGS-B with its default tolerances, on the logarithms of the
  hyperparameters, in both (scikit-learn's default; ``ml4es.gp.exact.fit`` in GPyTorch, float64).

Fit times are the median of ``--repeats`` fits of each library, alternated, on ``--threads``
threads each (PyTorch threads, and the BLAS threads of NumPy through threadpoolctl). Then each
library refits on the months up to the end of 1995 and forecasts 1996-2001; the coverage is the
share of those 72 monthly values inside the 95 % predictive interval (noise included).

Prints a table and writes benchmarks/results/gp_co2.json, and a copy to
code/src/ml4es/gp/gp_co2_benchmark.json that the chapter reads.

Usage: python benchmarks/gp_co2.py [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    ExpSineSquared,
    Matern,
    RationalQuadratic,
    WhiteKernel,
)
from threadpoolctl import threadpool_limits

import gpytorch
from ml4es.gp import co2, exact
from ml4es.runtime import machine_info

RESULTS = Path(__file__).resolve().parent / "results" / "gp_co2.json"
Z_95 = 1.959964


def sklearn_kernel(values: dict[str, float], variant: str):
    """Return scikit-learn's version of ``co2.co2_kernel`` plus white noise, set to ``values``."""
    if variant == "rough":
        trend_shape = Matern(values["trend_lengthscale"], nu=1.5)
        irregular_shape = Matern(values["irregular_lengthscale"], nu=0.5)
    else:
        trend_shape = RBF(values["trend_lengthscale"])
        irregular_shape = RationalQuadratic(values["irregular_lengthscale"], values["irregular_alpha"])
    trend = ConstantKernel(values["trend_amplitude"] ** 2) * trend_shape
    seasonal = (
        ConstantKernel(values["seasonal_amplitude"] ** 2)
        * RBF(values["seasonal_decay"])
        * ExpSineSquared(values["seasonal_smoothness"], values["period"], periodicity_bounds="fixed")
    )
    irregular = ConstantKernel(values["irregular_amplitude"] ** 2) * irregular_shape
    noise = ConstantKernel(values["noise_amplitude"] ** 2) * RBF(values["noise_lengthscale"])
    white = WhiteKernel(values["noise_std"] ** 2, noise_level_bounds=(1e-6, 1e5))
    return trend + seasonal + irregular + noise + white


def fit_gpytorch(x: torch.Tensor, y: torch.Tensor, variant: str) -> tuple[co2.ExactGP, dict]:
    model = co2.co2_model(x, y, variant=variant)
    start = time.process_time()
    result = exact.fit(model, optimizer="lbfgs", progress=False)
    result["cpu_seconds"] = time.process_time() - start
    return model, result


def fit_sklearn(x: torch.Tensor, y: torch.Tensor, variant: str) -> tuple[GaussianProcessRegressor, dict]:
    regressor = GaussianProcessRegressor(sklearn_kernel(co2.INITIAL, variant), normalize_y=False)
    start, cpu_start = time.perf_counter(), time.process_time()
    regressor.fit(x.numpy()[:, None], (y - y.mean()).numpy())
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return regressor, {"seconds": seconds, "cpu_seconds": cpu_seconds}


def coverage(mean: np.ndarray, std: np.ndarray, y: np.ndarray) -> dict:
    inside = np.abs(y - mean) <= Z_95 * std
    return {
        "coverage": float(inside.mean()),
        "months": int(len(y)),
        "rmse_ppm": float(np.sqrt(np.mean((y - mean) ** 2))),
        "mean_interval_width_ppm": float(np.mean(2 * Z_95 * std)),
    }


def forecast_gpytorch(dataset, variant: str) -> dict:
    x_train, y_train = co2.as_tensors(dataset, until=co2.SPLIT)
    x_test, y_test = co2.as_tensors(dataset.sel(time=slice("1996-01-01", None)))
    model, result = fit_gpytorch(x_train, y_train, variant)
    mean, std = exact.predict(model, x_test)
    record = coverage(mean.numpy(), std.numpy(), y_test.numpy())
    record["log_marginal_likelihood"] = result["history"][-1]
    return record


def forecast_sklearn(dataset, variant: str) -> dict:
    x_train, y_train = co2.as_tensors(dataset, until=co2.SPLIT)
    x_test, y_test = co2.as_tensors(dataset.sel(time=slice("1996-01-01", None)))
    regressor, _ = fit_sklearn(x_train, y_train, variant)
    mean, std = regressor.predict(x_test.numpy()[:, None], return_std=True)
    record = coverage(mean + float(y_train.mean()), std, y_test.numpy())
    record["log_marginal_likelihood"] = float(regressor.log_marginal_likelihood_value_)
    return record


def sklearn_hyperparameters(regressor: GaussianProcessRegressor, variant: str) -> dict[str, float]:
    """Return scikit-learn's fitted hyperparameters under the names of ``co2.INITIAL``."""
    parameters = regressor.kernel_.get_params()
    names = {
        "trend_amplitude": "k1__k1__k1__k1__k1__constant_value",
        "trend_lengthscale": "k1__k1__k1__k1__k2__length_scale",
        "seasonal_amplitude": "k1__k1__k1__k2__k1__k1__constant_value",
        "seasonal_decay": "k1__k1__k1__k2__k1__k2__length_scale",
        "seasonal_smoothness": "k1__k1__k1__k2__k2__length_scale",
        "period": "k1__k1__k1__k2__k2__periodicity",
        "irregular_amplitude": "k1__k1__k2__k1__constant_value",
        "irregular_lengthscale": "k1__k1__k2__k2__length_scale",
        "irregular_alpha": "k1__k1__k2__k2__alpha",
        "noise_amplitude": "k1__k2__k1__constant_value",
        "noise_lengthscale": "k1__k2__k2__length_scale",
        "noise_std": "k2__noise_level",
    }
    if variant == "rough":
        del names["irregular_alpha"]
    values = {name: float(parameters[key]) for name, key in names.items()}
    for name in ("trend_amplitude", "seasonal_amplitude", "irregular_amplitude", "noise_amplitude", "noise_std"):
        values[name] = values[name] ** 0.5
    return values


def run(dataset, variant: str, repeats: int) -> dict:
    x, y = co2.as_tensors(dataset)
    gpytorch_runs, sklearn_runs = [], []
    for _ in range(repeats):
        model, result = fit_gpytorch(x, y, variant)
        gpytorch_runs.append(result)
        regressor, timing = fit_sklearn(x, y, variant)
        sklearn_runs.append(timing)

    fitted = co2.hyperparameters(model)
    lml_gpytorch = gpytorch_runs[-1]["history"][-1]
    lml_sklearn = float(regressor.log_marginal_likelihood_value_)
    theta = sklearn_kernel(fitted, variant).theta
    lml_sklearn_at_gpytorch = float(regressor.log_marginal_likelihood(theta))

    return {
        "gpytorch": {
            "log_marginal_likelihood": lml_gpytorch,
            "log_marginal_likelihood_by_sklearn": lml_sklearn_at_gpytorch,
            "fit_seconds": statistics.median(run["seconds"] for run in gpytorch_runs),
            "fit_cpu_seconds": statistics.median(run["cpu_seconds"] for run in gpytorch_runs),
            "fit_seconds_all": [round(run["seconds"], 3) for run in gpytorch_runs],
            "evaluations": gpytorch_runs[-1]["evaluations"],
            "iterations": len(gpytorch_runs[-1]["history"]),
            "hyperparameters": fitted,
            "forecast_1996_2001": forecast_gpytorch(dataset, variant),
        },
        "sklearn": {
            "log_marginal_likelihood": lml_sklearn,
            "fit_seconds": statistics.median(run["seconds"] for run in sklearn_runs),
            "fit_cpu_seconds": statistics.median(run["cpu_seconds"] for run in sklearn_runs),
            "fit_seconds_all": [round(run["seconds"], 3) for run in sklearn_runs],
            "hyperparameters": sklearn_hyperparameters(regressor, variant),
            "forecast_1996_2001": forecast_sklearn(dataset, variant),
        },
    }


def print_table(results: dict, variant: str) -> None:
    ours, theirs = results[variant]["gpytorch"], results[variant]["sklearn"]
    rows = [
        ("log marginal likelihood (nats)", f"{ours['log_marginal_likelihood']:.4f}", f"{theirs['log_marginal_likelihood']:.4f}"),
        ("  same, computed by scikit-learn", f"{ours['log_marginal_likelihood_by_sklearn']:.4f}", ""),
        ("fit time, wall-clock (s, median)", f"{ours['fit_seconds']:.2f}", f"{theirs['fit_seconds']:.2f}"),
        ("fit time, CPU (s, median)", f"{ours['fit_cpu_seconds']:.2f}", f"{theirs['fit_cpu_seconds']:.2f}"),
    ]
    for key, label in (("coverage", "1996-2001 coverage of 95 % interval"), ("rmse_ppm", "1996-2001 RMSE (ppm)"),
                       ("log_marginal_likelihood", "LML of the fit to 1995 (nats)")):
        values = [run["forecast_1996_2001"][key] for run in (ours, theirs)]
        if key == "coverage":
            rows.append((label, *(f"{100 * value:.1f} %" for value in values)))
        else:
            rows.append((label, *(f"{value:.3f}" for value in values)))
    print()
    print(f"{'kernel: ' + variant:40s}{'GPyTorch':>14s}{'scikit-learn':>14s}")
    for name, left, right in rows:
        print(f"{name:40s}{left:>14s}{right:>14s}")
    print()
    print(f"{'hyperparameter':24s}{'GPyTorch':>14s}{'scikit-learn':>14s}")
    for name, value in ours["hyperparameters"].items():
        print(f"{name:24s}{value:>14.4g}{theirs['hyperparameters'][name]:>14.4g}")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fits of each library to time, alternated (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for PyTorch and for NumPy's BLAS (default 1)")
    arguments = parser.parse_args()
    if arguments.repeats < 1:
        parser.error(f"invalid --repeats {arguments.repeats}; expected a positive integer")

    torch.set_num_threads(arguments.threads)
    machine = machine_info()
    machine.update(gpytorch=gpytorch.__version__, sklearn=sklearn.__version__, blas_threads=arguments.threads)
    results = {"benchmark": "gp_co2", "machine": machine, "repeats": arguments.repeats}
    start = time.perf_counter()
    dataset = co2.load_co2()
    results["data"] = {
        "months": int(dataset.sizes["time"]),
        "first": str(dataset.time.values[0])[:7],
        "last": str(dataset.time.values[-1])[:7],
        "forecast_months": int(dataset.sel(time=slice("1996-01-01", None)).sizes["time"]),
    }
    with threadpool_limits(arguments.threads):
        for variant in co2.VARIANTS:
            results[variant] = run(dataset, variant, arguments.repeats)
    results["wall_seconds"] = round(time.perf_counter() - start, 1)
    results["machine"]["load_average_at_end"] = list(os.getloadavg())

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    # The chapter reads the copy inside the package, which Colab and Binder install without this folder.
    co2.BENCHMARK.write_text(RESULTS.read_text())
    for variant in co2.VARIANTS:
        print_table(results, variant)
    print(f"wrote {RESULTS} and {co2.BENCHMARK}")


if __name__ == "__main__":
    main()
