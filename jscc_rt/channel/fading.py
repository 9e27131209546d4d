"""Rayleigh fading with perfect or noisy CSI, and ZF / MMSE equalization.

Model per complex symbol ``i``: ``y_i = h_i x_i + n_i`` with ``h_i ~ CN(0, 1)`` and ``n_i ~ CN(0, noise_var)``.

* Block fading: one ``h`` per sample (``block_len=None``) or per block of ``block_len`` consecutive symbols.
* Fast fading: ``block_len=1`` (independent ``h`` per symbol).
* Noisy CSI (MMSE-estimation-error model): ``h = h_hat + e`` with ``h_hat ~ CN(0, 1 - csi_err_var)`` and
  ``e ~ CN(0, csi_err_var)`` independent, so ``E|h|^2 = 1`` for any error variance in [0, 1).

Equalization returns ``x_hat = gain * x + w`` with a per-symbol real ``gain`` and the effective noise variance
``E|w|^2`` per symbol, conditioned on ``h_hat``:

* ZF:   ``x_hat = y / h_hat``;                 gain 1, ``var = (csi_err_var*P + noise_var) / |h_hat|^2``.
* MMSE: ``x_hat = conj(h_hat) y / (|h_hat|^2 + nu)``, ``nu = (csi_err_var*P + noise_var) / P``;
  ``gain = |h_hat|^2 / (|h_hat|^2 + nu)``, ``var = gain^2 * (csi_err_var*P + noise_var) / |h_hat|^2``.

The diffusion receiver uses the unbiased form ``x_hat / gain = x + w / gain`` (noise var ``var / gain^2``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from jscc_rt._validate import JsccInputError, check_block_len, check_csi_err_var, check_equalizer
from jscc_rt.channel.awgn import complex_normal
from jscc_rt.channel.complex_ops import abs2, cmul, conj

Equalizer = Literal["zf", "mmse"]


@dataclass(frozen=True)
class FadingDraw:
    """True and estimated channel coefficients, each ``(B, k, 2)``."""

    h: torch.Tensor
    h_hat: torch.Tensor


def check_fading_args(block_len: int | None, csi_err_var: float, equalizer: str) -> None:
    """Validate fading hyper-parameters, naming the bad value (see :mod:`jscc_rt._validate`)."""
    check_block_len(block_len)
    check_csi_err_var(csi_err_var)
    check_equalizer(equalizer)


def draw_rayleigh(
    batch: int,
    k: int,
    *,
    block_len: int | None = None,
    csi_err_var: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> FadingDraw:
    """Draw Rayleigh coefficients for ``batch`` samples of ``k`` symbols, constant over blocks of ``block_len``."""
    blocks = draw_rayleigh_blocks(batch, k, block_len=block_len, csi_err_var=csi_err_var, generator=generator,
                                  device=device, dtype=dtype)
    rep = k if block_len is None else check_block_len(block_len, k)  # a block longer than the frame is one block
    expand = lambda t: t.repeat_interleave(rep, dim=1)[:, :k]  # noqa: E731
    return FadingDraw(h=expand(blocks.h), h_hat=expand(blocks.h_hat))


def draw_rayleigh_blocks(
    batch: int,
    k: int,
    *,
    block_len: int | None = None,
    csi_err_var: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> FadingDraw:
    """One coefficient pair per fading block: ``h``, ``h_hat`` ``(B, ceil(k / block_len), 2)`` (``(B, 1, 2)`` if None)."""
    check_fading_args(block_len, csi_err_var, "zf")
    bl = check_block_len(block_len, k)
    n_blocks = 1 if bl is None else -(-k // bl)
    h_hat = complex_normal((batch, n_blocks), generator=generator, device=device, dtype=dtype)
    h_hat = h_hat * (1.0 - csi_err_var) ** 0.5
    if csi_err_var > 0:
        h = h_hat + complex_normal((batch, n_blocks), generator=generator, device=device, dtype=dtype) * csi_err_var**0.5
    else:
        h = h_hat
    return FadingDraw(h=h, h_hat=h_hat)


def equalize(
    y: torch.Tensor,
    h_hat: torch.Tensor,
    noise_var: torch.Tensor,
    *,
    csi_err_var: float = 0.0,
    power: float = 1.0,
    equalizer: Equalizer = "zf",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Equalize ``y = h x + n`` given the estimate ``h_hat``.

    Args:
        y: ``(B, k, 2)`` received symbols.
        h_hat: ``(B, k, 2)`` channel estimate.
        noise_var: complex noise variance, broadcastable to ``(B, k)`` (e.g. ``(B, 1)``).
        csi_err_var: variance of ``h - h_hat``; power: signal power ``P``.
        equalizer: ``"zf"`` or ``"mmse"``.

    Returns:
        ``(x_hat, gain, eff_noise_var)``: ``(B, k, 2)``, ``(B, k)``, ``(B, k)`` as in the module docstring.
    """
    g2 = abs2(h_hat)  # (B,k)
    total = csi_err_var * power + noise_var  # interference-plus-noise variance, broadcast (B,k)
    if equalizer == "zf":
        x_hat = cmul(y, conj(h_hat)) / g2.unsqueeze(-1)
        gain = torch.ones_like(g2)
        var = total / g2
    elif equalizer == "mmse":
        nu = total / power
        denom = g2 + nu
        x_hat = cmul(y, conj(h_hat)) / denom.unsqueeze(-1)
        gain = g2 / denom
        var = gain.square() * total / g2
    else:
        raise JsccInputError(f"equalizer must be 'zf' or 'mmse', got {equalizer!r}")
    return x_hat, gain, var.expand_as(g2)
