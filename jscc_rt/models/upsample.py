"""2x upsampling layers: transposed convolution, or a sub-pixel convolution that computes exactly the same map.

A ``ConvTranspose2d(cin, cout, k, stride=2, padding=k//2, output_padding=1)`` (k = 3 or 5) is four interleaved
convolutions of its input (one per output phase), so it equals ``PixelShuffle(2)(Conv2d(cin, 4*cout, 3, padding=1))``
with the transposed kernel's taps rearranged (Shi et al. 2016, "Is the deconvolution layer the same as a
convolutional layer?"). The sub-pixel form has ~1.44x the multiply-adds (zero taps) but is a plain convolution,
which every low-precision backend runs (OpenVINO's bf16 AMX path, TensorRT fp16/int8), whereas transposed
convolutions stay fp32 on OpenVINO's CPU plugin. :func:`subpixel_from_deconv` converts trained weights exactly, so
a shipped model changes upsampling without retraining (``tests/models/test_upsample.py`` holds the parity).

Shapes: ``(B, cin, H, W)`` -> ``(B, cout, 2H, 2W)`` for both forms.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal

import torch
from torch import nn

Upsample = Literal["deconv", "subpixel"]
UPSAMPLE_KINDS: tuple[str, ...] = ("deconv", "subpixel")


class SubPixelConv(nn.Module):
    """``PixelShuffle(2)(Conv2d(cin, 4*cout, 3, padding=1)(x))``: 2x upsampling as a plain convolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, 4 * cout, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))


def up2(cin: int, cout: int, k: int = 5, upsample: str = "deconv") -> nn.Module:
    """A 2x upsampling layer ``(B, cin, H, W) -> (B, cout, 2H, 2W)`` of kind ``upsample``."""
    if upsample == "deconv":
        return nn.ConvTranspose2d(cin, cout, k, stride=2, padding=k // 2, output_padding=1)
    if upsample == "subpixel":
        return SubPixelConv(cin, cout)
    raise ValueError(f"unknown upsample {upsample!r}; choose one of {', '.join(UPSAMPLE_KINDS)}")


def subpixel_from_deconv(d: nn.ConvTranspose2d) -> SubPixelConv:
    """The :class:`SubPixelConv` computing exactly ``d`` (stride 2, odd kernel 3 or 5, padding k//2, output_padding 1).

    Output pixel ``2m + r`` of the transposed convolution sums input ``m + o`` times tap ``k = r + p - 2o``; for
    k <= 5 every offset ``o`` lies in {-1, 0, 1}, the taps of a 3x3 convolution with padding 1.
    """
    k = d.kernel_size[0]
    if (d.stride != (2, 2) or d.kernel_size != (k, k) or k not in (3, 5) or d.padding != (k // 2, k // 2)
            or d.output_padding != (1, 1) or d.groups != 1 or d.dilation != (1, 1)):
        raise ValueError(f"cannot convert {d}: needs stride 2, kernel 3 or 5, padding k//2, output_padding 1")
    cin, cout = d.in_channels, d.out_channels
    p = k // 2
    w = d.weight.detach()  # (cin, cout, k, k)
    w_sub = torch.zeros(cout, 2, 2, cin, 3, 3, dtype=w.dtype)
    for ry in range(2):
        for oy in (-1, 0, 1):
            ky = ry + p - 2 * oy
            if not 0 <= ky < k:
                continue
            for rx in range(2):
                for ox in (-1, 0, 1):
                    kx = rx + p - 2 * ox
                    if 0 <= kx < k:
                        w_sub[:, ry, rx, :, oy + 1, ox + 1] = w[:, :, ky, kx].t()
    sp = SubPixelConv(cin, cout)
    with torch.no_grad():
        sp.conv.weight.copy_(w_sub.reshape(4 * cout, cin, 3, 3))  # PixelShuffle: channel o*4 + ry*2 + rx
        bias = d.bias.detach() if d.bias is not None else torch.zeros(cout, dtype=w.dtype)
        sp.conv.bias.copy_(bias.repeat_interleave(4))
    return sp.to(w.device)


def convert_to_subpixel(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` with every convertible ``ConvTranspose2d`` replaced by its exact
    :class:`SubPixelConv`; a ``JSCCModel``'s config gets ``upsample="subpixel"``."""
    m = copy.deepcopy(module)
    _replace(m)
    cfg = getattr(m, "config", None)
    if cfg is not None and hasattr(cfg, "upsample"):
        from dataclasses import replace

        m.config = replace(cfg, upsample="subpixel")
    return m


def _replace(parent: nn.Module) -> None:
    for name, child in parent.named_children():
        if isinstance(child, nn.ConvTranspose2d):
            setattr(parent, name, subpixel_from_deconv(child))
        else:
            _replace(child)


def convert_checkpoint(src: str, dst: str) -> Path:
    """Convert checkpoint ``src`` (path or shipped name) to sub-pixel upsampling and save it at ``dst`` (+ sidecar);
    the meta keeps the source's training record and adds ``converted_from`` (its sha256) and ``conversion``."""
    from jscc_rt.models.checkpoint import file_sha256, load_model, save_model
    from jscc_rt.models.registry import resolve_checkpoint

    path = resolve_checkpoint(src)
    sha = file_sha256(path)  # before loading: ``dst`` may be ``src``
    model = load_model(path)
    if getattr(model.config, "upsample", None) != "deconv":
        raise ValueError(f"{src!r} is not a JSCC model with transposed-convolution upsampling")
    meta = {**getattr(model, "meta", {}), "converted_from": sha,
            "conversion": "jscc_rt.models.upsample.convert_checkpoint: ConvTranspose2d -> exact SubPixelConv"}
    return save_model(convert_to_subpixel(model), dst, meta=meta)
