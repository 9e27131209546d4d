"""Pure-PyTorch reference for the fused sampler update.

``x_next = a * x + b * eps (+ c * noise)`` with per-sample coefficients ``a, b, c`` ``(B,)``: DDPM, DDIM (any eta)
and consistency-model steps are all of this form once the schedule's coefficients are computed on the host.
"""
from __future__ import annotations

import torch


def sampler_step_naive(
    x: torch.Tensor,
    eps: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``x``/``eps`` ``(B, ...)``; ``a``, ``b``, ``c`` ``(B,)`` float32. Returns ``x``'s shape and dtype.

    With ``c`` given, ``noise`` (same shape as ``x``, standard normal) is added as ``c * noise``; drawn from
    ``generator`` when not given. Computes in float32 (float64 stays float64).
    """
    acc = torch.promote_types(x.dtype, torch.float32)
    shape = (-1,) + (1,) * (x.ndim - 1)
    out = a.to(acc).view(shape) * x.to(acc) + b.to(acc).view(shape) * eps.to(acc)
    if c is not None:
        if noise is None:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=acc)
        out = out + c.to(acc).view(shape) * noise.to(acc)
    return out.to(x.dtype)
