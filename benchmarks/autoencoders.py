"""Benchmark the autoencoder chapter's targets side by side in one run.

Measures:

1. the linear autoencoder on scikit-learn's digits (k = 2, 3000 full-batch Adam steps): the
   largest principal angle between its decoder's columns and the two leading principal
   components (target: at most 5 degrees);
2. the cylinder wake's vorticity at k = 2: the test mean squared error of the POD with 2 modes
   and of the convolutional autoencoder, from the shipped weights and, with ``--train``,
   retrained here with the chapter's recipe (target: the POD's error at least 5 times the
   autoencoder's);
3. the VAE's samples against the data: relative errors of the mean and variance fields and the
   mean absolute difference of the log10 streamwise power spectra.

Prints a table and writes benchmarks/results/autoencoders.json.

Usage: python benchmarks/autoencoders.py [--train] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import resources
from pathlib import Path

import torch

import ml4es
import ml4es.training
from ml4es.autoencoders import fields, models, plots
from ml4es.autoencoders.training import WakeRecipe, train_autoencoder
from ml4es.runtime import machine_info

RESULTS = Path(__file__).resolve().parent / "results" / "autoencoders.json"


def linear_angle() -> float:
    digits, _ = fields.digits()
    centred = digits - digits.mean(0)
    ml4es.seed_everything(0)
    linear = models.LinearAutoencoder(64, latent=2)
    optimizer = torch.optim.Adam(linear.parameters(), lr=0.01)
    ml4es.training.train(lambda: ((linear(centred) - centred) ** 2).mean(), optimizer, 3000, progress=False)
    _, principal = fields.pod_modes(centred, 2)
    return fields.largest_principal_angle(linear.decoder.weight.detach().numpy(), principal.T)


def load(model: torch.nn.Module, name: str) -> torch.nn.Module:
    with resources.as_file(resources.files("ml4es") / "weights" / name) as path:
        model.load_state_dict(torch.load(path))
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="also retrain the wake autoencoder with the chapter's recipe")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    results: dict = {"machine": machine_info()}
    start = time.perf_counter()
    results["linear_autoencoder_max_angle_degrees"] = linear_angle()
    results["linear_seconds"] = time.perf_counter() - start

    snapshots = fields.wake_vorticity(progress=False)
    recipe = WakeRecipe()
    results["pod2_test_mse"] = fields.pod_error(snapshots.train, snapshots.test, 2)
    autoencoder = load(models.ConvAutoencoder(snapshots.shape, recipe.latent, recipe.channels), "wake_autoencoder.pt")
    with torch.no_grad():
        results["autoencoder_test_mse"] = fields.mean_squared_error(snapshots.test, autoencoder(snapshots.test))
    results["pod_to_autoencoder_ratio"] = results["pod2_test_mse"] / results["autoencoder_test_mse"]

    if arguments.train:
        ml4es.seed_everything(recipe.seed)
        retrained = models.ConvAutoencoder(snapshots.shape, recipe.latent, recipe.channels)
        start = time.perf_counter()
        train_autoencoder(retrained, snapshots.train, recipe.steps, recipe.learning_rate, progress=False)
        results["retrain_seconds"] = time.perf_counter() - start
        with torch.no_grad():
            results["retrained_test_mse"] = fields.mean_squared_error(snapshots.test, retrained(snapshots.test))

    vae = load(models.ConvVAE(snapshots.shape, recipe.latent, recipe.channels), "wake_vae.pt")
    samples = vae.sample(500, generator=torch.Generator().manual_seed(0))
    data = torch.cat([snapshots.train, snapshots.test])
    statistics = plots.field_statistics(snapshots.physical(data), snapshots.physical(samples))
    results["vae_errors"] = statistics["errors"]

    rows = [
        ("linear AE vs PCA, largest angle (degrees)", "<= 5", results["linear_autoencoder_max_angle_degrees"]),
        ("wake k = 2: POD test MSE", "", results["pod2_test_mse"]),
        ("wake k = 2: autoencoder test MSE", "", results["autoencoder_test_mse"]),
        ("wake k = 2: POD / autoencoder", ">= 5", results["pod_to_autoencoder_ratio"]),
    ]
    if arguments.train:
        rows.append(("wake k = 2: retrained autoencoder test MSE", "", results["retrained_test_mse"]))
    rows += [(f"VAE samples: {name}", "", value) for name, value in statistics["errors"].items()]
    for name, target, value in rows:
        print(f"{name:48s}{target:>8s}{value:12.4g}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
