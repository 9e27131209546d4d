"""Latent denoiser: a small UNet over the JSCC latent, predicting epsilon (DDPM objective).

Input ``x_t`` ``(B, c, h, w)`` in the diffusion domain, a (possibly fractional) step ``t`` ``(B,)`` (the current
noise level) and the channel SNR in dB ``(B,)``: the SNR the SNR-adaptive JSCC encoder was conditioned on, which
shapes the clean latent's distribution; it stays constant over a sampling chain. Output: predicted epsilon, same
shape as ``x_t``. Any ``h``, ``w`` (odd sizes are padded internally and cropped back).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from jscc_rt._validate import JsccInputError


@dataclass(frozen=True)
class DenoiserConfig:
    """UNet size: ``latent_channels`` in/out, ``width`` base features (x2 at the lower level), ``blocks`` per level."""

    latent_channels: int = 24
    width: int = 64
    blocks: int = 2
    emb_dim: int = 128

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DenoiserConfig":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise JsccInputError(f"unknown DenoiserConfig keys {sorted(unknown)}")
        return cls(**d)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of (fractional) steps ``(B,)`` -> ``(B, dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float().unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat((torch.sin(args), torch.cos(args)), dim=1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv x2 with FiLM (scale, shift) from the embedding."""

    def __init__(self, cin: int, cout: int, emb_dim: int) -> None:
        super().__init__()
        self.n1 = nn.GroupNorm(8, cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * cout)
        self.n2 = nn.GroupNorm(8, cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.c1(F.silu(self.n1(x)))
        scale, shift = self.film(emb).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        h = self.n2(h) * (1 + scale) + shift
        return self.skip(x) + self.c2(F.silu(h))


class LatentDenoiser(nn.Module):
    """Two-level UNet: ``eps_hat = net(x_t, t, snr_db)``."""

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        self.config = cfg
        w, e = cfg.width, cfg.emb_dim
        self.emb = nn.Sequential(nn.Linear(e + 1, e), nn.SiLU(), nn.Linear(e, e))
        self.inp = nn.Conv2d(cfg.latent_channels, w, 3, padding=1)
        self.down1 = nn.ModuleList(ResBlock(w, w, e) for _ in range(cfg.blocks))
        self.pool = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)
        self.mid = nn.ModuleList(ResBlock(2 * w, 2 * w, e) for _ in range(cfg.blocks))
        self.up = nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1)
        self.up1 = nn.ModuleList(ResBlock(2 * w if i == 0 else w, w, e) for i in range(cfg.blocks))
        self.out = nn.Sequential(nn.GroupNorm(8, w), nn.SiLU(), nn.Conv2d(w, cfg.latent_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.config.latent_channels:
            raise JsccInputError(
                f"denoiser expects latents (B, {self.config.latent_channels}, h, w), got {tuple(x.shape)}; "
                "the denoiser was trained for another JSCC model"
            )
        h0, w0 = x.shape[-2:]
        x = F.pad(x, (0, w0 % 2, 0, h0 % 2), mode="replicate")  # unconditional: stays shape-dynamic when exported
        emb = self.emb(torch.cat((timestep_embedding(t, self.config.emb_dim),
                                  (snr_db.float() / 20.0).unsqueeze(1)), dim=1))
        h = self.inp(x)
        for b in self.down1:
            h = b(h, emb)
        skip = h
        h = self.pool(h)
        for b in self.mid:
            h = b(h, emb)
        h = torch.cat((self.up(h), skip), dim=1)
        for b in self.up1:
            h = b(h, emb)
        return self.out(h)[..., :h0, :w0]
