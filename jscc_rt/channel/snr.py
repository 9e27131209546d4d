"""SNR and noise-variance conversions.

Convention used everywhere in jscc_rt: complex baseband symbols with average power ``P`` per complex symbol,
circularly-symmetric complex Gaussian noise with total variance ``noise_var = E|n|^2`` (``noise_var / 2`` per
real component), and ``SNR = P / noise_var``.
"""
from __future__ import annotations

import torch


def _as_float(x: torch.Tensor | float) -> torch.Tensor:
    t = torch.as_tensor(x)
    return t if t.is_floating_point() else t.to(torch.float64)


def snr_db_to_linear(snr_db: torch.Tensor | float) -> torch.Tensor:
    """``10 ** (snr_db / 10)``: dB -> linear ratio (tensor out; a Python float gives float64)."""
    return torch.pow(10.0, _as_float(snr_db) / 10.0)


def linear_to_snr_db(snr: torch.Tensor | float) -> torch.Tensor:
    """``10 * log10(snr)``: linear ratio -> dB."""
    return 10.0 * torch.log10(_as_float(snr))


def snr_db_to_noise_var(snr_db: torch.Tensor | float, power: float = 1.0) -> torch.Tensor:
    """Complex noise variance ``E|n|^2 = power / 10**(snr_db/10)`` for signal power ``power`` per symbol."""
    return power / snr_db_to_linear(snr_db)


def noise_var_to_snr_db(noise_var: torch.Tensor | float, power: float = 1.0) -> torch.Tensor:
    """SNR in dB for complex noise variance ``noise_var`` and signal power ``power``."""
    return linear_to_snr_db(power / _as_float(noise_var))
