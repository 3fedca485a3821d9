"""Reproduce the pretrained weights and records of the autoencoder chapter.

Writes to code/src/ml4es/weights/:

- wake_autoencoder.pt and .json: the convolutional autoencoder with 2 latent variables trained
  on the cylinder wake's vorticity (D = 10 lattice nodes), with its test error beside the POD's;
- wake_vae.pt and .json: the convolutional VAE with 2 latent variables on the same snapshots.

Usage: python scripts/train_autoencoders.py [--steps 600] [--vae-steps 600] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

import ml4es
from ml4es.autoencoders import fields, models
from ml4es.autoencoders.training import WakeRecipe, train_autoencoder, train_vae
from ml4es.runtime import machine_info

WEIGHTS = Path(__file__).resolve().parents[1] / "code" / "src" / "ml4es" / "weights"


def write_record(name: str, record: dict) -> None:
    path = WEIGHTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record["metrics"], indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=WakeRecipe.steps, help="Adam steps of the autoencoder")
    parser.add_argument("--vae-steps", type=int, default=WakeRecipe.steps, help="Adam steps of the VAE")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--only", choices=["autoencoder", "vae"], help="train only one of the two models")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(arguments.threads)
    command = " ".join(["python", *sys.argv])

    snapshots = fields.wake_vorticity()

    if arguments.only != "vae":
        train_wake_autoencoder(snapshots, arguments.steps, command)
    if arguments.only != "autoencoder":
        train_wake_vae(snapshots, arguments.vae_steps, command)


def train_wake_autoencoder(snapshots: fields.Snapshots, steps: int, command: str) -> None:
    pod = fields.pod_error(snapshots.train, snapshots.test, 2)
    recipe = replace(WakeRecipe(), steps=steps)
    ml4es.seed_everything(recipe.seed)
    model = models.ConvAutoencoder(snapshots.shape, recipe.latent, recipe.channels)
    start = time.perf_counter()
    history = train_autoencoder(model, snapshots.train, recipe.steps, recipe.learning_rate)
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        test_error = fields.mean_squared_error(snapshots.test, model(snapshots.test))
    torch.save(model.state_dict(), WEIGHTS / "wake_autoencoder.pt")
    write_record(
        "wake_autoencoder",
        {
            "description": "convolutional autoencoder, 2 latent variables, cylinder-wake vorticity at Re = 100 (D = 10 nodes)",
            "command": command,
            "machine": machine_info(),
            "train_seconds": round(seconds, 1),
            "recipe": asdict(recipe),
            "metrics": {
                "train_mse": history[-1],
                "test_mse": test_error,
                "pod2_test_mse": pod,
                "pod_to_autoencoder_ratio": pod / test_error,
            },
        },
    )



def train_wake_vae(snapshots: fields.Snapshots, steps: int, command: str) -> None:
    vae_recipe = replace(WakeRecipe(), steps=steps)
    ml4es.seed_everything(vae_recipe.seed)
    vae = models.ConvVAE(snapshots.shape, vae_recipe.latent, vae_recipe.channels)
    start = time.perf_counter()
    vae_history = train_vae(vae, snapshots.train, vae_recipe.steps, vae_recipe.learning_rate, vae_recipe.vae_noise_variance)
    seconds = time.perf_counter() - start
    vae.eval()
    with torch.no_grad():
        mean, _ = vae.encode(snapshots.test)
        vae_test = fields.mean_squared_error(snapshots.test, vae.decoder(mean))
        norm = vae.encode(snapshots.train)[0].norm(dim=1)
    torch.save(vae.state_dict(), WEIGHTS / "wake_vae.pt")
    write_record(
        "wake_vae",
        {
            "description": "convolutional VAE, 2 latent variables, Gaussian likelihood, same snapshots",
            "command": command,
            "machine": machine_info(),
            "train_seconds": round(seconds, 1),
            "recipe": asdict(vae_recipe),
            "metrics": {
                "final_loss": vae_history[-1],
                "test_mse_of_mean_latent": vae_test,
                "latent_mean_norm_range": [float(norm.min()), float(norm.max())],
            },
        },
    )


if __name__ == "__main__":
    main()
