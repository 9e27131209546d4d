"""Training precision and device: which autocast dtype, whether a gradient scaler, channels-last layout.

* ``fp32``: plain float32.
* ``bf16``: ``torch.autocast(device, dtype=bfloat16)`` around the forward pass and the loss; the weights, gradients
  and optimizer state stay float32 ("master weights"), losses are computed on outputs cast back to float32. On CPU
  it needs AVX512-BF16 or AMX-BF16 (Sapphire Rapids and later, Zen 4 and later), where oneDNN runs bf16
  convolutions (best in channels-last) several times faster than fp32.
* ``fp16``: CUDA only; autocast float16 with a :class:`torch.amp.GradScaler` against gradient underflow.
* ``auto``: bf16 where supported (CPU with bf16 instructions, CUDA with bf16), else fp32 (CPU) / fp16 (old GPUs).

Validation and the saved weights are always float32 in the default (contiguous) memory format.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import ContextManager

import torch

from jscc_rt._validate import JsccInputError

_AUTOCAST_DTYPE = {"bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_bf16_flags() -> list[str]:
    """The CPU's bf16 features among ``amx_bf16`` and ``avx512_bf16`` (empty when it has neither)."""
    caps: dict = {}
    try:
        caps = torch.cpu.get_capabilities()  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):
        pass
    found = [f for f in ("amx_bf16", "avx512_bf16") if caps.get(f)]
    if not caps:  # older torch: read the kernel's flags
        try:
            flags = set(Path("/proc/cpuinfo").read_text().split())
        except OSError:
            flags = set()
        found = [f for f in ("amx_bf16", "avx512_bf16") if f in flags]
    return found


def cpu_bf16_supported() -> bool:
    """True when this CPU has bf16 instructions (AMX-BF16 or AVX512-BF16), so bf16 training runs fast here."""
    return bool(cpu_bf16_flags())


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:<local_rank>`` when CUDA is available, else ``cpu``; ``"cuda"`` without CUDA is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise JsccInputError("--device cuda was asked for but torch sees no CUDA GPU; use --device cpu (or auto)")
        return torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
    if name != "cpu":
        raise JsccInputError(f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")
    return torch.device("cpu")


def resolve_precision(name: str, device: torch.device) -> str:
    """``"auto"`` -> the fastest safe precision on ``device``; a precision the device cannot run is an error."""
    cuda = device.type == "cuda"
    if name == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_bf16_supported() else "fp32"
    if name == "fp32":
        return name
    if name == "bf16":
        if cuda and not torch.cuda.is_bf16_supported():
            raise JsccInputError("--precision bf16 needs a GPU with bfloat16 (Ampere or newer); use --precision fp16")
        if not cuda and not cpu_bf16_supported():
            raise JsccInputError("--precision bf16 on CPU needs AVX512-BF16 or AMX-BF16 instructions, which this CPU "
                                 "lacks (see /proc/cpuinfo flags); use --precision fp32 (or auto); to continue a "
                                 "bf16 run here: --resume --precision fp32 --allow-precision-change")
        return name
    if name == "fp16":
        if not cuda:
            raise JsccInputError("--precision fp16 trains on CUDA only (with a gradient scaler); on CPU use "
                                 "--precision bf16 (AVX512-BF16/AMX CPUs) or fp32")
        return name
    raise JsccInputError(f"precision must be 'auto', 'fp32', 'bf16' or 'fp16', got {name!r}")


def resolve_channels_last(flag: bool | None, precision: str) -> bool:
    """``None`` -> channels-last with bf16/fp16 (where oneDNN / cuDNN are fastest in NHWC), off with fp32."""
    return precision != "fp32" if flag is None else bool(flag)


def autocast(precision: str, device: torch.device) -> ContextManager:
    """The autocast context for the forward pass and loss (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_AUTOCAST_DTYPE[precision])


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """A gradient scaler for fp16 on CUDA (fp16's 5-bit exponent underflows small gradients); None otherwise."""
    if precision == "fp16" and device.type == "cuda":
        return torch.amp.GradScaler("cuda")
    return None


def to_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x`` ``(B, C, H, W)`` in channels-last (NHWC) memory order when asked, else unchanged."""
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.ndim == 4 else x


def resolve_cpu_training(precision: str, channels_last: bool | None) -> tuple[str, bool]:
    """``(precision, channels_last)`` resolved for the CPU trainers (train-diffusion, -compress, -noma)."""
    p = resolve_precision(precision, torch.device("cpu"))
    return p, resolve_channels_last(channels_last, p)
