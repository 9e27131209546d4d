"""Complex arithmetic on real-pair tensors ``(..., 2)`` = (real, imag). ONNX/Triton friendly (no complex dtype)."""
from __future__ import annotations

import torch


def cmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Complex product ``a * b`` of ``(..., 2)`` tensors (broadcasting)."""
    ar, ai = a[..., 0], a[..., 1]
    br, bi = b[..., 0], b[..., 1]
    return torch.stack((ar * br - ai * bi, ar * bi + ai * br), dim=-1)


def conj(a: torch.Tensor) -> torch.Tensor:
    """Complex conjugate of ``(..., 2)``."""
    return torch.stack((a[..., 0], -a[..., 1]), dim=-1)


def abs2(a: torch.Tensor) -> torch.Tensor:
    """Squared magnitude ``|a|^2``: ``(..., 2) -> (...)``."""
    return a[..., 0].square() + a[..., 1].square()
