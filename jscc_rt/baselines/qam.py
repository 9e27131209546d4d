"""Gray-mapped square QAM (4/16/64) and exact soft demapping to bit LLRs.

Symbols use the channel package's real-pair layout ``(B, k, 2)`` with unit average energy, so they go straight into
:class:`jscc_rt.channel.Channel`. A symbol carries ``m = log2(M)`` bits: the first ``m/2`` pick the in-phase PAM
level, the last ``m/2`` the quadrature level, each Gray-labelled (neighbouring levels differ in one bit).

LLR convention (Sionna's): ``llr = log P(b = 1 | y) - log P(b = 0 | y)``, so a positive LLR means bit 1.
"""
from __future__ import annotations

import math

import torch

from jscc_rt._validate import JsccInputError, check_tensor

QAM_ORDERS = (4, 16, 64)


def bits_per_symbol(order: int) -> int:
    if order not in QAM_ORDERS:
        raise JsccInputError(f"QAM order must be one of {QAM_ORDERS}, got {order}")
    return int(math.log2(order))


def pam_levels(order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Amplitudes ``(L,)`` of one dimension, scaled so the complex symbol has unit energy, and their Gray labels
    as bits ``(L, m/2)`` (most significant first); ``L = sqrt(order)``."""
    m2 = bits_per_symbol(order) // 2
    n_lev = 2**m2
    idx = torch.arange(n_lev)
    amp = (2 * idx - n_lev + 1).double() / math.sqrt(2.0 * (n_lev**2 - 1) / 3.0)
    gray = idx ^ (idx >> 1)
    labels = torch.stack([(gray >> (m2 - 1 - j)) & 1 for j in range(m2)], dim=1)
    return amp, labels


def qam_map(bits: torch.Tensor, order: int) -> torch.Tensor:
    """Bits ``(B, n)`` (0/1 integers, ``n`` a multiple of ``log2(order)``) -> symbols ``(B, n / log2(order), 2)``."""
    m = bits_per_symbol(order)
    if bits.ndim != 2 or bits.shape[1] % m:
        raise JsccInputError(f"bits must be (B, n) with n a multiple of {m} for {order}-QAM, got {tuple(bits.shape)}")
    amp, labels = pam_levels(order)
    m2 = m // 2
    weights = 2 ** torch.arange(m2 - 1, -1, -1)
    label_to_level = torch.empty(2**m2, dtype=torch.long)
    label_to_level[(labels * weights).sum(1)] = torch.arange(2**m2)
    b = bits.long().reshape(bits.shape[0], -1, 2, m2)  # (B, k, I/Q, m/2)
    level = label_to_level[(b * weights).sum(-1)]
    return amp.float()[level]


def qam_llr(y: torch.Tensor, noise_var: torch.Tensor | float, order: int) -> torch.Tensor:
    """Exact (log-MAP) bit LLRs ``(B, k * log2(order))`` for equalized symbols ``y = x + w``.

    Args:
        y: ``(B, k, 2)`` received symbols after unbiased equalization.
        noise_var: complex noise variance ``E|w|^2``, scalar or ``(B, k)`` (per symbol, e.g. after ZF fading).
        order: 4, 16 or 64.
    """
    check_tensor(y, "y", ndim=3, last_dim=2)
    amp, labels = pam_levels(order)
    nv = torch.as_tensor(noise_var, dtype=torch.float64, device=y.device)
    if nv.ndim == 0:
        nv = nv.expand(y.shape[:2])
    if tuple(nv.shape) != tuple(y.shape[:2]) or bool((nv <= 0).any()):
        raise JsccInputError(f"noise_var must be positive, scalar or {tuple(y.shape[:2])}, got {tuple(nv.shape)}")
    d2 = (y.double().unsqueeze(-1) - amp.to(y.device)).square()  # (B, k, 2, L)
    metric = -d2 / nv[..., None, None]  # per-real-dimension variance is noise_var / 2
    lab = labels.to(y.device).bool()  # (L, m/2)
    neg = torch.tensor(float("-inf"), dtype=metric.dtype, device=y.device)
    one = torch.where(lab.T, metric.unsqueeze(-2), neg).logsumexp(-1)  # (B, k, 2, m/2)
    zero = torch.where(~lab.T, metric.unsqueeze(-2), neg).logsumexp(-1)
    return (one - zero).float().reshape(y.shape[0], -1)


def ser_theory(order: int, snr_db: float) -> float:
    """Uncoded symbol error rate of square M-QAM over AWGN at ``Es/N0 = snr_db`` (exact)."""
    n_lev = math.sqrt(order)
    snr = 10.0 ** (snr_db / 10.0)
    p = 2.0 * (1.0 - 1.0 / n_lev) * 0.5 * math.erfc(math.sqrt(3.0 * snr / (order - 1)) / math.sqrt(2.0))
    return 1.0 - (1.0 - p) ** 2
