"""Noise schedules and the channel -> diffusion-step mapping (Guo et al. 2024, CDDM).

Diffusion domain: ``x0 = sqrt(2/P) * symbols`` (unit variance per real component). After equalization the received
latent is ``y = x0 + n`` with per-real-component noise variance ``sigma^2 = 1 / snr_eff`` (complex noise variance
over power), so ``sqrt(alpha_bar_u) * y = sqrt(alpha_bar_u) x0 + sqrt(1 - alpha_bar_u) eps`` with
``alpha_bar_u = 1 / (1 + sigma^2)``: the channel *is* the forward process up to step ``u``.

Steps are indexed ``0 .. T-1`` (``alpha_bar[0]`` closest to 1). ``u`` between grid steps is handled either by the
nearest grid step or by a fractional step whose ``alpha_bar`` is interpolated in log space (``mode="interp"``);
samplers accept fractional starting steps.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import torch

from jscc_rt._validate import JsccInputError


@dataclass(frozen=True)
class NoiseSchedule:
    """DDPM noise schedule.

    Attributes:
        kind: ``"linear"`` (Ho et al.: betas from ``beta_start`` to ``beta_end``) or ``"cosine"`` (Nichol & Dhariwal).
        num_steps: ``T``.
    """

    kind: Literal["linear", "cosine"] = "linear"
    num_steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "cosine"):
            raise JsccInputError(f"schedule kind must be 'linear' or 'cosine', got {self.kind!r}")
        if self.num_steps < 2:
            raise JsccInputError(f"num_steps must be >= 2, got {self.num_steps}")

    def to_dict(self) -> dict:
        return asdict(self)

    def betas(self) -> torch.Tensor:
        """``(T,)`` float64."""
        t = self.num_steps
        if self.kind == "linear":
            return torch.linspace(self.beta_start, self.beta_end, t, dtype=torch.float64)
        s = 0.008
        x = torch.arange(t + 1, dtype=torch.float64) / t
        f = torch.cos((x + s) / (1 + s) * math.pi / 2) ** 2
        ab = f / f[0]
        return (1 - ab[1:] / ab[:-1]).clamp(max=0.999)

    def alpha_bar(self) -> torch.Tensor:
        """``(T,)`` float64 cumulative products, strictly decreasing."""
        return torch.cumprod(1 - self.betas(), dim=0)

    def log_alpha_bar_table(self) -> torch.Tensor:
        """``(T+1,)`` float64 ``log alpha_bar``: index 0 is ``t = -1`` (clean data, log 1 = 0), index ``i+1`` step
        ``i``. The table :func:`interp_alpha_bar` and :func:`interp_step` read (the exported receiver keeps a
        float32 copy as a buffer)."""
        return torch.cat((torch.zeros(1, dtype=torch.float64), torch.log(self.alpha_bar())))

    def alpha_bar_at(self, t: torch.Tensor) -> torch.Tensor:
        """``alpha_bar`` at (possibly fractional) steps ``t`` ``(B,)`` float64; ``t = -1`` gives 1 (clean data).

        Between grid steps the log of ``alpha_bar`` is interpolated linearly (:func:`interp_alpha_bar`).
        """
        return interp_alpha_bar(self.log_alpha_bar_table().to(t.device), t.to(torch.float64), self.num_steps)

    def step_for_alpha_bar(self, alpha_bar: torch.Tensor, mode: Literal["nearest", "interp"] = "nearest") -> torch.Tensor:
        """Start step for the received noise level: ``(B,)`` long (``"nearest"``) or float64 (``"interp"``).

        Values above ``alpha_bar[0]`` map to step 0 (nearest) or a fraction in (-1, 0) (interp); values below
        ``alpha_bar[T-1]`` raise: the channel is noisier than the schedule covers.
        """
        ab = self.alpha_bar().to(alpha_bar.device)
        a = alpha_bar.to(torch.float64)
        if bool((a < ab[-1]).any()):
            raise JsccInputError(
                f"received noise level alpha_bar={float(a.min()):.3e} is below the schedule's last step "
                f"({float(ab[-1]):.3e}); use a schedule with more steps or a higher SNR"
            )
        if mode == "nearest":
            return (ab.unsqueeze(0) - a.unsqueeze(1)).abs().argmin(dim=1)
        if mode != "interp":
            raise JsccInputError(f"mode must be 'nearest' or 'interp', got {mode!r}")
        return interp_step(self.log_alpha_bar_table().to(a.device), a, self.num_steps)

    def step_for_snr_db(self, snr_db: torch.Tensor, mode: Literal["nearest", "interp"] = "nearest") -> torch.Tensor:
        """Start step for an (effective) SNR in dB: ``alpha_bar = snr / (1 + snr)``."""
        snr = torch.pow(10.0, snr_db.to(torch.float64) / 10)
        return self.step_for_alpha_bar(snr / (1 + snr), mode)


def interp_alpha_bar(log_ab: torch.Tensor, t: torch.Tensor, num_steps: int) -> torch.Tensor:
    """``alpha_bar`` at fractional steps ``t`` ``(B,)`` from the table ``log_ab`` ``(T+1,)``
    (:meth:`NoiseSchedule.log_alpha_bar_table`), log-linear between grid steps; ``t`` is clamped to ``[-1, T-1]``.
    Export-safe (floor, gather, exp) and computed in the dtype of ``t`` / ``log_ab``: the eager samplers (float64)
    and the exported receiver graph (float32) both call it."""
    pos = (t + 1).clamp(0, num_steps)
    lo = torch.floor(pos).clamp(max=num_steps - 1)
    w = pos - lo
    i = lo.long()
    return torch.exp(log_ab[i] * (1 - w) + log_ab[i + 1] * w)


def interp_step(log_ab: torch.Tensor, alpha_bar: torch.Tensor, num_steps: int) -> torch.Tensor:
    """Fractional step ``u`` ``(B,)`` whose interpolated ``alpha_bar`` (:func:`interp_alpha_bar`) equals
    ``alpha_bar`` ``(B,)``: the SNR-matched start of the reverse process. ``alpha_bar`` above the first grid step
    gives ``u`` in (-1, 0). Export-safe (a comparison count instead of a sorted search); callers check the range
    (:meth:`NoiseSchedule.step_for_alpha_bar` raises below the last step)."""
    la = torch.log(alpha_bar).clamp(max=0.0)
    idx = (log_ab.unsqueeze(0) > la.unsqueeze(1)).sum(1).clamp(1, num_steps)  # log_ab is decreasing
    lo, hi = log_ab[idx - 1], log_ab[idx]
    return (idx - 1).to(la.dtype) + (lo - la) / (lo - hi) - 1.0


def to_diffusion(symbols: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """Symbols (any shape) -> diffusion domain ``sqrt(2/P) * symbols`` (unit variance per real component)."""
    return symbols * math.sqrt(2.0 / power)


def from_diffusion(x: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """Inverse of :func:`to_diffusion`."""
    return x * math.sqrt(power / 2.0)
