"""The latent diffusion receiver (eager): denoise the received latent from the SNR-matched step.

``DiffusionReceiver.denoise(x_u, alpha_bar_u, snr_db)`` maps each sample's noise level ``alpha_bar_u`` to its start
step ``u`` and runs ``steps`` sampler steps from there (``start="matched"``), or from pure noise at ``T-1`` after
forward-diffusing the received latent there (``start="noise"``, the baseline the matched start must beat).
``steps = 0`` returns ``x_u / sqrt(alpha_bar_u)`` (the equalized latent, i.e. the JSCC decoder alone).

The three receivers of jscc-rt: this one (the latent denoiser + sampler that :class:`~jscc_rt.pipeline.Link` runs
in simulation), :class:`~jscc_rt.runtime.graphs.ReceiverGraph` (the deployable whole-receiver graph: start step,
unrolled sampler and decoder in one ONNX / TensorRT engine, built from the same schedule and sampler functions), and
:class:`jscc_rt.Receiver` (what a receiver prototype embeds: validation, equalization and one runner).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from jscc_rt._validate import JsccInputError
from jscc_rt.diffusion.consistency import ConsistencyModel
from jscc_rt.diffusion.denoiser import LatentDenoiser
from jscc_rt.diffusion.samplers import ConsistencySampler, DDIMSampler, DDPMSampler
from jscc_rt.diffusion.schedule import NoiseSchedule

SamplerKind = Literal["ddim", "ddpm", "consistency"]

#: SNR (dB) the JSCC decoder is conditioned on after diffusion denoising: the recommended receiver configuration.
#: The denoised latent is far cleaner than the channel's SNR says; conditioning on the channel SNR instead loses
#: about 0.8 dB at 0 dB on Kodak (docs/results.md, "Ablation: decoder conditioned on the channel SNR").
DECODER_SNR_AFTER_DENOISING_DB: float = 20.0


@dataclass(frozen=True)
class ReceiverConfig:
    """Sampling plan: ``sampler``, ``steps`` (0 = decoder alone), ``eta`` (DDIM's, and the consistency sampler's
    re-noising: 0 deterministic, 1 fresh noise; :func:`~jscc_rt.diffusion.samplers.consistency_coefficients`),
    ``start`` and start-step ``mode``."""

    sampler: SamplerKind = "ddim"
    steps: int = 4
    eta: float = 0.0
    start: Literal["matched", "noise"] = "matched"
    mode: Literal["nearest", "interp"] = "interp"

    def __post_init__(self) -> None:
        if self.sampler not in ("ddim", "ddpm", "consistency"):
            raise JsccInputError(f"sampler must be 'ddim', 'ddpm' or 'consistency', got {self.sampler!r}")
        if not isinstance(self.steps, int) or self.steps < 0:
            raise JsccInputError(f"steps must be an int >= 0, got {self.steps!r}")
        if self.start not in ("matched", "noise"):
            raise JsccInputError(f"start must be 'matched' or 'noise', got {self.start!r}")


def check_decoder_conditioning(jscc: nn.Module, decoder_snr_db: float | None) -> None:
    """Warn when a JSCC model whose decoder was fine-tuned behind a diffusion receiver (its ``meta["decoder_snr_db"]``,
    None = the effective SNR) is run behind one with another decoder conditioning ``decoder_snr_db``, naming both."""
    meta = getattr(jscc, "meta", None) or {}
    if "decoder_snr_db" not in meta or meta["decoder_snr_db"] == decoder_snr_db:
        return
    def txt(v: float | None) -> str:
        return "the effective SNR ('effective')" if v is None else f"{v:g} dB"
    warnings.warn(f"this model's decoder was fine-tuned behind a diffusion receiver conditioned on "
                  f"{txt(meta['decoder_snr_db'])}, but is conditioned on {txt(decoder_snr_db)} here; pass "
                  f"decoder_snr_db={meta['decoder_snr_db']!r} (CLI: --decoder-snr "
                  f"{'effective' if meta['decoder_snr_db'] is None else meta['decoder_snr_db']})", stacklevel=3)


def trained_snr_range_db(model: nn.Module) -> tuple[float, float] | None:
    """The channel SNR range (dB) a denoiser or consistency checkpoint was trained on (its
    ``meta["train_config"]``), or None when the checkpoint does not record it."""
    tc = (getattr(model, "meta", None) or {}).get("train_config") or {}
    if "snr_min_db" not in tc or "snr_max_db" not in tc:
        return None
    return float(tc["snr_min_db"]), float(tc["snr_max_db"])


def warn_outside_trained(snr_eff_db: torch.Tensor, trained: tuple[float, float] | None,
                         schedule: NoiseSchedule) -> None:
    """Warn (never raise: a receiver decodes whatever arrives) when an effective SNR ``snr_eff_db`` ``(B,)`` (dB)
    lies outside the ``trained`` range, naming the SNRs, their start steps and the trained ones: below the range the
    start step lies above every step the denoiser was trained to start from."""
    if trained is None or snr_eff_db.numel() == 0:
        return
    lo, hi = float(snr_eff_db.min()), float(snr_eff_db.max())
    if lo >= trained[0] - 0.01 and hi <= trained[1] + 0.01:  # 0.01 dB: float32 noise levels round
        return
    u = schedule.step_for_snr_db(torch.tensor([lo, hi, trained[0], trained[1]], dtype=torch.float64), "interp")
    warnings.warn(
        f"effective SNR {lo:.2f} .. {hi:.2f} dB (start steps {float(u[1]):.1f} .. {float(u[0]):.1f}) lies outside "
        f"the denoiser's trained range [{trained[0]:g}, {trained[1]:g}] dB (start steps {float(u[3]):.1f} .. "
        f"{float(u[2]):.1f}); its output there is extrapolated: train a denoiser over this range, or decode with "
        "steps=0", stacklevel=3)


def snr_db_of_alpha_bar(alpha_bar: torch.Tensor) -> torch.Tensor:
    """The SNR (dB) whose matched step has ``alpha_bar`` (``alpha_bar = 1 / (1 + 10^(-snr/10))``)."""
    ab = alpha_bar.to(torch.float64)
    return 10.0 * torch.log10(ab / (1.0 - ab))


class DiffusionReceiver(nn.Module):
    """Denoiser (epsilon teacher or consistency student) + schedule + sampler. Denoising a sample whose effective
    SNR lies outside the range the checkpoint was trained on warns (:func:`warn_outside_trained`)."""

    def __init__(self, model: LatentDenoiser | ConsistencyModel, schedule: NoiseSchedule, cfg: ReceiverConfig,
                 *, impl: str | None = None) -> None:
        super().__init__()
        self.model, self.schedule, self.cfg, self.impl = model, schedule, cfg, impl
        if (cfg.sampler == "consistency") != isinstance(model, ConsistencyModel):
            raise JsccInputError("the consistency sampler needs a ConsistencyModel, DDIM/DDPM an epsilon denoiser")
        if cfg.steps > schedule.num_steps:
            raise JsccInputError(f"steps={cfg.steps} exceeds the schedule's {schedule.num_steps} steps")
        self.trained_snr_db = trained_snr_range_db(model)

    def _sampler(self):
        if self.cfg.sampler == "consistency":
            return ConsistencySampler(self.schedule, eta=self.cfg.eta, impl=self.impl)
        if self.cfg.sampler == "ddpm":
            return DDPMSampler(self.schedule, impl=self.impl)
        return DDIMSampler(self.schedule, eta=self.cfg.eta, impl=self.impl)

    @torch.no_grad()
    def denoise(self, x_u: torch.Tensor, alpha_bar_u: torch.Tensor, snr_db: torch.Tensor,
                *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``x_u`` ``(B, c, h, w)`` at noise level ``alpha_bar_u`` ``(B,)`` -> clean latent estimate (diffusion domain)."""
        sched, cfg = self.schedule, self.cfg
        ab_u = alpha_bar_u.to(torch.float64)
        if cfg.steps == 0:
            return x_u / torch.sqrt(ab_u).to(x_u.dtype).view(-1, 1, 1, 1)
        u = sched.step_for_alpha_bar(ab_u, cfg.mode).to(torch.float64)
        warn_outside_trained(snr_db_of_alpha_bar(ab_u), self.trained_snr_db, sched)
        x = x_u
        if cfg.mode == "nearest":  # re-scale onto the grid step's alpha_bar (x_u carries the exact level)
            ab_grid = sched.alpha_bar_at(u)
            x = x * torch.sqrt(ab_grid / ab_u).to(x.dtype).view(-1, 1, 1, 1)
        if cfg.start == "noise":
            t_top = torch.full_like(u, sched.num_steps - 1)
            ratio = (sched.alpha_bar_at(t_top) / sched.alpha_bar_at(u)).to(x.dtype).view(-1, 1, 1, 1)
            z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x, u = torch.sqrt(ratio) * x + torch.sqrt(1 - ratio) * z, t_top
        s = self._sampler()
        s.set_timesteps(cfg.steps, u)
        for i in range(s.num_steps):
            t = s.timesteps[i]  # type: ignore[index]
            x = s.step(self.model(x, t.to(x.dtype), snr_db), t, x, generator=generator).prev_sample
        return x  # after the last step the sample is at t = -1: the clean latent estimate
