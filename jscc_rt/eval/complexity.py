"""Model size and compute: parameters and multiply-accumulates (MACs) of one forward pass, counted from the layers
that carry them (convolutions, transposed convolutions, linear layers) with forward hooks on a real input."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


def count_params(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


def _conv_macs(m: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    if isinstance(m, nn.ConvTranspose2d):  # every input element meets every kernel tap of its group
        return inp.numel() * m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
    k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups  # type: ignore[union-attr]
    return out.numel() * k


def count_macs(module: nn.Module, *inputs: Any) -> int:
    """Multiply-accumulates of ``module(*inputs)`` in its Conv2d, ConvTranspose2d and Linear layers (the rest, e.g.
    activations, normalizations and elementwise channel math, is O(elements) and left out). Runs one forward pass
    without gradients."""
    total = 0

    def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            total += _conv_macs(m, args[0], out)
        elif isinstance(m, nn.Linear):
            total += out.numel() * m.in_features

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total
