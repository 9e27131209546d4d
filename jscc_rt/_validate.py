"""Input validation shared by every public entry point (``Receiver``, ``Link``, the channel, the data loaders, the CLI).

Errors name the offending value and say how to fix it; nothing is clipped or silently changed. Only torch is
imported at module level, so every part of the package can use these checks.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import torch

#: SNR range (dB) that the link simulation and the trained models accept.
SNR_DB_MIN: float = -20.0
SNR_DB_MAX: float = 40.0
#: Relative tolerance on the per-sample average power of symbols given to the channel (float32/float64 input;
#: float16/bfloat16 get :data:`POWER_RTOL_LOW_PRECISION`). 1 % is 0.04 dB of SNR.
POWER_RTOL: float = 1e-2
POWER_RTOL_LOW_PRECISION: float = 3e-2
#: Largest per-sample average power of received symbols, relative to the transmit power ``P``, that a receiver
#: accepts (80 dB above ``P``). Real received/equalized symbols stay far below it even at -20 dB SNR in a deep fade;
#: the GDN decoders overflow float32 (all-NaN images) from about 1e12 * P.
MAX_SYMBOL_POWER_RATIO: float = 1e8


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
    if snr_db is None or isinstance(snr_db, (str, bytes, bool)):
        raise JsccInputError(f"{name} must be a number in dB (or a sequence / tensor of them), got "
                             f"{type(snr_db).__name__} {snr_db!r}; pass e.g. {name}=10.0")
    try:
        t = torch.as_tensor(snr_db, dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError) as e:
        raise JsccInputError(f"{name} must be a number in dB (or a sequence / tensor of them), got {snr_db!r} "
                             f"({e}); pass e.g. {name}=10.0") from e
    if t.ndim == 0:
        t = t.expand(batch)
    elif t.ndim == 1 and t.shape[0] == 1:
        t = t.expand(batch)
    if t.ndim != 1 or t.shape[0] != batch:
        raise JsccInputError(f"{name} must be a scalar or have shape ({batch},), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise JsccInputError(f"{name} contains non-finite values: {t.tolist()}; pass finite SNRs in dB within "
                             f"[{SNR_DB_MIN:g}, {SNR_DB_MAX:g}]")
    if t.numel() == 0:
        return t
    lo, hi = float(t.min()), float(t.max())
    if lo < SNR_DB_MIN or hi > SNR_DB_MAX:
        raise JsccInputError(
            f"{name} must lie in [{SNR_DB_MIN:g}, {SNR_DB_MAX:g}] dB, got values in [{lo:g}, {hi:g}] dB; "
            "pass the SNR in dB (10*log10 of the linear ratio)"
        )
    return t


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Check a scalar hyper-parameter is finite and positive (or non-negative)."""
    need = "non-negative" if allow_zero else "positive"
    if value is None or isinstance(value, (str, bytes, bool)):
        raise JsccInputError(f"{name} must be a finite {need} number, got {type(value).__name__} {value!r}")
    v = float(value)
    ok = v >= 0 if allow_zero else v > 0
    if not ok or not math.isfinite(v):
        raise JsccInputError(f"{name} must be a finite {need} number, got {value!r}")
    return v


def check_int(value: Any, name: str, *, minimum: int | None = None, fix: str = "") -> int:
    """``value`` as an ``int`` (Python or numpy integer; not bool, float or str), at least ``minimum``."""
    bad = isinstance(value, bool) or value is None
    if not bad:
        try:
            v = operator.index(value)
        except TypeError:
            bad = True
    if bad:
        raise JsccInputError(f"{name} must be an integer, got {type(value).__name__} {value!r}"
                             + (f"; {fix}" if fix else ""))
    if minimum is not None and v < minimum:
        raise JsccInputError(f"{name} must be >= {minimum}, got {v}" + (f"; {fix}" if fix else ""))
    return v


def check_block_len(block_len: Any, k: int | None = None) -> int | None:
    """Fading block length: ``None`` (one block per sample) or an int >= 1.

    With the frame length ``k`` (symbols per sample) the result is bounded by ``k``: a block longer than the frame
    is one block, so nothing is ever expanded beyond ``k`` symbols.
    """
    if block_len is None:
        return None
    fix = "pass None (one coefficient per sample), 1 (fast fading) or the symbols per fading block"
    v = check_int(block_len, "block_len", minimum=1, fix=fix)
    return v if k is None else min(v, max(int(k), 1))


def check_csi_err_var(csi_err_var: Any) -> float:
    """Channel-estimation error variance: a finite number in [0, 1) (fraction of ``E|h|^2 = 1``)."""
    try:
        v = float(csi_err_var) if not isinstance(csi_err_var, (str, bytes, bool)) else float("nan")
    except (TypeError, ValueError):
        v = float("nan")
    if not 0.0 <= v < 1.0:  # also false for NaN
        raise JsccInputError(f"csi_err_var must lie in [0, 1) (fraction of E|h|^2 = 1), got {csi_err_var!r}; "
                             "use 0 for perfect CSI")
    return v


