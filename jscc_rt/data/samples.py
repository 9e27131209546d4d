"""Embedded sample images that need no external data (for the demo and tests).

* ``"natural"``: four photos shipped inside scikit-image (astronaut, coffee, chelsea, rocket; public domain /
  CC0 per scikit-image's data README). Needs the ``dev``/``bench`` extra (scikit-image).
* ``"synthetic"``: four deterministic procedural images (gradients, edges, stripes, texture) made with numpy.
* ``"auto"``: natural when scikit-image imports, else synthetic.
"""
from __future__ import annotations

import numpy as np
import torch

from jscc_rt._validate import JsccInputError

NATURAL = ("astronaut", "coffee", "chelsea", "rocket")


def _natural() -> list[tuple[str, torch.Tensor]]:
    try:
        import skimage.data as skd
    except ImportError as e:
        raise ImportError("natural sample images need scikit-image: pip install 'jscc-rt[dev]'") from e
    out = []
    for name in NATURAL:
        arr = np.ascontiguousarray(getattr(skd, name)()[..., :3])
        out.append((name, torch.from_numpy(arr).permute(2, 0, 1).float().div_(255.0)))
    return out


def synthetic_image(seed: int, height: int = 192, width: int = 256) -> torch.Tensor:
    """One deterministic procedural RGB image ``(3, height, width)`` float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy, xx = yy / height, xx / width
    img = np.zeros((3, height, width), np.float32)
    for c in range(3):  # smooth colour gradients
        a, b, p = rng.uniform(-1, 1, 3)
        img[c] = 0.5 + 0.25 * np.sin(2 * np.pi * (a * xx + b * yy) + p)
    for _ in range(6):  # filled discs and rectangles: sharp edges
        col = rng.uniform(0, 1, 3).astype(np.float32)[:, None, None]
        cy, cx, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.2)
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) if rng.uniform() < 0.5 else (
            (abs(yy - cy) < r) & (abs(xx - cx) < 1.5 * r)
        )
        img = np.where(mask[None], col, img)
    f = rng.uniform(10, 40)  # stripes in one band
    band = (yy > 0.75) & (yy < 0.9)
    img = np.where(band[None], 0.5 + 0.4 * np.sign(np.sin(2 * np.pi * f * xx))[None], img)
    noise = rng.normal(0, 1, (3, height // 4, width // 4)).astype(np.float32)  # low-frequency texture
    tex = torch.nn.functional.interpolate(torch.from_numpy(noise)[None], size=(height, width), mode="bicubic")[0]
    img = img + 0.04 * tex.numpy()
    return torch.from_numpy(np.clip(img, 0.0, 1.0).astype(np.float32))


def sample_images(kind: str = "auto") -> list[tuple[str, torch.Tensor]]:
    """``[(name, image (3, H, W) float32 in [0, 1])]`` from the embedded set ``kind``."""
    if kind == "auto":
        try:
            return _natural()
        except ImportError:
            kind = "synthetic"
    if kind == "natural":
        return _natural()
    if kind == "synthetic":
        return [(f"synthetic{i}", synthetic_image(i)) for i in range(4)]
    raise JsccInputError(f"sample image kind must be 'auto', 'natural' or 'synthetic', got {kind!r}")
