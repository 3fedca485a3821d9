"""A U-Net (Ronneberger et al. 2015) in plain PyTorch, small enough to train on a laptop CPU."""

from __future__ import annotations

import torch
from torch import nn


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions, each followed by batch normalisation and ReLU; size unchanged."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Up(nn.Module):
    """Double the size with a transposed convolution, join the skip connection, then convolve."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.conv = DoubleConv(out_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        # Odd sizes lose a row or column to pooling: pad back to the skip's size.
        dy, dx = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
        x = nn.functional.pad(x, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    """Encoder-decoder with skip connections; returns class scores (logits) of shape N x C x H x W.

    ``widths`` are the channel counts at each depth: the encoder halves the size after each but
    the last, and the decoder mirrors it.
    """

    def __init__(self, in_channels: int, num_classes: int, widths=(16, 32, 64, 128)):
        super().__init__()
        if len(widths) < 2:
            raise ValueError(f"widths {widths!r} needs at least two depths")
        self.widths = tuple(widths)
        self.stem = DoubleConv(in_channels, widths[0])
        self.down = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), DoubleConv(a, b)) for a, b in zip(widths, widths[1:])
        )
        self.up = nn.ModuleList(
            Up(b, a, a) for a, b in reversed(list(zip(widths, widths[1:])))
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"expected a batch N x C x H x W, got shape {tuple(x.shape)}")
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(skips[-1]))
        x = skips.pop()
        for block in self.up:
            x = block(x, skips.pop())
        return self.head(x)
