"""Real latents <-> complex baseband symbols, and the bandwidth ratio k/n.

Complex symbols are stored as real pairs: a ``(B, k, 2)`` tensor whose last axis is (real, imag). This keeps every
op exportable to ONNX (no complex dtype) and maps directly onto Triton kernels.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import torch

from jscc_rt._validate import JsccInputError, check_tensor


def to_symbols(z: torch.Tensor) -> torch.Tensor:
    """Pack a real latent ``(B, *dims)`` into ``(B, k, 2)`` complex symbols, ``k = prod(dims) / 2``.

    Consecutive real values (in C-order) form one symbol's (real, imag) pair.
    """
    check_tensor(z, "latent z", finite=False)
    if z.ndim < 2:
        raise JsccInputError(f"latent z must be batched (B, ...), got shape {tuple(z.shape)}")
    n_real = z[0].numel()
    if n_real % 2:
        raise JsccInputError(
            f"latent has {n_real} real values per sample, which is odd; complex symbols need an even count "
            "(use an even number of latent channels)"
        )
    return z.reshape(z.shape[0], n_real // 2, 2)


def from_symbols(s: torch.Tensor, latent_shape: Sequence[int]) -> torch.Tensor:
    """Unpack ``(B, k, 2)`` symbols into a real latent ``(B, *latent_shape)`` (inverse of :func:`to_symbols`)."""
    check_tensor(s, "symbols", ndim=3, last_dim=2, finite=False)
    need = 1
    for d in latent_shape:
        need *= int(d)
    if need != 2 * s.shape[1]:
        raise JsccInputError(
            f"cannot unpack {s.shape[1]} symbols ({2 * s.shape[1]} reals) into latent shape {tuple(latent_shape)} "
            f"({need} reals); pass the latent shape the encoder produced"
        )
    return s.reshape(s.shape[0], *latent_shape)


def bandwidth_ratio(latent_shape: Sequence[int], image_shape: Sequence[int]) -> Fraction:
    """Bandwidth ratio ``k/n``: complex channel uses per source dimension.

    ``latent_shape`` is one sample's latent (e.g. ``(C, h, w)``), ``image_shape`` one image ``(3, H, W)``;
    ``k = prod(latent_shape) / 2`` complex uses, ``n = prod(image_shape)`` source values.
    """
    k2 = 1
    for d in latent_shape:
        k2 *= int(d)
    n = 1
    for d in image_shape:
        n *= int(d)
    if k2 <= 0 or n <= 0:
        raise JsccInputError(f"shapes must be non-empty, got latent {tuple(latent_shape)}, image {tuple(image_shape)}")
    return Fraction(k2, 2 * n)
