"""Per-sample average power normalization (the transmitter's power constraint)."""
from __future__ import annotations

import torch

from jscc_rt._validate import JsccInputError, check_positive, check_tensor


def power_normalize(s: torch.Tensor, power: float = 1.0, *, validate: bool = True) -> torch.Tensor:
    """Scale each sample so its average power per complex symbol equals ``power``.

    Args:
        s: ``(B, k, 2)`` symbols (real, imag), any float dtype; reduction is done in float32 or wider.
        power: target average power ``P`` per complex symbol (linear, > 0).
        validate: check shape/finiteness and reject all-zero samples (needs a host sync; turn off in hot loops).

    Returns:
        ``(B, k, 2)`` tensor with ``mean_k |s|^2 == power`` per sample, same dtype as ``s``. Differentiable.
    """
    if validate:
        check_tensor(s, "symbols", ndim=3, last_dim=2)
        check_positive(power, "power")
    acc = torch.promote_types(s.dtype, torch.float32)
    x = s.to(acc)
    # Scale-safe norm: divide by each sample's max |value| first, so squaring neither overflows (|s| ~ 1e30) nor
    # underflows (|s| ~ 1e-30). The result does not depend on the divisor, hence detach (exact gradient, cheaper).
    peak = x.detach().abs().amax(dim=(1, 2), keepdim=True)  # (B,1,1)
    if validate and bool((peak == 0).any()):
        idx = torch.nonzero(peak.flatten() == 0).flatten().tolist()
        raise JsccInputError(
            f"samples {idx} have zero power and cannot be normalized; the encoder produced an all-zero latent"
        )
    u = x / peak
    energy = u.square().sum(dim=(1, 2), keepdim=True)  # (B,1,1): sum |s/peak|^2, in [1, 2k]
    k = s.shape[1]
    return (u * torch.sqrt(power * k / energy)).to(s.dtype)


def average_power(s: torch.Tensor) -> torch.Tensor:
    """Average power per complex symbol of each sample: ``(B, k, 2) -> (B,)`` (float32 or wider)."""
    acc = torch.promote_types(s.dtype, torch.float32)
    return s.to(acc).square().sum(dim=2).mean(dim=1)
