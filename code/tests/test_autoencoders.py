"""Tests of the autoencoder models, the reference methods (PCA/POD) and the exercise checkers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from ml4es.autoencoders import checks, fields, models, plots


# --- models ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(39, 69), (32, 64), (29, 49)])
def test_conv_autoencoder_shapes(shape):
    model = models.ConvAutoencoder(shape, latent=2, channels=4)
    x = torch.randn(3, 1, *shape)
    assert model.encoder(x).shape == (3, 2)
    assert model(x).shape == (3, 1, *shape)


def test_conv_vae_shapes_and_sampling():
    model = models.ConvVAE((39, 69), latent=3, channels=4)
    x = torch.randn(5, 1, 39, 69)
    reconstruction, mean, log_variance = model(x)
    assert reconstruction.shape == x.shape
    assert mean.shape == (5, 3)
    assert log_variance.shape == (5, 3)
    first = model.sample(4, generator=torch.Generator().manual_seed(1))
    second = model.sample(4, generator=torch.Generator().manual_seed(1))
    assert first.shape == (4, 1, 39, 69)
    torch.testing.assert_close(first, second)


def test_kl_divergence_hand_values():
    mean = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    log_variance = torch.tensor([[0.0, 0.0], [0.0, math.log(4.0)]])
    # Second row: mu^2 / 2 + (4 - 1 - log 4) / 2.
    expected = torch.tensor([0.0, 0.5 + 0.5 * (3 - math.log(4.0))])
    torch.testing.assert_close(models.kl_divergence(mean, log_variance), expected)


def test_vae_loss_terms_are_non_negative():
    torch.manual_seed(0)
    model = models.ConvVAE((16, 16), latent=2, channels=4)
    loss, reconstruction, kl = models.vae_loss(model, torch.randn(4, 1, 16, 16))
    assert float(reconstruction.detach()) > 0
    assert float(kl.detach()) >= 0
    assert float(loss.detach()) == pytest.approx(float((reconstruction + kl).detach()), rel=1e-5)


def test_linear_autoencoder_spans_pca_subspace():
    generator = torch.Generator().manual_seed(0)
    scales = torch.tensor([3.0, 2.0, 1.0, 0.3, 0.2, 0.1])
    data = torch.randn(400, 6, generator=generator) * scales
    data = data @ torch.linalg.qr(torch.randn(6, 6, generator=generator))[0]
    data = data - data.mean(0)
    torch.manual_seed(0)
    model = models.LinearAutoencoder(6, latent=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(1500):
        optimizer.zero_grad()
        loss = ((model(data) - data) ** 2).mean()
        loss.backward()
        optimizer.step()
    _, principal = fields.pod_modes(data, 2)
    angle = fields.largest_principal_angle(model.decoder.weight.detach().numpy(), principal.T)
    assert angle < 1.0


def test_untrained_linear_autoencoder_misses_pca_subspace():
    torch.manual_seed(3)
    data = torch.randn(200, 6) * torch.tensor([3.0, 2.0, 1.0, 0.3, 0.2, 0.1])
    model = models.LinearAutoencoder(6, latent=2)
    _, principal = fields.pod_modes(data, 2)
    assert fields.largest_principal_angle(model.decoder.weight.detach().numpy(), principal.T) > 5.0


# --- reference methods -------------------------------------------------------------------------


def test_pod_with_all_modes_is_exact():
    data = np.random.default_rng(0).normal(size=(10, 7))
    mean, modes = fields.pod_modes(data, 7)
    np.testing.assert_allclose(fields.pod_reconstruct(data, mean, modes), data, atol=1e-12)


def test_pod_error_falls_with_modes():
    data = np.random.default_rng(1).normal(size=(30, 12)) * np.linspace(3, 0.1, 12)
    errors = [fields.pod_error(data[:20], data[20:], k) for k in range(1, 12)]
    assert errors[0] > errors[5] > errors[-1]


def test_pod_modes_rejects_bad_count():
    with pytest.raises(ValueError, match="modes must be between 1 and 5"):
        fields.pod_modes(np.zeros((5, 8)), 6)


def test_principal_angle_of_rotated_basis_is_zero():
    basis = np.linalg.qr(np.random.default_rng(2).normal(size=(8, 2)))[0]
    rotation = np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]])
    assert fields.largest_principal_angle(basis, basis @ rotation * 3.0) == pytest.approx(0.0, abs=1e-6)
    orthogonal = np.eye(4)[:, :2], np.eye(4)[:, 2:]
    assert fields.largest_principal_angle(*orthogonal) == pytest.approx(90.0)


def test_split_snapshots_standardises_training_part():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(20, 4, 5)) * 3 + 1
    snapshots = fields.split_snapshots(values, np.arange(20), np.arange(5), np.arange(4))
    assert snapshots.train.shape == (16, 1, 4, 5)
    assert snapshots.test.shape == (4, 1, 4, 5)
    assert float(snapshots.train.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(snapshots.train.std(unbiased=False)) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(snapshots.physical(snapshots.test)[:, 0], values[16:], rtol=1e-5)


def test_split_snapshots_rejects_bad_shape():
    with pytest.raises(ValueError, match="expected fields of shape"):
        fields.split_snapshots(np.zeros((20, 5)), np.arange(20), np.arange(5), np.arange(1))


def test_digits_and_reanalysis_load():
    digits, labels = fields.digits()
    assert digits.shape == (1797, 64)
    assert float(digits.max()) == 1.0
    heights = fields.reanalysis_heights()
    assert heights.dims == ("time", "latitude", "longitude")
    assert heights.shape == (65, 29, 49)
    assert 4500 < float(heights.mean()) < 6000


def test_field_statistics_of_identical_sets_are_zero():
    data = torch.randn(10, 1, 8, 16, generator=torch.Generator().manual_seed(0))
    errors = plots.field_statistics(data, data)["errors"]
    assert all(value == pytest.approx(0.0, abs=1e-12) for value in errors.values())


def test_field_statistics_detect_weak_samples():
    data = torch.randn(50, 1, 8, 16, generator=torch.Generator().manual_seed(0))
    errors = plots.field_statistics(data, 0.5 * data)["errors"]
    assert errors["variance field"] == pytest.approx(0.75, rel=1e-6)
    assert errors["log10 power spectrum"] == pytest.approx(math.log10(4), rel=1e-6)


# --- checkers ------------------------------------------------------------------------------------


class GoodAutoencoder(nn.Module):
    def __init__(self, n_features, latent, hidden):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, n_features))

    def forward(self, x):
        return self.decoder(self.encoder(x))


class LinearOnly(GoodAutoencoder):
    def __init__(self, n_features, latent, hidden):
        super().__init__(n_features, latent, hidden)
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden), nn.Linear(hidden, latent))


class StubAutoencoder(nn.Module):
    def __init__(self, n_features, latent, hidden):
        super().__init__()
        raise NotImplementedError


class WrongLatent(GoodAutoencoder):
    def __init__(self, n_features, latent, hidden):
        super().__init__(n_features, latent + 1, hidden)


def test_autoencoder_checker_passes_reference():
    assert checks.check_autoencoder(GoodAutoencoder).passed is True


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (StubAutoencoder, None),
        (..., None),
        (LinearOnly, False),
        (WrongLatent, False),
        (42, False),
    ],
)
def test_autoencoder_checker_rejects(answer, expected):
    verdict = checks.check_autoencoder(answer)
    assert verdict.passed is expected


def test_autoencoder_checker_explains_missing_nonlinearity():
    assert "activation" in checks.check_autoencoder(LinearOnly).message


def good_loss(x, x_hat):
    return ((x - x_hat) ** 2).mean()


def good_pca(train, test, k):
    train, test = np.asarray(train), np.asarray(test)
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    return mean + (test - mean) @ vt[:k].T @ vt[:k]


def uncentred_pca(train, test, k):
    train, test = np.asarray(train), np.asarray(test)
    _, _, vt = np.linalg.svd(train - train.mean(axis=0), full_matrices=False)
    return test @ vt[:k].T @ vt[:k]


def test_reconstruction_checker_passes_reference():
    assert checks.check_reconstruction(good_loss, good_pca).passed is True


def test_reconstruction_checker_accepts_numpy_loss():
    # The chapter never trains with the reader's loss, so a NumPy value or a float is a fair answer.
    def numpy_loss(x, x_hat):
        return float(((np.asarray(x) - np.asarray(x_hat)) ** 2).mean())

    assert checks.check_reconstruction(numpy_loss, good_pca).passed is True


def test_reconstruction_checker_accepts_tensors():
    def torch_pca(train, test, k):
        return torch.as_tensor(good_pca(train, test, k), dtype=torch.float32).requires_grad_(True)

    assert checks.check_reconstruction(good_loss, torch_pca).passed is True


@pytest.mark.parametrize(
    ("loss", "pca", "hint"),
    [
        (lambda x, y: (x - y).abs().mean(), good_pca, "square the differences"),
        (good_loss, uncentred_pca, "misses the mean"),
        (good_loss, lambda train, test, k: good_pca(train, test, k) - np.asarray(train).mean(axis=0), "add the training mean back"),
        (good_loss, lambda train, test, k: np.full(np.shape(test), np.nan), "NaN"),
        (good_loss, lambda train, test, k: np.zeros((3, 3)), "shape"),
    ],
)
def test_reconstruction_checker_rejects(loss, pca, hint):
    verdict = checks.check_reconstruction(loss, pca)
    assert verdict.passed is False
    assert hint in verdict.message


def test_reconstruction_checker_stub_is_not_implemented():
    def stub(*args):
        raise NotImplementedError

    assert checks.check_reconstruction(stub, stub).passed is None


def test_vae_checker_passes_reference():
    assert checks.check_vae_parts(models.reparameterise, models.kl_divergence).passed is True


@pytest.mark.parametrize(
    ("reparameterise", "kl", "hint"),
    [
        (lambda m, lv: m + lv.exp() * torch.randn_like(m), models.kl_divergence, "standard deviation"),
        (lambda m, lv: (m + torch.exp(0.5 * lv) * torch.randn_like(m)).detach(), models.kl_divergence, "gradient"),
        (models.reparameterise, lambda m, lv: models.kl_divergence(m, lv).mean(), "shape"),
        (models.reparameterise, lambda m, lv: 0.5 * (m**2 + lv.exp() - 1 - lv), "shape"),
    ],
)
def test_vae_checker_rejects(reparameterise, kl, hint):
    verdict = checks.check_vae_parts(reparameterise, kl)
    assert verdict.passed is False
    assert hint in verdict.message


def small_snapshots() -> fields.Snapshots:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(30, 6, 8)) * np.linspace(2, 0.1, 8)
    return fields.split_snapshots(values, np.arange(30), np.arange(8), np.arange(6))


def test_latent_sweep_checker():
    snapshots = small_snapshots()
    errors = {k: fields.pod_error(snapshots.train, snapshots.test, k) for k in range(1, 9)}
    target = errors[4]
    assert checks.check_latent_sweep(errors, 4, snapshots, target).passed is True
    assert checks.check_latent_sweep(errors, 3, snapshots, target).passed is False
    assert checks.check_latent_sweep(..., ..., snapshots, target).passed is None
    assert checks.check_latent_sweep([1, 2], 4, snapshots, target).passed is False
    missing = {k: v for k, v in errors.items() if k != 8}
    assert "no entry for [8]" in checks.check_latent_sweep(missing, 4, snapshots, target).message
    wrong = {**errors, 2: float("nan")}
    assert checks.check_latent_sweep(wrong, 4, snapshots, target).passed is False
    assert checks.check_latent_sweep(errors, math.inf, snapshots, -1.0).passed is True
    quoted = checks.check_latent_sweep(errors, "4", snapshots, target)
    assert quoted.passed is False
    assert "`modes_needed` is text ('4')" in quoted.message


def kl_without_half(mean, log_variance):
    return (mean**2 + log_variance.exp() - 1 - log_variance).sum(1)


def kl_without_minus_one(mean, log_variance):
    return 0.5 * (mean**2 + log_variance.exp() - log_variance).sum(1)


def kl_with_standard_deviation(mean, log_variance):
    return 0.5 * (mean**2 + (log_variance / 2).exp() - 1 - log_variance).sum(1)


@pytest.mark.parametrize(
    ("kl", "hint"),
    [
        (kl_without_half, "factor 1/2"),
        (kl_without_minus_one, "-1 for each latent variable"),
        (kl_with_standard_deviation, "the standard deviation where the variance belongs"),
    ],
)
def test_vae_checker_names_kl_mistakes(kl, hint):
    verdict = checks.check_vae_parts(models.reparameterise, kl)
    assert verdict.passed is False
    assert hint in verdict.message


def test_vae_checker_names_shared_noise():
    def shared(mean, log_variance):
        return mean + (log_variance / 2).exp() * torch.randn(mean.shape[1], dtype=mean.dtype)

    verdict = checks.check_vae_parts(shared, models.kl_divergence)
    assert verdict.passed is False
    assert "every row of z is the same" in verdict.message