def check_equalizer(equalizer: Any) -> str:
    if equalizer not in ("zf", "mmse"):
        raise JsccInputError(f"equalizer must be 'zf' or 'mmse', got {equalizer!r}")
    return equalizer


def check_image_size(image_size: Any, stride: int, name: str = "image_size") -> tuple[int, int]:
    """``(H, W)``: two positive ints, multiples of the model ``stride``."""
    if isinstance(image_size, torch.Size):
        image_size = tuple(image_size)
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise JsccInputError(f"{name} must be a pair (H, W) of ints, got {image_size!r}; "
                             "pass the transmitted image's height and width, e.g. (512, 768)")
    hw = []
    for v, what in zip(image_size, ("height", "width")):
        if isinstance(v, bool) or not hasattr(type(v), "__index__"):
            raise JsccInputError(f"{name} {what} must be an int, got {type(v).__name__} {v!r} in {tuple(image_size)!r}; "
                                 "pass ints, e.g. (512, 768)")
        iv = operator.index(v)
        if iv < 1:
            raise JsccInputError(f"{name} {what} must be >= 1, got {iv} in {tuple(image_size)!r}")
        hw.append(iv)
    if hw[0] % stride or hw[1] % stride:
        raise JsccInputError(f"{name} {tuple(image_size)} must be multiples of the stride {stride}; the transmitter "
                             "pads images to the stride, so pass the padded size")
    return hw[0], hw[1]


def check_h_hat(h_hat: Any, batch: int, n_blocks: int, name: str = "h_hat") -> torch.Tensor:
    """Per-block channel estimate ``(batch, n_blocks, 2)``, finite and floating-point."""
    check_tensor(h_hat, name, ndim=3, last_dim=2)
    if h_hat.shape[0] != batch or h_hat.shape[1] != n_blocks:
        raise JsccInputError(
            f"{name} must have shape ({batch}, {n_blocks}, 2) (batch, fading blocks, re/im) for {batch} samples, "
            f"got {tuple(h_hat.shape)}; pass one estimate per sample and fading block (check block_len)")
    return h_hat


def check_signal_power(x: torch.Tensor, power: float, *, name: str = "symbols", rtol: float | None = None) -> None:
    """Each sample's average power per complex symbol must equal ``power`` (within ``rtol``), so that the SNR the
    channel reports is the SNR it applies. Zero-power samples get their own message."""
    p = x.detach().to(torch.float64).square().sum(-1).mean(-1)  # (B,), float64: no overflow for any float32 input
    zero = torch.nonzero(p == 0).flatten().tolist()
    if zero:
        raise JsccInputError(f"{name} of samples {zero[:8]} have zero power; the channel needs power-normalized "
                             "symbols (an all-zero latent cannot be sent)")
    tol = rtol if rtol is not None else (POWER_RTOL if x.dtype in (torch.float32, torch.float64)
                                         else POWER_RTOL_LOW_PRECISION)
    off = torch.nonzero((p / power - 1.0).abs() > tol).flatten().tolist()
    if off:
        vals = ", ".join(f"{float(p[i]):.4g}" for i in off[:4])
        raise JsccInputError(
            f"{name} of samples {off[:8]} have average power {vals} per complex symbol, but the channel expects "
            f"power-normalized input with P = {power:g} (+-{tol:.0%}), otherwise the reported SNR is not the applied "
            f"one; normalize with jscc_rt.channel.power_normalize(x, power={power:g})")


def check_symbol_power_bound(x: torch.Tensor, power: float, *, name: str = "symbols", hint: str = "") -> None:
    """Reject samples whose average power exceeds :data:`MAX_SYMBOL_POWER_RATIO` times ``power`` (absurd input
    that would overflow the decoder into NaN images)."""
    p = x.detach().to(torch.float64).square().sum(-1).mean(-1)
    bad = torch.nonzero(~(p <= MAX_SYMBOL_POWER_RATIO * power)).flatten().tolist()
    if bad:
        raise JsccInputError(
            f"{name} of samples {bad[:8]} have average power {float(p[bad[0]]):.3g} per complex symbol, more than "
            f"{MAX_SYMBOL_POWER_RATIO:.0e} x the transmit power P = {power:g}; received symbols must be scaled to the "
            f"transmit power (transmitter output from power_normalize, plus noise){hint}")


def check_steps(steps: Any, *, max_steps: int | None = None) -> int:
    """Diffusion sampler steps: an int >= 0 (0 = the JSCC decoder alone), at most ``max_steps``."""
    v = check_int(steps, "steps", minimum=0, fix="pass 0 (decoder alone) or the number of denoising steps")
    if max_steps is not None and v > max_steps:
        raise JsccInputError(f"steps={v} exceeds the schedule's {max_steps} steps; use fewer steps")
    return v
