"""Input validation shared by every public entry point.

Errors name the offending value and say how to fix it; nothing is clipped or silently changed.
"""
from __future__ import annotations

from typing import Sequence

import torch

#: SNR range (dB) that the link simulation and the trained models accept.
SNR_DB_MIN: float = -20.0
SNR_DB_MAX: float = 40.0


class JsccInputError(ValueError):
    """Raised for bad input to a jscc_rt API (wrong shape, dtype, range, non-finite values)."""


def check_tensor(
    x: object,
    name: str,
    *,
    ndim: int | None = None,
    last_dim: int | None = None,
    floating: bool = True,
    finite: bool = True,
) -> torch.Tensor:
    """Check that ``x`` is a tensor with the expected rank, trailing size, dtype class and finiteness."""
    if not isinstance(x, torch.Tensor):
        raise JsccInputError(f"{name} must be a torch.Tensor, got {type(x).__name__}; convert with torch.as_tensor(...)")
    if ndim is not None and x.ndim != ndim:
        raise JsccInputError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if last_dim is not None and (x.ndim == 0 or x.shape[-1] != last_dim):
        raise JsccInputError(
            f"{name} must have last dimension {last_dim} (real, imag pairs), got shape {tuple(x.shape)}"
        )
    if floating and not x.is_floating_point():
        raise JsccInputError(f"{name} must be a floating-point tensor, got dtype {x.dtype}; cast with .float()")
    if finite and x.numel() > 0 and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise JsccInputError(f"{name} contains {bad} non-finite values (NaN/Inf); check the upstream computation")
    return x


def check_snr_db(
    snr_db: float | Sequence[float] | torch.Tensor,
    batch: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    name: str = "snr_db",
) -> torch.Tensor:
    """Return ``snr_db`` as a ``(batch,)`` tensor after checking it lies in [SNR_DB_MIN, SNR_DB_MAX] dB."""
    t = torch.as_tensor(snr_db, dtype=dtype, device=device)
    if t.ndim == 0:
        t = t.expand(batch)
    elif t.ndim == 1 and t.shape[0] == 1:
        t = t.expand(batch)
    if t.ndim != 1 or t.shape[0] != batch:
        raise JsccInputError(f"{name} must be a scalar or have shape ({batch},), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise JsccInputError(f"{name} contains non-finite values: {t.tolist()}")
    lo, hi = float(t.min()), float(t.max())
    if lo < SNR_DB_MIN or hi > SNR_DB_MAX:
        raise JsccInputError(
            f"{name} must lie in [{SNR_DB_MIN:g}, {SNR_DB_MAX:g}] dB, got values in [{lo:g}, {hi:g}] dB; "
            "pass the SNR in dB (10*log10 of the linear ratio)"
        )
    return t


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Check a scalar hyper-parameter is finite and positive (or non-negative)."""
    v = float(value)
    ok = v >= 0 if allow_zero else v > 0
    if not ok or v != v or v in (float("inf"), float("-inf")):
        need = "non-negative" if allow_zero else "positive"
        raise JsccInputError(f"{name} must be a finite {need} number, got {value!r}")
    return v
