"""Checkers for the exercises of the autoencoder chapter."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ml4es.autoencoders import fields, models
from ml4es.checks import CheckFailed, NotImplementedYet, as_float, as_tensor, assert_close, call, checker, is_stub


def _probe_data(n: int = 40, features: int = 12, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Two fixed random data sets ``(n, features)`` with a non-zero mean and unequal variances."""
    generator = torch.Generator().manual_seed(seed)
    scales = torch.linspace(2.0, 0.1, features, dtype=torch.float64)
    train = 3.0 + torch.randn(n, features, generator=generator, dtype=torch.float64) * scales
    test = 3.0 + torch.randn(n // 2, features, generator=generator, dtype=torch.float64) * scales
    return train, test


# --- Exercise 1: encoder and decoder -------------------------------------------------------------


@checker("Exercise 1 (encoder and decoder)")
def check_autoencoder(autoencoder_class: Any) -> str:
    """Build ``autoencoder_class(64, 2, 32)`` and test its encoder, decoder and forward pass."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = call(autoencoder_class, 64, 2, 32, name="Autoencoder")
    if not isinstance(model, nn.Module):
        raise CheckFailed(f"`Autoencoder(64, 2, 32)` should be an nn.Module, but it is {type(model).__name__}.")
    for part in ("encoder", "decoder"):
        if not isinstance(getattr(model, part, None), nn.Module):
            raise CheckFailed(f"the model should have an attribute `{part}` that is an nn.Module (for example nn.Sequential).")

    x = torch.rand(10, 64)
    z = as_tensor(call(model.encoder, x, name="encoder"), "model.encoder(x)", shape=(10, 2), dtype=torch.float32)
    reconstruction = call(model.decoder, z, name="decoder")
    as_tensor(reconstruction, "model.decoder(z)", shape=(10, 64), dtype=torch.float32)
    output = call(model, x, name="forward")
    output = as_tensor(output, "model(x)", shape=(10, 64), dtype=torch.float32)
    assert_close(output, as_tensor(reconstruction, "model.decoder(model.encoder(x))", dtype=torch.float32), "model(x)")

    hidden = [layer for layer in model.encoder.modules() if isinstance(layer, nn.Linear)]
    if not hidden or hidden[0].out_features != 32:
        raise CheckFailed("the encoder's first nn.Linear layer should map the 64 inputs to `hidden` (32) units.")
    if not any(not isinstance(layer, (nn.Linear, nn.Sequential)) for layer in model.encoder.modules()):
        raise CheckFailed("the encoder has no activation function: without one it is linear, like PCA.")

    loss = ((model(x) - x) ** 2).mean()
    loss.backward()
    first = next(model.encoder.parameters())
    if first.grad is None or float(first.grad.abs().sum()) == 0:
        raise CheckFailed("no gradient reaches the encoder: check that forward() calls the encoder, then the decoder.")
    count = sum(parameter.numel() for parameter in model.parameters())
    return f"z has shape {tuple(z.shape)} and the model {count} parameters."


# --- Exercise 2: reconstruction loss and PCA -------------------------------------------------------


@checker("Exercise 2 (reconstruction loss and PCA)")
def check_reconstruction(reconstruction_loss: Any, pca_reconstruction: Any) -> str:
    """Test ``reconstruction_loss(x, x_hat)`` and ``pca_reconstruction(train, test, k)``."""
    if is_stub(reconstruction_loss) or is_stub(pca_reconstruction):
        raise NotImplementedYet
    train, test = _probe_data()

    x_hat = test + 0.5
    loss = as_float(call(reconstruction_loss, test, x_hat, name="reconstruction_loss"), "reconstruction_loss(x, x_hat)")
    if math.isclose(loss, 0.5, rel_tol=1e-6):
        raise CheckFailed("reconstruction_loss returned 0.5 for an error of 0.5 everywhere: square the differences (mean squared error 0.25).")
    if not math.isclose(loss, 0.25, rel_tol=1e-5):
        raise CheckFailed(
            f"reconstruction_loss(x, x + 0.5) returned {loss:.4g}; the mean squared error over every value is 0.25."
        )

    k = 3
    answer = call(pca_reconstruction, train.clone(), test.clone(), k, name="pca_reconstruction")
    answer = as_tensor(answer, "pca_reconstruction(train, test, 3)", shape=tuple(test.shape))
    mean, modes = fields.pod_modes(train, k)
    expected = torch.from_numpy(fields.pod_reconstruct(test, mean, modes))
    uncentred = torch.from_numpy(test.numpy() @ modes.T @ modes)
    if torch.allclose(answer, uncentred, atol=1e-6):
        raise CheckFailed("the reconstruction misses the mean: subtract the training mean before projecting and add it back after.")
    centred = torch.from_numpy((test.numpy() - mean) @ modes.T @ modes)
    if torch.allclose(answer, centred, atol=1e-6):
        raise CheckFailed("the projection is right, but add the training mean back to it.")
    test_mean = test.numpy().mean(axis=0)
    if torch.allclose(answer, torch.from_numpy(test_mean + (test.numpy() - test_mean) @ modes.T @ modes), atol=1e-6):
        raise CheckFailed("the test fields are centred with their own mean: use the training mean, as for new data.")
    _, test_modes = fields.pod_modes(test, k)
    wrong_basis = torch.from_numpy(fields.pod_reconstruct(test, mean, test_modes))
    if torch.allclose(answer, wrong_basis, atol=1e-6):
        raise CheckFailed("the modes come from the test data: compute them from `train` only.")
    assert_close(answer, expected, "pca_reconstruction(train, test, 3)", rtol=1e-5, atol=1e-6)
    error = float(((answer - test) ** 2).mean())
    return f"with 3 components the test error on the probe data is {error:.3f}."


# --- Exercise 4: reparameterisation and KL -------------------------------------------------------


@checker("Exercise 4 (reparameterisation and KL term)")
def check_vae_parts(reparameterise: Any, kl_divergence: Any) -> str:
    """Test ``reparameterise(mean, log_variance)`` and ``kl_divergence(mean, log_variance)``."""
    if is_stub(reparameterise) or is_stub(kl_divergence):
        raise NotImplementedYet
    generator = torch.Generator().manual_seed(7)
    mean = torch.randn(6, 2, generator=generator, dtype=torch.float64)
    log_variance = torch.randn(6, 2, generator=generator, dtype=torch.float64)

    kl = call(kl_divergence, mean.clone(), log_variance.clone(), name="kl_divergence")
    kl = as_tensor(kl, "kl_divergence(mean, log_variance)", shape=(6,))
    expected = models.kl_divergence(mean, log_variance)
    if torch.allclose(kl, expected.mean().expand(6), atol=1e-8) or torch.allclose(kl.sum(), expected.sum()) and not torch.allclose(kl, expected):
        raise CheckFailed("kl_divergence should return one value per field, summed over the latent axis only: shape (batch,).")
    variance = log_variance.exp()
    mistakes = [
        (2 * expected, "your KL term is twice the reference: it has a factor 1/2 in front of the sum."),
        (-expected, "your KL term has the wrong sign: the KL divergence is never negative."),
        (expected + 1.0, "each latent variable adds 1/2 too much: the sum contains -1 for each latent variable."),
        (0.5 * (mean**2 + log_variance.div(2).exp() - 1 - log_variance).sum(1),
         "your KL term uses the standard deviation where the variance belongs: sigma² = exp(log_variance)."),
        (0.5 * (mean**2 + variance - 1 + log_variance).sum(1),
         "your KL term adds log sigma²; the sum has -log sigma² = -log_variance."),
    ]
    for candidate, hint in mistakes:
        if torch.allclose(kl, candidate, rtol=1e-6, atol=1e-9) and not torch.allclose(kl, expected, rtol=1e-6, atol=1e-9):
            raise CheckFailed(hint)
    assert_close(kl, expected, "kl_divergence(mean, log_variance)", rtol=1e-6, atol=1e-9)

    many_mean = torch.tensor([[1.0, -2.0]]).repeat(20000, 1).requires_grad_(True)
    many_log_variance = torch.log(torch.tensor([[0.25, 4.0]])).repeat(20000, 1).requires_grad_(True)
    with torch.random.fork_rng():
        torch.manual_seed(11)
        z = call(reparameterise, many_mean, many_log_variance, name="reparameterise")
    if not isinstance(z, torch.Tensor):
        raise CheckFailed("reparameterise should return a tensor, built from torch operations so that gradients flow.")
    if not z.requires_grad:
        raise CheckFailed("no gradient flows through z: build it from `mean` and `log_variance` with torch operations.")
    values = as_tensor(z, "reparameterise(mean, log_variance)", shape=(20000, 2))
    sample_mean = values.mean(0)
    sample_std = values.std(0)
    if bool((sample_std < 1e-6).any()):
        raise CheckFailed(
            "every row of z is the same: draw eps for each element, for example with torch.randn_like(mean), "
            "not one value shared by the whole batch."
        )
    if not torch.allclose(sample_mean, torch.tensor([1.0, -2.0], dtype=torch.float64), atol=0.05):
        raise CheckFailed(f"the samples' mean is {sample_mean.numpy().round(3)}, expected [1, -2] (the `mean` argument).")
    if torch.allclose(sample_std, torch.tensor([0.25, 4.0], dtype=torch.float64), rtol=0.05):
        raise CheckFailed("the samples' standard deviation equals the variance: use exp(log_variance / 2), not exp(log_variance).")
    if not torch.allclose(sample_std, torch.tensor([0.5, 2.0], dtype=torch.float64), rtol=0.05):
        raise CheckFailed(f"the samples' standard deviation is {sample_std.numpy().round(3)}, expected [0.5, 2] = exp(log_variance / 2).")
    z.sum().backward()
    if many_log_variance.grad is None or float(many_log_variance.grad.abs().sum()) == 0:
        raise CheckFailed("no gradient reaches `log_variance`: draw eps ~ N(0, I) and scale it, z = mean + std * eps.")
    return "z has the right mean and spread, gradients reach both arguments, and the KL term matches."


# --- Exercise 3: latent size against error ---------------------------------------------------------


@checker("Exercise 3 (latent size against error)")
def check_latent_sweep(pod_errors: Any, modes_needed: Any, snapshots: fields.Snapshots, autoencoder_error: float) -> str:
    """Test the POD test errors for 1 to 8 modes and the number of modes that matches the autoencoder."""
    if is_stub(pod_errors) or is_stub(modes_needed):
        raise NotImplementedYet
    if not isinstance(pod_errors, Mapping):
        raise CheckFailed(f"`pod_errors` should be a dict {{modes: error}}, but it is {type(pod_errors).__name__}.")
    expected = {k: fields.pod_error(snapshots.train, snapshots.test, k) for k in range(1, 9)}
    missing = sorted(set(expected) - {int(k) for k in pod_errors if isinstance(k, (int, np.integer))})
    if missing:
        raise CheckFailed(f"`pod_errors` has no entry for {missing} modes; expected keys 1 to 8.")
    for k, reference in expected.items():
        value = as_float(pod_errors[k], f"pod_errors[{k}]")
        if not math.isclose(value, reference, rel_tol=1e-3, abs_tol=1e-6):
            raise CheckFailed(
                f"pod_errors[{k}] is {value:.4g}, expected {reference:.4g}: the mean squared error on `snapshots.test` "
                f"of the POD with {k} mode{'s' if k != 1 else ''} fitted to `snapshots.train`."
            )
    needed = next((k for k, value in expected.items() if value <= autoencoder_error), None)
    if isinstance(modes_needed, (int, float)) and math.isinf(modes_needed):
        answer = math.inf
    else:
        answer = as_float(modes_needed, "modes_needed")
    if needed is None:
        if not math.isinf(answer) and answer <= 8:
            raise CheckFailed("no POD with up to 8 modes reaches the autoencoder's error: set `modes_needed = math.inf`.")
        return "no POD with up to 8 modes reaches the autoencoder's error."
    if answer != needed:
        raise CheckFailed(
            f"modes_needed is {answer:g}, but the first POD whose error is at most the autoencoder's "
            f"({autoencoder_error:.3g}) has {needed} modes."
        )
    return f"the POD needs {needed} mode{'s' if needed != 1 else ''} to do as well as the autoencoder with 2 latent variables."
