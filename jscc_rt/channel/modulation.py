"""Uncoded BPSK / QPSK (Gray) mapping, hard decisions and closed-form BER, for validating the channel."""
from __future__ import annotations

import math

import torch

from jscc_rt._validate import JsccInputError


def modulate(bits: torch.Tensor, scheme: str) -> torch.Tensor:
    """Map bits ``(B, m)`` (0/1) to unit-power symbols ``(B, k, 2)``; BPSK k=m, QPSK (Gray) k=m/2."""
    b = bits.to(torch.float32)
    if scheme == "bpsk":
        return torch.stack((1.0 - 2.0 * b, torch.zeros_like(b)), dim=-1)
    if scheme == "qpsk":
        if b.shape[-1] % 2:
            raise JsccInputError(f"QPSK needs an even number of bits per sample, got {b.shape[-1]}")
        pairs = b.reshape(b.shape[0], -1, 2)
        return (1.0 - 2.0 * pairs) / math.sqrt(2.0)
    raise JsccInputError(f"scheme must be 'bpsk' or 'qpsk', got {scheme!r}")


def demodulate_hard(y: torch.Tensor, scheme: str) -> torch.Tensor:
    """Hard decisions from equalized symbols ``(B, k, 2)`` back to bits ``(B, m)`` (uint8)."""
    if scheme == "bpsk":
        return (y[..., 0] < 0).to(torch.uint8)
    if scheme == "qpsk":
        return (y < 0).to(torch.uint8).reshape(y.shape[0], -1)
    raise JsccInputError(f"scheme must be 'bpsk' or 'qpsk', got {scheme!r}")


def _q(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def ber_theory(scheme: str, snr_db: float, channel: str = "awgn") -> float:
    """Closed-form uncoded bit error rate at symbol SNR ``Es/N0 = snr_db`` (coherent, perfect CSI).

    AWGN: BPSK ``Q(sqrt(2 snr))``, QPSK ``Q(sqrt(snr))``.
    Rayleigh: ``0.5 (1 - sqrt(g / (1 + g)))`` with ``g = Eb/N0`` (= snr for BPSK, snr/2 for QPSK).
    """
    snr = 10.0 ** (snr_db / 10.0)
    eb = {"bpsk": snr, "qpsk": snr / 2.0}.get(scheme)
    if eb is None:
        raise JsccInputError(f"scheme must be 'bpsk' or 'qpsk', got {scheme!r}")
    if channel == "awgn":
        return _q(math.sqrt(2.0 * eb))
    if channel == "rayleigh":
        return 0.5 * (1.0 - math.sqrt(eb / (1.0 + eb)))
    raise JsccInputError(f"channel must be 'awgn' or 'rayleigh', got {channel!r}")
