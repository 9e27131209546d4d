"""Where diffusion starts after a compressed link's upsampler (``vae-1_16-x2`` / ``-x4``, k/n 1/32 and 1/64).

A compressed link (:mod:`jscc_rt.models.compress`) sends ``factor`` times fewer symbols; its upsampler maps the noisy
compressed latent to ``(mu', logvar')`` over the base VAE-JSCC's latent, and the frozen base decoder decodes ``mu'``.
The base model's latent denoiser works in the base link's diffusion domain (``to_diffusion`` of the power-normalized
latent: unit variance per real component), so the receiver reads ``m = to_diffusion(mu')`` as the clean latent plus
Gaussian noise of variance ``v`` per real component, the forward-diffusion state

    ``x_u = sqrt(alpha_bar) * m`` at ``alpha_bar = 1 / (1 + v)``   (the channel-as-diffusion identity of the link),

denoises from that start step and decodes ``from_diffusion(x0_hat)`` with the base decoder. ``v`` comes from
(:class:`UpsamplerStart`):

* ``"upsampler"``: the upsampler's own variance, ``mean(exp(logvar')) * 2 / P`` per sample. Its guidance KL trains
  ``logvar'`` toward the encoder's posterior variance, not toward the upsampler's error, so it is far too small
  (about 0.01 where the error is 0.3-0.5 on Kodak, docs/results.md): kept as the ablation it is.
* ``"calibrated"``: the upsampler's measured error variance ``E[(m - x0)^2]`` per SNR, from a calibration table
  ``((snr_db, v), ...)`` measured on training photos (:func:`jscc_rt.eval.upsampler_calibration.calibrate_upsampler`),
  linear in SNR between rows and held constant beyond them.
* ``"forward"``: the upsampler fitted as a forward channel ``m = c * x0 + w`` with ``w`` uncorrelated with ``x0``
  (``c = Cov(m, x0) / Var(x0)``, measured per SNR like the calibrated table). The error ``m - x0`` of the other two
  starts is correlated with ``x0`` (the upsampler's output is not the clean latent plus independent noise, which is
  what a denoiser inverts); dividing by the gain gives ``m / c = x0 + w / c``, a forward-diffusion state of noise
  variance ``v = Var(w) / c^2``: ``x_u = sqrt(alpha_bar) * m / c``. ``table`` holds ``(snr_db, v)``, ``gains``
  ``(snr_db, c)`` on the same SNRs.

Shapes: ``mu``, ``logvar`` ``(B, c, h, w)``; ``snr_db`` ``(B,)`` dB; returns ``x_u`` like ``mu`` and ``alpha_bar`` ``(B,)``
float64.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.diffusion.schedule import to_diffusion

StartVariance = Literal["upsampler", "calibrated", "forward"]
START_VARIANCES: tuple[str, ...] = ("calibrated", "upsampler", "forward")


@dataclass(frozen=True)
class UpsamplerStart:
    """``variance``: ``"calibrated"`` (``table``: rows ``(snr_db, v)`` in ascending SNR, ``v > 0`` the upsampler's
    error variance per real component in the diffusion domain), ``"forward"`` (``table`` as for calibrated with the
    forward channel's noise variance, ``gains``: rows ``(snr_db, c)`` on the same SNRs, ``c > 0``) or ``"upsampler"``
    (its own ``exp(logvar')``)."""

    variance: StartVariance = "calibrated"
    table: tuple[tuple[float, float], ...] = ()
    gains: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.variance not in START_VARIANCES:
            raise JsccInputError(f"upsampler start variance must be one of {', '.join(START_VARIANCES)}, got "
                                 f"{self.variance!r}")
        if self.variance != "forward" and self.gains:
            raise JsccInputError(f"gains belong to the forward start only, got gains {self.gains} with variance "
                                 f"{self.variance!r}")
        if self.variance in ("calibrated", "forward"):
            if not self.table:
                raise JsccInputError(f"a {self.variance} upsampler start needs its table of (snr_db, variance) rows; "
                                     "measure one with jscc_rt.eval.upsampler_calibration.calibrate_upsampler")
            _check_rows(self.table, "variance")
        if self.variance == "forward":
            if not self.gains:
                raise JsccInputError("a forward upsampler start needs its gains, rows (snr_db, c); measure them with "
                                     "jscc_rt.eval.upsampler_calibration.calibrate_upsampler")
            _check_rows(self.gains, "gain")
            if [r[0] for r in self.gains] != [r[0] for r in self.table]:
                raise JsccInputError(f"forward start: gains and variances must share their SNRs, got "
                                     f"{[r[0] for r in self.gains]} and {[r[0] for r in self.table]}")

    def variance_for(self, logvar: torch.Tensor, snr_db: torch.Tensor, power: float = 1.0) -> torch.Tensor:
        """Per-sample noise variance ``v`` ``(B,)`` float64 of ``m = to_diffusion(mu')`` (diffusion domain)."""
        if self.variance == "upsampler":
            return logvar.to(torch.float64).exp().flatten(1).mean(1) * (2.0 / power)
        return _interpolate(self.table, snr_db)

    def gain_for(self, snr_db: torch.Tensor) -> torch.Tensor:
        """Per-sample gain ``c`` ``(B,)`` float64 the upsampler's output is divided by (1 unless ``"forward"``)."""
        if self.variance != "forward":
            return torch.ones(snr_db.shape, dtype=torch.float64, device=snr_db.device)
        return _interpolate(self.gains, snr_db)


def _check_rows(rows: tuple[tuple[float, float], ...], what: str) -> None:
    snrs = [float(r[0]) for r in rows]
    if any(len(r) != 2 for r in rows) or snrs != sorted(set(snrs)):
        raise JsccInputError(f"calibration rows must be (snr_db, {what}) pairs in strictly ascending SNR, got {rows}")
    bad = [r for r in rows if not (math.isfinite(r[1]) and r[1] > 0)]
    if bad:
        raise JsccInputError(f"calibration {what}s must be finite and > 0, got rows {bad}")


def _interpolate(rows: tuple[tuple[float, float], ...], snr_db: torch.Tensor) -> torch.Tensor:
    """Rows ``(snr_db, value)`` read at ``snr_db`` ``(B,)``: linear between rows, held beyond them; float64."""
    s = torch.tensor([r[0] for r in rows], dtype=torch.float64, device=snr_db.device)
    v = torch.tensor([r[1] for r in rows], dtype=torch.float64, device=snr_db.device)
    x = snr_db.to(torch.float64).clamp(float(s[0]), float(s[-1]))
    if len(s) == 1:
        return v.expand(x.shape).clone()
    i = torch.searchsorted(s, x, right=True).clamp(1, len(s) - 1)
    w = (x - s[i - 1]) / (s[i] - s[i - 1])
    return v[i - 1] + w * (v[i] - v[i - 1])


def upsampler_start(mu: torch.Tensor, logvar: torch.Tensor, snr_db: torch.Tensor, start: UpsamplerStart,
                    power: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The upsampler's posterior as a forward-diffusion state: ``(x_u, alpha_bar)`` with ``alpha_bar = 1 / (1 + v)``
    and ``x_u = sqrt(alpha_bar) * to_diffusion(mu, power) / c`` (``c`` = 1 unless the start is ``"forward"``; module
    docstring)."""
    v = start.variance_for(logvar, snr_db, power)
    ab = 1.0 / (1.0 + v)
    scale = torch.sqrt(ab) / start.gain_for(snr_db)
    x_u = to_diffusion(mu, power) * scale.to(mu.dtype).view(-1, *([1] * (mu.dim() - 1)))
    return x_u, ab
