"""The link-level channel: a frozen config plus one differentiable call.

``Channel(cfg)(x, snr_db)`` takes power-normalized symbols ``(B, k, 2)`` and returns a :class:`ChannelOutput`
holding the equalized symbols and the per-symbol effective noise variance the diffusion receiver needs.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import torch

from jscc_rt._validate import JsccInputError, check_positive, check_signal_power, check_snr_db, check_tensor
from jscc_rt.channel.awgn import awgn
from jscc_rt.channel.complex_ops import cmul
from jscc_rt.channel.fading import Equalizer, check_fading_args, draw_rayleigh, equalize

ChannelKind = Literal["awgn", "rayleigh"]


@dataclass(frozen=True)
class ChannelConfig:
    """Channel model settings.

    Attributes:
        kind: ``"awgn"`` or ``"rayleigh"``.
        block_len: Rayleigh only: ``None`` = one coefficient per sample (block fading over the whole
            transmission), ``L`` = one per ``L`` symbols, ``1`` = fast fading.
        csi_err_var: Rayleigh only: channel-estimation error variance in [0, 1) (0 = perfect CSI).
        equalizer: Rayleigh only: ``"zf"`` or ``"mmse"``.
        power: average transmit power ``P`` per complex symbol (linear).
    """

    kind: ChannelKind = "awgn"
    block_len: int | None = None
    csi_err_var: float = 0.0
    equalizer: Equalizer = "zf"
    power: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("awgn", "rayleigh"):
            raise JsccInputError(f"channel kind must be 'awgn' or 'rayleigh', got {self.kind!r}")
        check_fading_args(self.block_len, self.csi_err_var, self.equalizer)
        check_positive(self.power, "power")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ChannelOutput:
    """Result of one channel use.

    Attributes:
        y: ``(B, k, 2)`` equalized symbols, ``y = gain * x + w``.
        gain: ``(B, k)`` real equalizer gain (1 for AWGN and ZF).
        noise_var: ``(B, k)`` effective complex noise variance ``E|w|^2`` per symbol after equalization.
        snr_db: ``(B,)`` channel SNR in dB.
        h: ``(B, k, 2)`` true channel (ones for AWGN); h_hat: the receiver's estimate.
        received: ``(B, k, 2)`` symbols before equalization.
    """

    y: torch.Tensor
    gain: torch.Tensor
    noise_var: torch.Tensor
    snr_db: torch.Tensor
    h: torch.Tensor
    h_hat: torch.Tensor
    received: torch.Tensor

    def effective_snr_db(self, power: float = 1.0) -> torch.Tensor:
        """Per-sample post-equalization SNR in dB, ``(B,)``: ``10 log10(mean_k(P * gain^2 / noise_var))``.

        Equals the channel SNR for AWGN and ``SNR * |h|^2`` for ZF block fading with one ``h`` per sample; the
        JSCC decoder is conditioned on it.
        """
        return 10.0 * torch.log10((power * self.gain.square() / self.noise_var).mean(dim=1))

    def unbiased(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y / gain, noise_var / gain^2)``: the form ``x + n`` the diffusion mapping expects."""
        return self.y / self.gain.unsqueeze(-1), self.noise_var / self.gain.square()


class Channel:
    """Differentiable, batched channel on any device. See :class:`ChannelConfig`."""

    def __init__(self, config: ChannelConfig | None = None) -> None:
        self.config = config or ChannelConfig()

    def __call__(
        self,
        x: torch.Tensor,
        snr_db: float | torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
        h: torch.Tensor | None = None,
        h_hat: torch.Tensor | None = None,
        per_sample_power: bool = True,
    ) -> ChannelOutput:
        """Send ``x`` ``(B, k, 2)`` (power-normalized to ``config.power``) at ``snr_db`` (scalar or ``(B,)`` dB).

        ``noise`` (standard normal ``(B, k, 2)``), ``h`` and ``h_hat`` (``(B, k, 2)``) may be passed explicitly
        for reproducible parity tests; otherwise they are drawn from ``generator``.

        Raises :class:`~jscc_rt.JsccInputError` when a sample of ``x`` has zero power or an average power per complex
        symbol off ``config.power`` by more than 1 % (3 % for float16/bfloat16 input): the reported SNR would not
        be the applied one. Non-finite ``x``, ``noise``, ``h`` or ``h_hat`` are rejected too.

        ``per_sample_power=False`` is for symbols whose power equals ``config.power`` in expectation rather than per
        sample, e.g. a unit-energy QAM constellation (a 64-QAM frame of 100 symbols has an empirical power a few
        percent off 1): then only zero-power samples are rejected.
        """
        cfg = self.config
        check_tensor(x, "symbols", ndim=3, last_dim=2)
        snr = check_snr_db(snr_db, x.shape[0], device=x.device)
        check_signal_power(x, cfg.power, rtol=None if per_sample_power else math.inf)
        for name, t in (("noise", noise), ("h", h), ("h_hat", h_hat)):
            if t is not None:
                check_tensor(t, name, last_dim=2)
        if cfg.kind == "awgn":
            if h is not None or h_hat is not None:
                raise JsccInputError("h/h_hat given for an AWGN channel; use ChannelConfig(kind='rayleigh')")
            y, nv = awgn(x, snr, power=cfg.power, generator=generator, noise=noise, validate=False)
            ones = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
            unit = torch.stack((ones, torch.zeros_like(ones)), dim=-1)
            return ChannelOutput(y, ones, nv.expand(x.shape[:2]), snr, unit, unit, y)
        if h is None:
            if h_hat is not None:
                raise JsccInputError("h_hat given without h; pass both (or h alone for perfect CSI)")
            draw = draw_rayleigh(
                x.shape[0], x.shape[1], block_len=cfg.block_len, csi_err_var=cfg.csi_err_var,
                generator=generator, device=x.device, dtype=x.dtype,
            )
            h, h_hat = draw.h, draw.h_hat
        else:
            for name, t in (("h", h), ("h_hat", h_hat)):
                if t is not None and t.shape != x.shape:
                    raise JsccInputError(f"{name} must have the symbols' shape {tuple(x.shape)}, got {tuple(t.shape)}")
            h_hat = h if h_hat is None else h_hat
        faded = cmul(h, x)
        received, nv = awgn(faded, snr, power=cfg.power, generator=generator, noise=noise, validate=False)
        y, gain, eff = equalize(
            received, h_hat, nv, csi_err_var=cfg.csi_err_var, power=cfg.power, equalizer=cfg.equalizer
        )
        return ChannelOutput(y, gain, eff, snr, h, h_hat, received)
