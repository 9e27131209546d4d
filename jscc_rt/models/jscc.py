"""Deep JSCC (Bourtsoulatze et al. 2019, with GDN and ADJSCC SNR attention) and VAE-JSCC.

The encoder maps an image ``(B, 3, H, W)`` in [0, 1] to a real latent ``(B, c, H/s, W/s)``; the transmitter packs
it into ``k = c*H*W/(2 s^2)`` complex symbols and normalizes their power. The decoder maps the (equalized, noisy)
latent back to an image. Both take the SNR in dB, ``(B,)``, so one model serves the whole SNR range.
"""
from __future__ import annotations

import math
from fractions import Fraction

import torch
from torch import nn

from jscc_rt._validate import JsccInputError, check_tensor
from jscc_rt.channel import from_symbols, power_normalize, to_symbols
from jscc_rt.models.config import JSCCConfig
from jscc_rt.models.layers import GDN, SNRAttention, conv, deconv
from jscc_rt.models.rate import budget_channels, budget_mask, pad_latent


def check_image_batch(x: torch.Tensor, stride: int, name: str = "images") -> None:
    """``x`` must be ``(B, 3, H, W)`` float with H, W multiples of ``stride``."""
    check_tensor(x, name, ndim=4)
    if x.shape[1] != 3:
        raise JsccInputError(f"{name} must have 3 (RGB) channels in dim 1, got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h % stride or w % stride:
        raise JsccInputError(
            f"{name} height/width {h}x{w} must be multiples of the model stride {stride}; "
            "pad with jscc_rt.data.pad_to_multiple (eval does this) or resize"
        )


class Encoder(nn.Module):
    """Image ``(B, 3, H, W)`` + SNR ``(B,)`` dB -> latent ``(B, c_out, H/s, W/s)``."""

    def __init__(self, cfg: JSCCConfig, out_channels: int) -> None:
        super().__init__()
        n_stages = int(math.log2(cfg.downsample))
        widths = [3] + [cfg.width // 2] + [cfg.width] * (n_stages - 1)
        self.convs = nn.ModuleList(conv(widths[i], widths[i + 1], 5, 2) for i in range(n_stages))
        self.gdns = nn.ModuleList(GDN(widths[i + 1]) for i in range(n_stages))
        self.attn = nn.ModuleList(SNRAttention(widths[i + 1]) for i in range(n_stages))
        self.head = conv(cfg.width, out_channels, 5, 1)

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        for c, g, a in zip(self.convs, self.gdns, self.attn):
            x = a(g(c(x)), snr_db)
        return self.head(x)


class Decoder(nn.Module):
    """Noisy latent ``(B, c, h, w)`` + SNR ``(B,)`` dB -> image ``(B, 3, h*s, w*s)`` in [0, 1]."""

    def __init__(self, cfg: JSCCConfig) -> None:
        super().__init__()
        n_stages = int(math.log2(cfg.downsample))
        n = cfg.width
        self.stem = conv(cfg.latent_channels, n, 5, 1)
        self.stem_gdn = GDN(n, inverse=True)
        self.stem_attn = SNRAttention(n)
        self.deconvs = nn.ModuleList(deconv(n, n if i < n_stages - 1 else n // 2, upsample=cfg.upsample) for i in range(n_stages))
        self.gdns = nn.ModuleList(GDN(n, inverse=True) for _ in range(n_stages - 1))
        self.attn = nn.ModuleList(SNRAttention(n) for _ in range(n_stages - 1))
        self.out = nn.Sequential(nn.PReLU(n // 2), conv(n // 2, 3, 3, 1))

    def forward(self, z: torch.Tensor, snr_db: torch.Tensor, features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """``features``: a list that receives each stage's activation (for feature-matching distillation)."""
        x = self.stem_attn(self.stem_gdn(self.stem(z)), snr_db)
        for i, d in enumerate(self.deconvs):
            if features is not None:
                features.append(x)
            x = d(x)
            if i < len(self.gdns):
                x = self.attn[i](self.gdns[i](x), snr_db)
        return torch.sigmoid(self.out(x))


class JSCCModel(nn.Module):
    """Encoder + decoder pair for Deep JSCC (``cfg.model == "deepjscc"``), VAE-JSCC (``"vae"``) or the model-based
    hybrid (``"unrolled"``: compact encoder + unrolled receiver, :mod:`jscc_rt.models.unrolled`).

    VAE-JSCC: the encoder outputs ``mu`` and ``logvar`` (``2c`` channels); training samples
    ``z = mu + exp(logvar/2) * eps`` and adds ``KL(q(z|x) || N(0, I))``; inference transmits ``mu``
    unless ``sample=True``.
    """

    def __init__(self, cfg: JSCCConfig) -> None:
        super().__init__()
        self.config = cfg
        c = cfg.latent_channels
        if cfg.model == "unrolled":
            from jscc_rt.models.unrolled import CompactEncoder, UnrolledDecoder

            self.encoder: nn.Module = CompactEncoder(c, cfg.width)
            self.decoder: nn.Module = UnrolledDecoder(c, cfg.width, cfg.unroll_iters, upsample=cfg.upsample,
                                                      rate_adaptive=cfg.rate_adaptive, blocks=cfg.decoder_blocks)
            return
        c_enc = 2 * c if cfg.model == "vae" else c
        if cfg.arch == "res":
            from jscc_rt.models.resjscc import ResDecoder, ResEncoder

            self.encoder = ResEncoder(cfg.width, c_enc)
            self.decoder = ResDecoder(cfg.width, c, upsample=cfg.upsample)
            return
        self.encoder = Encoder(cfg, c_enc)
        self.decoder = Decoder(cfg)

    @property
    def stride(self) -> int:
        return self.config.downsample

    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """Latent shape ``(c, H/s, W/s)`` for an ``H x W`` image."""
        s = self.stride
        return (self.config.latent_channels, height // s, width // s)

    def encode_latent(
        self, x: torch.Tensor, snr_db: torch.Tensor, *, sample: bool = False, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images ``(B, 3, H, W)`` -> ``(latent (B, c, H/s, W/s), kl (B,) or None)``. KL in nats per sample."""
        check_image_batch(x, self.stride)
        h = self.encoder(x, snr_db)
        if self.config.model != "vae":
            return h, None
        mu, logvar = h.chunk(2, dim=1)
        logvar = logvar.clamp(-12.0, 6.0)  # numerical guard for exp(); documented behaviour of the model
        kl = 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).flatten(1).sum(1)
        if sample:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            return mu + torch.exp(0.5 * logvar) * eps, kl
        return mu, kl

    def transmit_latent(self, x: torch.Tensor, snr_db: torch.Tensor, power: float = 1.0,
                        channels: torch.Tensor | None = None) -> torch.Tensor:
        """Images -> power-normalized latent ``(B, c, H/s, W/s)`` (``power`` per complex symbol, VAE sends ``mu``):
        :meth:`transmit` without the symbol packing, so it traces for export with dynamic shapes. Eager calls
        reject all-zero latents like :func:`jscc_rt.channel.power_normalize`; traced graphs skip that host check.

        A rate-adaptive model takes ``channels`` ``(B,)`` (sent channel counts; None = all): channels from there on
        are zero and the power is normalized over the sent prefix, as :class:`~jscc_rt.pipeline.Link` does on the
        sliced latent (``power_normalize(mask z) * sqrt(c / C)``: the all-channel mean power is ``c / C`` of the
        prefix's)."""
        z = self.encoder(x, snr_db)
        if self.config.model == "vae":
            z = z.chunk(2, dim=1)[0]
        tracing = torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
        if channels is None or not self.config.rate_adaptive:
            s = power_normalize(z.reshape(z.shape[0], -1, 2), power, validate=not tracing)
            return s.reshape(z.shape)
        c_all = self.config.latent_channels
        zm = z * budget_mask(channels, c_all, z.dtype)
        s = power_normalize(zm.reshape(z.shape[0], -1, 2), power, validate=not tracing).reshape(z.shape)
        return s * torch.sqrt(channels.to(s.dtype) / c_all).view(-1, 1, 1, 1)

    def transmit(self, x: torch.Tensor, snr_db: torch.Tensor, ratio: Fraction | str | None = None,
                 **kw) -> torch.Tensor:
        """Images -> power-normalized symbols ``(B, k, 2)`` (unit average power per complex symbol); a rate-adaptive
        model sends the channels of ``ratio`` (k/n, None = its largest; :func:`jscc_rt.models.rate.budget_channels`)."""
        z, _ = self.encode_latent(x, snr_db, **kw)
        z = z[:, : budget_channels(self.config, ratio)]
        return power_normalize(to_symbols(z), validate=False)

    def receive(self, y: torch.Tensor, snr_db: torch.Tensor, image_hw: tuple[int, int],
                ratio: Fraction | str | None = None) -> torch.Tensor:
        """Equalized symbols ``(B, k, 2)`` -> images ``(B, 3, H, W)`` in [0, 1]; a rate-adaptive model decodes the
        budget ``ratio`` (None: its largest) from the ``k`` symbols of that prefix."""
        c_all, h, w = self.latent_shape(*image_hw)
        if not getattr(self.config, "rate_adaptive", False):
            return self.decoder(from_symbols(y, (c_all, h, w)), snr_db)
        c = budget_channels(self.config, ratio)
        sent = torch.full((y.shape[0],), float(c), device=y.device)
        return self.decoder(pad_latent(from_symbols(y, (c, h, w)), c_all), snr_db, channels=sent)

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Noise-free autoencoding (no channel): for shape checks and export smoke tests."""
        return self.receive(self.transmit(x, snr_db), snr_db, tuple(x.shape[-2:]))
