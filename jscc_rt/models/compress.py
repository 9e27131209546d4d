"""VAE-based bandwidth compression (Guo et al. 2024): fewer channel uses on top of a trained VAE-JSCC.

Transmitter: the frozen VAE-JSCC encoder gives ``mu`` ``(B, c, h, w)``; a learned downsampler maps it to
``c / factor`` channels, so the link uses ``factor`` times fewer complex symbols. Receiver: an upsampler maps the
noisy compressed latent to the mean and log-variance of the full ``c``-channel latent, reparameterized
(``z = mu' + exp(logvar'/2) * eps``) so the recovered latent is Gaussian like the encoder's posterior, and the
frozen VAE-JSCC decoder decodes it. Training minimizes ``lambda * MSE(image) + gamma * KL(q_up || q_enc)``: image
reconstruction plus a guidance KL toward the uncompressed model's latent distribution.

:class:`CompressedJSCC` has the interface :class:`~jscc_rt.pipeline.Link` uses (``stride``, ``config``,
``encode_latent``, ``decoder``), so compressed models run through the same link, evaluation and export code.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

from jscc_rt._validate import JsccInputError
from jscc_rt.models.config import JSCCConfig
from jscc_rt.models.jscc import JSCCModel
from jscc_rt.models.layers import SNRAttention


@dataclass(frozen=True)
class CompressConfig:
    """``factor`` 2 or 4 fewer channel uses than the base VAE-JSCC (``base``: its config)."""

    base: JSCCConfig
    factor: int = 2
    width: int = 96

    def __post_init__(self) -> None:
        if self.base.model != "vae":
            raise JsccInputError("bandwidth compression needs a VAE-JSCC base model (model='vae')")
        if self.factor not in (2, 4) or self.base.latent_channels % (2 * self.factor):
            raise JsccInputError(f"factor must be 2 or 4 and leave an even channel count; got {self.factor} for "
                                 f"{self.base.latent_channels} latent channels")

    @property
    def latent_channels(self) -> int:
        """Transmitted (compressed) latent channels."""
        return self.base.latent_channels // self.factor

    @property
    def model(self) -> str:
        return f"vae-x{self.factor}"

    @property
    def ratio(self) -> Fraction:
        return self.base.ratio / self.factor

    def to_dict(self) -> dict:
        d = asdict(self)
        d["base"] = self.base.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CompressConfig":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise JsccInputError(f"unknown CompressConfig keys {sorted(unknown)}")
        return cls(**{**d, "base": JSCCConfig.from_dict(d["base"])})


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, width: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, width, 3, padding=1)
        self.attn = SNRAttention(width)
        self.c2 = nn.Conv2d(width, width, 3, padding=1)
        self.out = nn.Conv2d(width, cout, 3, padding=1)

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        h = self.attn(F.gelu(self.c1(x)), snr_db)
        return self.out(h + F.gelu(self.c2(h)))


class CompressedDecoder(nn.Module):
    """Noisy compressed latent -> (upsampler: mu', logvar') -> reparameterized latent -> frozen VAE decoder."""

    def __init__(self, up: _Block, base_decoder: nn.Module) -> None:
        super().__init__()
        self.up, self.base = up, base_decoder
        self.sample = False
        self.generator: torch.Generator | None = None

    def posterior(self, y: torch.Tensor, snr_db: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.up(y, snr_db).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 6.0)

    def forward(self, y: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.posterior(y, snr_db)
        z = mu
        if self.sample:
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=self.generator, device=mu.device,
                                                           dtype=mu.dtype)
        return self.base(z, snr_db)


class CompressedJSCC(nn.Module):
    """Frozen VAE-JSCC + learned down/upsampler. ``decoder.sample`` turns on receiver-side reparameterization."""

    def __init__(self, cfg: CompressConfig, base: JSCCModel | None = None) -> None:
        super().__init__()
        self.config = cfg
        self.base = base if base is not None else JSCCModel(cfg.base)
        if self.base.config != cfg.base:
            raise JsccInputError(f"base model config {self.base.config} differs from {cfg.base}")
        c = cfg.base.latent_channels
        self.down = _Block(c, cfg.latent_channels, cfg.width)
        self.decoder = CompressedDecoder(_Block(cfg.latent_channels, 2 * c, cfg.width), self.base.decoder)

    @property
    def stride(self) -> int:
        return self.base.stride

    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        s = self.stride
        return (self.config.latent_channels, height // s, width // s)

    def base_posterior(self, x: torch.Tensor, snr_db: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The uncompressed encoder's ``(mu, logvar)`` (the guidance target)."""
        h = self.base.encoder(x, snr_db)
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 6.0)

    def encode_latent(self, x: torch.Tensor, snr_db: torch.Tensor, *, sample: bool = False,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, None]:
        """Images -> compressed latent ``(B, c / factor, H/s, W/s)`` (from the base encoder's ``mu``)."""
        mu, _ = self.base.encode_latent(x, snr_db)
        return self.down(mu, snr_db), None


def is_compressed_link(model: object) -> bool:
    """Whether ``model`` is a compressed link (:class:`CompressedJSCC`, ``vae-x2`` / ``vae-x4``)."""
    return isinstance(getattr(model, "config", None), CompressConfig)


def gaussian_kl(mu1: torch.Tensor, logvar1: torch.Tensor, mu2: torch.Tensor, logvar2: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu1, e^logvar1) || N(mu2, e^logvar2))`` per element."""
    return 0.5 * (logvar2 - logvar1 + (torch.exp(logvar1) + (mu1 - mu2).square()) / torch.exp(logvar2) - 1.0)
