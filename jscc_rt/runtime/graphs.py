"""Exportable graphs (``nn.Module``s with tensor-only inputs), shared by the torch runner and the ONNX export.

* :class:`EncoderGraph`: ``images (B,3,H,W), snr_db (B,) -> symbols (B,c,H/s,W/s)`` (power-normalized, latent layout).
* :class:`DecoderGraph`: ``received (B,c,h,w), snr_db (B,) -> images``.
* :class:`BudgetReceiverGraph`: a rate-adaptive model's receiver, ``received, noise_var, snr_db, channels -> images``
  (one engine for every channel-use budget). The encoder and decoder graphs of such a model take ``channels`` too.
* :class:`DenoiserGraph`: ``x_t (B,c,h,w), t (B,), snr_db (B,) -> eps``.
* :class:`ReceiverGraph`: the whole receiver, one engine: ``received (B,c,h,w)`` (equalized, unbiased symbols in
  latent layout), ``noise_var (B,)`` (effective complex noise variance per symbol, linear), ``snr_db (B,)`` (channel
  SNR the encoder used) ``[, noise (B, N-1, c, h, w)]`` -> ``images``. The SNR-matched start step, the ``alpha_bar``
  interpolation and ``N`` DDIM (eta = 0) or consistency steps are unrolled in the graph, in float32, by the same
  functions the eager samplers call (:func:`~jscc_rt.diffusion.schedule.interp_step`,
  :func:`~jscc_rt.diffusion.schedule.interp_alpha_bar`, :func:`~jscc_rt.diffusion.samplers.plan_steps`,
  :func:`~jscc_rt.diffusion.samplers.ddim_coefficients`, :func:`~jscc_rt.diffusion.samplers.consistency_coefficients`).

Run in PyTorch (the torch runtime), each sampler update goes through :func:`jscc_rt.kernels.sampler_step` (the
fused Triton kernel on CUDA); while being exported it is written with plain tensor ops, the same arithmetic.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from jscc_rt.diffusion.consistency import ConsistencyModel
from jscc_rt.diffusion.denoiser import LatentDenoiser
from jscc_rt.diffusion.samplers import (consistency_coefficients, consistency_needs_noise, ddim_coefficients,
                                        plan_steps)
from jscc_rt.diffusion.schedule import NoiseSchedule, interp_alpha_bar, interp_step
from jscc_rt.kernels.dispatch import sampler_step
from jscc_rt.models.jscc import JSCCModel
from jscc_rt.models.noma import TwoUserNOMA


def _update(x: torch.Tensor, e: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
            c: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
    """``a*x + b*e (+ c*noise)`` with per-sample ``(B,)`` coefficients: the dispatcher in PyTorch, plain ops in export."""
    if torch.onnx.is_in_onnx_export() or torch.jit.is_tracing():
        v = lambda t: t.view(-1, 1, 1, 1)  # noqa: E731
        y = v(a) * x + v(b) * e
        return y if c is None else y + v(c) * noise
    return sampler_step(x, e, a, b, c, noise)


class EncoderGraph(nn.Module):
    """``images, snr_db[, channels] -> symbols``; ``channels`` ``(B,)`` float32 only for a rate-adaptive model."""

    def __init__(self, model: JSCCModel, power: float = 1.0) -> None:
        super().__init__()
        self.model, self.power = model, power

    def forward(self, images: torch.Tensor, snr_db: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.transmit_latent(images, snr_db, self.power, channels)


class DecoderGraph(nn.Module):
    """``received, snr_db[, channels] -> images``; ``channels`` only for a rate-adaptive model."""

    def __init__(self, model: JSCCModel) -> None:
        super().__init__()
        self.decoder = model.decoder
        self.rate_adaptive = bool(getattr(model.config, "rate_adaptive", False))

    def forward(self, received: torch.Tensor, snr_db: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        if self.rate_adaptive:
            return self.decoder(received, snr_db, channels=channels)
        return self.decoder(received, snr_db)


class DenoiserGraph(nn.Module):
    def __init__(self, net: LatentDenoiser) -> None:
        super().__init__()
        self.net = net

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        return self.net(x_t, t, snr_db)


class ReceiverGraph(nn.Module):
    """Unrolled diffusion receiver + JSCC decoder (``steps = 0``: the decoder alone)."""

    def __init__(self, model: JSCCModel, denoiser: LatentDenoiser | ConsistencyModel | None, schedule: NoiseSchedule,
                 steps: int, *, power: float = 1.0, decoder_snr_db: float | None = None, eta: float = 0.0) -> None:
        """``decoder_snr_db``: SNR (dB) the decoder is conditioned on after denoising (None: the effective channel
        SNR). Without denoising the decoder always gets the effective channel SNR. ``eta``: the consistency
        sampler's re-noising (:func:`~jscc_rt.diffusion.samplers.consistency_coefficients`; 0 = deterministic, no
        ``noise`` input); DDIM here is always deterministic."""
        super().__init__()
        self.decoder_snr_db, self.eta = decoder_snr_db, float(eta)
        self.decoder = model.decoder
        self.denoiser = denoiser
        self.consistency = isinstance(denoiser, ConsistencyModel)
        self.steps, self.power, self.num_steps = (steps if denoiser is not None else 0), power, schedule.num_steps
        self.register_buffer("log_ab", schedule.log_alpha_bar_table().float(), persistent=False)  # index 0: t = -1
        #: whether ``forward`` takes ``noise (B, steps - 1, c, h, w)``
        self.needs_noise = self.consistency and consistency_needs_noise(self.steps, self.eta)

    def alpha_bar_at(self, t: torch.Tensor) -> torch.Tensor:
        return interp_alpha_bar(self.log_ab, t, self.num_steps)

    def start_step(self, alpha_bar: torch.Tensor) -> torch.Tensor:
        return interp_step(self.log_ab, alpha_bar, self.num_steps)

    def forward(self, received: torch.Tensor, noise_var: torch.Tensor, snr_db: torch.Tensor,
                noise: torch.Tensor | None = None) -> torch.Tensor:
        sigma2 = noise_var / self.power
        snr_eff_db = -10.0 * torch.log10(sigma2)
        if self.steps == 0:
            return self.decoder(received, snr_eff_db)
        ab = 1.0 / (1.0 + sigma2)
        x = received * torch.sqrt(ab * (2.0 / self.power)).view(-1, 1, 1, 1)
        plan = plan_steps(self.start_step(ab), self.steps)  # (N + 1, B)
        for i in range(self.steps):
            t, t_next = plan[i], plan[i + 1]
            ab_next = self.alpha_bar_at(t_next)
            if self.consistency:
                x0 = self.denoiser(x, t, snr_db)
                if i == self.steps - 1:  # t_next = -1: the estimate itself
                    x = x0
                else:
                    a, b, c = consistency_coefficients(self.alpha_bar_at(t), ab_next, t_next, self.eta)
                    x = _update(x, x0, a, b, c, noise[:, i]) if self.eta > 0 else _update(x, x0, a, b)
            else:
                eps = self.denoiser(x, t, snr_db)
                a, b, _ = ddim_coefficients(self.alpha_bar_at(t), ab_next, t)
                x = _update(x, eps, a, b)
        cond = snr_eff_db if self.decoder_snr_db is None else torch.full_like(snr_eff_db, self.decoder_snr_db)
        return self.decoder(x * math.sqrt(self.power / 2.0), cond)


class BudgetReceiverGraph(nn.Module):
    """The receiver of a rate-adaptive model (:mod:`jscc_rt.models.rate`), one engine for every budget:
    ``received (B, C, h, w)`` (the sent prefix, zeros after it), ``noise_var (B,)``, ``snr_db (B,)``,
    ``channels (B,)`` (float32 sent channel count) -> ``images``. The decoder ignores channels past ``channels``."""

    def __init__(self, model: JSCCModel, *, power: float = 1.0) -> None:
        super().__init__()
        if not getattr(model.config, "rate_adaptive", False):
            raise ValueError("BudgetReceiverGraph needs a rate-adaptive model; use ReceiverGraph")
        self.decoder, self.power = model.decoder, power

    def forward(self, received: torch.Tensor, noise_var: torch.Tensor, snr_db: torch.Tensor,
                channels: torch.Tensor) -> torch.Tensor:
        snr_eff_db = -10.0 * torch.log10(noise_var / self.power)
        return self.decoder(received, snr_eff_db, channels=channels)


class NOMATransmitterGraph(nn.Module):
    """Two-user NOMA base station: ``(images1, images2, snr_db (B,), a1 (B,)) -> superposed latent symbols``."""

    def __init__(self, model: TwoUserNOMA) -> None:
        super().__init__()
        self.model = model

    def forward(self, images1: torch.Tensor, images2: torch.Tensor, snr_db: torch.Tensor,
                a1: torch.Tensor) -> torch.Tensor:
        return self.model.superpose(images1, images2, snr_db, a1)


class NOMAReceiverGraph(nn.Module):
    """One NOMA user's receiver: ``(received (B, c, h, w) equalized, snr_db (B,), a1 (B,)) -> images``; user 2
    includes the SIC stage (decode user 1, re-encode, cancel)."""

    def __init__(self, model: TwoUserNOMA, user: int) -> None:
        super().__init__()
        if user not in (1, 2):
            raise ValueError(f"user must be 1 or 2, got {user}")
        self.model, self.user = model, user

    def forward(self, received: torch.Tensor, snr_db: torch.Tensor, a1: torch.Tensor) -> torch.Tensor:
        rx = self.model.receive_user1 if self.user == 1 else self.model.receive_user2
        return rx(received, snr_db, a1)
