"""Image folders: PNG/JPEG -> RGB float tensors in [0, 1], shape ``(3, H, W)``.

Pillow is imported lazily (extra ``data``); ``import jscc_rt`` does not need it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from jscc_rt._validate import JsccInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: Environment variable naming the data root (holding ``kodak/`` and ``photos/``) or an image folder.
DATA_ENV = "JSCC_DATA"


def _pil():
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError("reading images needs Pillow: pip install 'jscc-rt[data]'") from e
    return Image


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Sorted image files in ``folder``; raises if it is missing or holds none."""
    p = Path(folder)
    if not p.is_dir():
        raise FileNotFoundError(
            f"image folder {str(p)!r} does not exist; pass --data DIR or set {DATA_ENV} (e.g. ../shared/data/kodak)"
        )
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
    if not files:
        raise FileNotFoundError(f"image folder {str(p)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def load_image(path: str | os.PathLike) -> torch.Tensor:
    """Read one image as float32 RGB ``(3, H, W)`` in [0, 1] (uint8 / 255)."""
    Image = _pil()
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError) as e:
        raise JsccInputError(f"cannot read image {str(path)!r}: {e}; replace or remove the file") from e
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def save_image(img: torch.Tensor, path: str | os.PathLike) -> None:
    """Write ``(3, H, W)`` float [0, 1] as an 8-bit PNG (values outside [0, 1] are an error, not clipped)."""
    if img.ndim != 3 or img.shape[0] != 3:
        raise JsccInputError(f"save_image expects (3, H, W), got {tuple(img.shape)}")
    lo, hi = float(img.min()), float(img.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise JsccInputError(f"image values must lie in [0, 1] to save, got [{lo:.4f}, {hi:.4f}]; clamp first")
    arr = (img.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    _pil().fromarray(arr).save(path)


class ImageFolder(torch.utils.data.Dataset):
    """Full images from a folder, each ``(3, H, W)`` float32 in [0, 1]. Images are cached after first read."""

    def __init__(self, folder: str | os.PathLike, *, cache: bool = True) -> None:
        self.files = list_images(folder)
        self._cache: dict[int, torch.Tensor] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        img = load_image(self.files[i])
        if self._cache is not None:
            self._cache[i] = img
        return img

    def names(self) -> list[str]:
        return [f.stem for f in self.files]


def resolve_data_dir(data: str | os.PathLike | None, subdir: str) -> Path | None:
    """Folder for ``subdir`` (``"kodak"`` / ``"photos"``) from ``data`` or ``$JSCC_DATA``; ``None`` if neither set.

    ``data`` may name the folder itself or a root holding ``subdir/``.
    """
    root = data if data is not None else os.environ.get(DATA_ENV)
    if root is None or root == "":
        return None
    p = Path(root)
    if (p / subdir).is_dir():
        return p / subdir
    return p
