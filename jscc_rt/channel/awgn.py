"""Additive white Gaussian noise channel."""
from __future__ import annotations

import torch

from jscc_rt._validate import JsccInputError, check_snr_db, check_tensor
from jscc_rt.channel.snr import snr_db_to_noise_var


def complex_normal(
    shape: tuple[int, ...],
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Standard circularly-symmetric complex Gaussian ``CN(0, 1)`` as real pairs: ``(*shape, 2)``, var 1/2 each."""
    return torch.randn(*shape, 2, generator=generator, device=device, dtype=dtype) * (0.5**0.5)


def noise_std(noise_var: torch.Tensor) -> torch.Tensor:
    """Per-real-component standard deviation ``sqrt(noise_var / 2)`` of complex noise with ``E|n|^2 = noise_var``."""
    return torch.sqrt(noise_var / 2.0)


def awgn(
    x: torch.Tensor,
    snr_db: float | torch.Tensor,
    *,
    power: float = 1.0,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
    validate: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Add complex AWGN at ``snr_db`` to symbols ``x``.

    Args:
        x: ``(B, k, 2)`` symbols with average power ``power`` per complex symbol.
        snr_db: scalar or ``(B,)`` SNR in dB, within [-20, 40].
        power: signal power ``P`` the SNR refers to (linear).
        generator: seeded ``torch.Generator`` for reproducible noise.
        noise: optional explicit ``(B, k, 2)`` standard real Gaussian draws ``N(0, 1)`` per component (for kernel
            parity); scaled by ``sqrt(noise_var / 2)``. Mutually exclusive with ``generator``.

    Returns:
        ``(y, noise_var)``: ``y = x + n`` ``(B, k, 2)`` and the complex noise variance ``(B, 1)`` (float32).
    """
    if validate:
        check_tensor(x, "symbols", ndim=3, last_dim=2)
    snr = check_snr_db(snr_db, x.shape[0], device=x.device) if validate else torch.as_tensor(
        snr_db, dtype=torch.float32, device=x.device
    ).expand(x.shape[0])
    noise_var = snr_db_to_noise_var(snr, power).to(torch.float32).reshape(-1, 1)  # (B,1)
    std = noise_std(noise_var).unsqueeze(-1).to(x.dtype)  # (B,1,1)
    if noise is None:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    elif generator is not None:
        raise JsccInputError("pass either noise= or generator=, not both")
    elif noise.shape != x.shape:
        raise JsccInputError(f"noise must have the symbols' shape {tuple(x.shape)}, got {tuple(noise.shape)}")
    elif validate:
        check_tensor(noise, "noise", ndim=3, last_dim=2)
    return x + std * noise.to(x.dtype), noise_var
