"""Two-user NOMA quality: both users' PSNR over an image set (image i to user 1, image i+1 to user 2)."""
from __future__ import annotations

import torch

from jscc_rt.channel import ChannelConfig
from jscc_rt.eval.metrics import psnr
from jscc_rt.models.noma import TwoUserNOMA


def pair_images(a: torch.Tensor, b: torch.Tensor, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two ``(3, H, W)`` images as one same-shape batch pair ``(1, 3, H', W')``: ``b`` is rotated by 90 degrees when
    that matches ``a`` (Kodak's portrait images), else both are cropped to their common size; sizes are cut down to
    multiples of ``stride``."""
    if b.shape != a.shape and b.transpose(-1, -2).shape == a.shape:
        b = b.transpose(-1, -2).flip(-1)
    h = min(a.shape[-2], b.shape[-2]) // stride * stride
    w = min(a.shape[-1], b.shape[-1]) // stride * stride
    return a[None, :, :h, :w], b[None, :, :h, :w]


@torch.no_grad()
def noma_psnr(model: TwoUserNOMA, images: list[torch.Tensor], snr_db: float, a1: float,
              channel: ChannelConfig | None = None, seed: int = 0) -> tuple[float, float]:
    """Mean PSNR (dB) of user 1 and user 2 when image ``i`` goes to user 1 and image ``i+1`` to user 2 (paired by
    :func:`pair_images`)."""
    g = torch.Generator().manual_seed(seed)
    p1 = p2 = 0.0
    n = len(images)
    for i in range(n):
        a, b = pair_images(images[i], images[(i + 1) % n], model.stride)
        out = model(a, b, torch.tensor([float(snr_db)]), a1, channel, generator=g)
        p1 += float(psnr(a, out.images[0].clamp(0, 1))[0]) / n
        p2 += float(psnr(b, out.images[1].clamp(0, 1))[0]) / n
    return p1, p2
