"""Image codecs for the separate source-then-channel chain: JPEG, WebP and AVIF through Pillow.

AVIF (AV1 intra, libavif inside Pillow >= 11.3 wheels) is the modern, BPG-class codec; WebP (VP8 intra) sits between
it and JPEG. :func:`fit_to_budget` picks the highest quality whose file fits a bit budget, the way the Deep JSCC
literature sets up its digital baselines.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch

from jscc_rt._validate import JsccInputError

#: codec name -> (Pillow format, lowest quality, highest quality) for the quality search.
CODECS: dict[str, tuple[str, int, int]] = {"jpeg": ("JPEG", 1, 95), "webp": ("WEBP", 0, 100), "avif": ("AVIF", 0, 100)}


class CodecUnavailable(RuntimeError):
    """The Pillow build here cannot encode this format."""


@dataclass(frozen=True)
class Encoded:
    """One compressed image: ``data`` (the file bytes), the codec and quality that made it, and its size."""

    data: bytes
    codec: str
    quality: int
    shape: tuple[int, int]

    @property
    def bits(self) -> int:
        return 8 * len(self.data)

    def bpp(self) -> float:
        """Bits per pixel over the image's ``H * W`` pixels."""
        return self.bits / (self.shape[0] * self.shape[1])


def _check_codec(codec: str) -> str:
    if codec not in CODECS:
        raise JsccInputError(f"unknown codec {codec!r}; choose one of {sorted(CODECS)}")
    from PIL import features

    feature = {"jpeg": "jpg", "webp": "webp", "avif": "avif"}[codec]
    if not features.check(feature):
        raise CodecUnavailable(f"this Pillow build cannot write {codec}; install a Pillow wheel with {feature} support")
    return CODECS[codec][0]


def _to_uint8(img: torch.Tensor) -> np.ndarray:
    if img.ndim != 3 or img.shape[0] != 3:
        raise JsccInputError(f"image must be (3, H, W) float in [0, 1], got shape {tuple(img.shape)}")
    lo, hi = float(img.min()), float(img.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise JsccInputError(f"image values must lie in [0, 1], got [{lo:.4f}, {hi:.4f}]")
    return (img.detach().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def encode(img: torch.Tensor, codec: str, quality: int) -> Encoded:
    """Compress ``img`` ``(3, H, W)`` float [0, 1] with ``codec`` at ``quality`` (codec's own scale)."""
    from PIL import Image

    fmt = _check_codec(codec)
    lo, hi = CODECS[codec][1:]
    if not lo <= int(quality) <= hi:
        raise JsccInputError(f"{codec} quality must lie in [{lo}, {hi}], got {quality}")
    buf = io.BytesIO()
    opts: dict = {"quality": int(quality)}
    if codec == "jpeg":
        opts.update(subsampling="4:2:0", optimize=True)
    elif codec == "webp":
        opts.update(method=6)
    else:
        opts.update(speed=8, subsampling="4:2:0")  # speed 8: ~5x faster than 6, ~5-10 % larger files
    Image.fromarray(_to_uint8(img)).save(buf, format=fmt, **opts)
    return Encoded(buf.getvalue(), codec, int(quality), (int(img.shape[1]), int(img.shape[2])))


def decode(data: bytes, shape: tuple[int, int] | None = None) -> torch.Tensor:
    """Decode file bytes to ``(3, H, W)`` float [0, 1]; raises :class:`JsccInputError` when the stream is corrupt
    or (with ``shape``) decodes to another size."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except Exception as e:  # Pillow raises OSError, ValueError, SyntaxError... on damaged streams
        raise JsccInputError(f"cannot decode the image stream ({len(data)} bytes): {e}") from e
    out = torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)
    if shape is not None and tuple(out.shape[1:]) != tuple(shape):
        raise JsccInputError(f"decoded image is {tuple(out.shape[1:])}, expected {tuple(shape)}")
    return out


class SourceCoder:
    """One image under one codec, with encodings memoized per quality (budget searches share most probes)."""

    def __init__(self, img: torch.Tensor, codec: str) -> None:
        _check_codec(codec)
        self.img, self.codec = img, codec
        self._cache: dict[int, Encoded] = {}

    def at(self, quality: int) -> Encoded:
        if quality not in self._cache:
            self._cache[quality] = encode(self.img, self.codec, quality)
        return self._cache[quality]

    def fit(self, max_bits: int) -> Encoded | None:
        """The highest-quality encoding whose size is at most ``max_bits``; ``None`` when even the lowest quality
        does not fit (the chain then cannot send the image at all). Binary search: file size grows with quality
        for these codecs; the returned encoding is checked against the budget."""
        lo, hi = CODECS[self.codec][1:]
        best = None
        while lo <= hi:
            q = (lo + hi) // 2
            e = self.at(q)
            if e.bits <= max_bits:
                best, lo = e, q + 1
            else:
                hi = q - 1
        return best


def fit_to_budget(img: torch.Tensor, codec: str, max_bits: int) -> Encoded | None:
    """:meth:`SourceCoder.fit` for a single budget."""
    return SourceCoder(img, codec).fit(max_bits)
