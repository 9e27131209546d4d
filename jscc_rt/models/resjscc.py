"""Residual Deep JSCC (``arch="res"``): PReLU conv stages, residual blocks at the latent resolution, ADJSCC SNR
attention.

A Bourtsoulatze-style encoder/decoder (5x5 stride-2 convolutions with PReLU, transposed convolutions in the decoder)
with the capacity moved to where CPU training pays for it: two stages of ``N/2`` features at ``H/2`` and ``H/4``
(image detail), then ``blocks`` residual 3x3 blocks of ``N`` features at the latent resolution ``H/8`` in both the
encoder and the decoder. No GDN: on this project's training photos the GDN model fit the training crops better and
Kodak worse (docs/results.md). About 358 M multiply-adds per 96x96 crop at ``N = 128`` (the GDN model at width 96:
about 608 M; counted with torch.utils.flop_counter).

Shapes: encoder ``(B, 3, H, W)`` + ``snr_db (B,)`` -> ``(B, c_out, H/8, W/8)``; decoder the reverse, output in [0, 1].
"""
from __future__ import annotations

import torch
from torch import nn

from jscc_rt.models.layers import SNRAttention, conv, deconv


class ResBlock(nn.Module):
    """``x + conv3(prelu(conv3(x)))`` at constant width; ``(B, C, H, W)`` -> same shape."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(channels, channels, 3), nn.PReLU(channels), conv(channels, channels, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResEncoder(nn.Module):
    """Image ``(B, 3, H, W)`` + SNR ``(B,)`` dB -> latent ``(B, c_out, H/8, W/8)``."""

    def __init__(self, width: int, out_channels: int, blocks: int = 2) -> None:
        super().__init__()
        half = width // 2
        self.detail = nn.Sequential(conv(3, half, 5, 2), nn.PReLU(half), conv(half, half, 5, 2), nn.PReLU(half))
        self.a1 = SNRAttention(half)
        self.latent = nn.Sequential(conv(half, width, 3, 2), nn.PReLU(width), *(ResBlock(width) for _ in range(blocks)))
        self.a2 = SNRAttention(width)
        self.head = conv(width, out_channels, 3)

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        x = self.a1(self.detail(x), snr_db)
        return self.head(self.a2(self.latent(x), snr_db))


class ResDecoder(nn.Module):
    """Noisy latent ``(B, c, h, w)`` + SNR ``(B,)`` dB -> image ``(B, 3, 8h, 8w)`` in [0, 1]."""

    def __init__(self, width: int, latent_channels: int, blocks: int = 2, upsample: str = "deconv") -> None:
        super().__init__()
        half = width // 2
        self.latent = nn.Sequential(conv(latent_channels, width, 3), nn.PReLU(width),
                                    *(ResBlock(width) for _ in range(blocks)))
        self.a2 = SNRAttention(width)
        self.up1 = nn.Sequential(deconv(width, half, upsample=upsample), nn.PReLU(half))
        self.a1 = SNRAttention(half)
        self.up2 = nn.Sequential(deconv(half, half, upsample=upsample), nn.PReLU(half))
        self.out = deconv(half, 3, upsample=upsample)

    def forward(self, z: torch.Tensor, snr_db: torch.Tensor, features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """``features``: a list that receives each stage's activation (for feature-matching distillation)."""
        h3 = self.a2(self.latent(z), snr_db)
        h2 = self.a1(self.up1(h3), snr_db)
        h1 = self.up2(h2)
        if features is not None:
            features += [h3, h2, h1]
        return torch.sigmoid(self.out(h1))
