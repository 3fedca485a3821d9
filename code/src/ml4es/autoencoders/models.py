"""Autoencoder models: linear, dense, convolutional and a variational autoencoder."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class LinearAutoencoder(nn.Module):
    """``x -> W_d (W_e x)``: one linear encoder and one linear decoder, no biases.

    Trained with the squared error on centred data, its decoder's columns span the leading
    principal subspace of the data (Baldi and Hornik 1989), though they need not be the
    principal directions themselves.
    """

    def __init__(self, n_features: int, latent: int):
        super().__init__()
        self.encoder = nn.Linear(n_features, latent, bias=False)
        self.decoder = nn.Linear(latent, n_features, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class DenseAutoencoder(nn.Module):
    """Fully connected autoencoder ``n_features -> hidden -> latent -> hidden -> n_features``."""

    def __init__(self, n_features: int, latent: int, hidden: int = 64):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden), nn.GELU(), nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.GELU(), nn.Linear(hidden, n_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def _conv_block(channels_in: int, channels_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1), nn.GELU())


class ConvEncoder(nn.Module):
    """Three stride-2 convolutions, then a linear map to ``outputs`` numbers per field.

    Input ``(batch, 1, height, width)``; output ``(batch, outputs)``.
    """

    def __init__(self, shape: tuple[int, int], outputs: int, channels: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            _conv_block(1, channels, 2),
            _conv_block(channels, 2 * channels, 2),
            _conv_block(2 * channels, 2 * channels, 2),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, 1, *shape)).numel()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, 64), nn.GELU(), nn.Linear(64, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """A linear map to a coarse feature map, then three upsampling convolutions to ``shape``.

    Input ``(batch, latent)``; output ``(batch, 1, height, width)``. Each stage upsamples
    bilinearly to the size the encoder's stage had, so odd field sizes come back exactly.
    """

    def __init__(self, shape: tuple[int, int], latent: int, channels: int = 16):
        super().__init__()
        sizes = [tuple(shape)]
        for _ in range(3):
            sizes.append(tuple((size + 1) // 2 for size in sizes[-1]))
        self.sizes = sizes[::-1]  # coarsest first
        self.channels = 2 * channels
        coarse = self.sizes[0][0] * self.sizes[0][1]
        self.head = nn.Sequential(nn.Linear(latent, 64), nn.GELU(), nn.Linear(64, self.channels * coarse), nn.GELU())
        self.stages = nn.ModuleList(
            [
                _conv_block(2 * channels, 2 * channels, 1),
                _conv_block(2 * channels, channels, 1),
                _conv_block(channels, channels, 1),
            ]
        )
        self.output = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.head(z).view(-1, self.channels, *self.sizes[0])
        for stage, size in zip(self.stages, self.sizes[1:]):
            x = stage(F.interpolate(x, size=size, mode="bilinear", align_corners=False))
        return self.output(x)


class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder for single-channel fields of shape ``(height, width)``."""

    def __init__(self, shape: tuple[int, int], latent: int = 2, channels: int = 16):
        super().__init__()
        self.shape = tuple(shape)
        self.latent = latent
        self.encoder = ConvEncoder(shape, latent, channels)
        self.decoder = ConvDecoder(shape, latent, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class ConvVAE(nn.Module):
    """Variational autoencoder with the convolutional encoder and decoder.

    The encoder returns the mean and log-variance of a Gaussian ``q(z | x)``; ``forward`` returns
    the reconstruction of a sample ``z`` from it, the mean and the log-variance.
    """

    def __init__(self, shape: tuple[int, int], latent: int = 2, channels: int = 16):
        super().__init__()
        self.shape = tuple(shape)
        self.latent = latent
        self.encoder = ConvEncoder(shape, 2 * latent, channels)
        self.decoder = ConvDecoder(shape, latent, channels)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_variance = self.encoder(x).chunk(2, dim=1)
        return mean, log_variance

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, log_variance = self.encode(x)
        z = reparameterise(mean, log_variance)
        return self.decoder(z), mean, log_variance

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``n`` draws from the prior N(0, I): shape ``(n, 1, height, width)``."""
        parameter = next(self.parameters())
        z = torch.randn(n, self.latent, generator=generator, dtype=parameter.dtype).to(parameter.device)
        return self.decoder(z)


def reparameterise(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """Draw ``z = mean + exp(log_variance / 2) * eps`` with ``eps ~ N(0, I)``, differentiably."""
    return mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)


def kl_divergence(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_variance)) || N(0, I)) summed over the latent axis: shape ``(batch,)``."""
    return 0.5 * (mean**2 + log_variance.exp() - 1 - log_variance).sum(dim=1)


def vae_loss(
    model: ConvVAE, x: torch.Tensor, noise_variance: float = 0.01, beta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Negative ELBO per field of a Gaussian likelihood with variance ``noise_variance``.

    Returns ``(loss, reconstruction term, KL term)``, each averaged over the batch; the constant
    of the Gaussian log-likelihood is left out.
    """
    reconstruction, mean, log_variance = model(x)
    squared = ((reconstruction - x) ** 2).flatten(1).sum(1) / (2 * noise_variance)
    kl = kl_divergence(mean, log_variance)
    return (squared + beta * kl).mean(), squared.mean(), kl.mean()
