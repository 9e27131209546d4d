"""Image folders: PNG/JPEG/... -> RGB float tensors in [0, 1], shape ``(3, H, W)``.

Conversion rules (:func:`load_image`):

* EXIF orientation is applied (a portrait photo stored landscape with an orientation tag loads upright).
* 8-bit grayscale, palette, CMYK, YCbCr and bilevel images are converted to RGB; a grayscale image gives three equal
  channels.
* 16-bit grayscale (Pillow modes ``I;16*`` and ``I``) is scaled by 1/65535; 16-bit RGB/RGBA PNGs are reduced by
  Pillow to their high byte (8-bit precision, correct scale). 32-bit float grayscale (``F``) must already lie in
  [0, 1].
* Transparency (RGBA, LA, palette or grayscale with a transparent colour) is **composited on white**:
  ``rgb * alpha + (1 - alpha)``. Fully transparent pixels are white, whatever colour they hold.
* Images above ``max_pixels`` (default :data:`DEFAULT_MAX_PIXELS`, 4096 x 4096) are refused from their header,
  before decoding; Pillow's decompression-bomb guard (``PIL.Image.MAX_IMAGE_PIXELS``) turns into the same kind
  of error naming the file.

Every failure raises :class:`~jscc_rt.JsccInputError` naming the file. Pillow is imported lazily (extra ``data``);
``import jscc_rt`` does not need it.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from jscc_rt._validate import JsccInputError, check_int

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: Environment variable naming the data root (holding ``kodak/`` and ``photos/``) or an image folder.
DATA_ENV = "JSCC_DATA"
#: Largest image (pixels, H * W) loaded by default; pass ``max_pixels=`` (CLI ``--max-pixels``) to change it.
DEFAULT_MAX_PIXELS = 4096 * 4096
_GRAY16 = ("I;16", "I;16L", "I;16B", "I;16N", "I")


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


def check_max_pixels(max_pixels: int | None) -> int | None:
    """``None`` (no limit of our own) or an int >= 1."""
    return None if max_pixels is None else check_int(max_pixels, "max_pixels", minimum=1,
                                                     fix="pass the largest H*W to load, e.g. 4096*4096")


def _open(path: str | os.PathLike, max_pixels: int | None) -> Any:
    """Open lazily (header only) with Pillow's decompression-bomb warning as an error (unless ``max_pixels`` allows
    more than Pillow's limit), and refuse images above ``max_pixels``."""
    Image = _pil()
    with warnings.catch_warnings():
        lax = max_pixels is None or (Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS)
        warnings.simplefilter("ignore" if lax else "error", Image.DecompressionBombWarning)
        im = Image.open(path)
    w, h = im.size
    if max_pixels is not None and w * h > max_pixels:
        im.close()
        raise JsccInputError(
            f"image {str(path)!r} is {w}x{h} = {w * h} pixels, above the limit of {max_pixels} pixels "
            f"(default {DEFAULT_MAX_PIXELS} = 4096x4096); downscale it, remove it from the folder, or raise the "
            "limit with --max-pixels / max_pixels=")
    return im


def _bomb_message(path: str | os.PathLike, e: Exception) -> str:
    return (f"image {str(path)!r} looks like a decompression bomb and was not decoded ({e}); remove it from the "
            "folder, or if it is a genuine huge image downscale it (Pillow refuses more than "
            f"{2 * (_pil().MAX_IMAGE_PIXELS or 0)} pixels)")


def image_size(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """``(H, W)`` of an image from its header (no decoding), after EXIF orientation; checks ``max_pixels``."""
    with _reading(path), _open(path, check_max_pixels(max_pixels)) as im:
        w, h = im.size
        orientation = im.getexif().get(0x0112, 1) if hasattr(im, "getexif") else 1
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


@contextlib.contextmanager
def _reading(path: str | os.PathLike) -> Iterator[None]:
    """Turn Pillow's errors while reading ``path`` into :class:`JsccInputError` naming the file and the fix."""
    Image = _pil()
    try:
        yield
    except JsccInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise JsccInputError(_bomb_message(path, e)) from e
    except (OSError, ValueError, SyntaxError) as e:
        raise JsccInputError(f"cannot read image {str(path)!r}: {e}; replace or remove the file") from e


def _to_rgb(im: Any, path: str | os.PathLike) -> np.ndarray:
    """A decoded Pillow image -> float32 ``(H, W, 3)`` in [0, 1] (rules in the module docstring)."""
    mode = im.mode
    if mode in _GRAY16:
        a = np.asarray(im).astype(np.float64)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise JsccInputError(f"image {str(path)!r} is {mode} with values in [{a.min():g}, {a.max():g}], outside "
                                 "16-bit [0, 65535]; convert it to 8- or 16-bit")
        g = (a / 65535.0).astype(np.float32)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "F":
        g = np.asarray(im, dtype=np.float32)
        if g.size and not (np.isfinite(g).all() and g.min() >= 0 and g.max() <= 1):
            raise JsccInputError(f"image {str(path)!r} is 32-bit float with values outside [0, 1]; save it as 8- or "
                                 "16-bit, or scale it to [0, 1]")
        return np.repeat(g[..., None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3:4]
        return rgba[..., :3] * alpha + (1.0 - alpha)  # composite on white
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def load_image(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """Read one image as float32 RGB ``(3, H, W)`` in [0, 1] (8-bit / 255, 16-bit / 65535), upright per its EXIF
    orientation, transparency composited on white; see the module docstring. ``max_pixels=None``: no limit of our
    own (Pillow's decompression-bomb guard still applies)."""
    _pil()
    from PIL import ImageOps

    with _reading(path), _open(path, check_max_pixels(max_pixels)) as im:
        im.load()
        arr = _to_rgb(ImageOps.exif_transpose(im), path)
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous()


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

    def __init__(self, folder: str | os.PathLike, *, cache: bool = True,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
        self.files = list_images(folder)
        self.max_pixels = check_max_pixels(max_pixels)
        self._cache: dict[int, torch.Tensor] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        img = load_image(self.files[i], max_pixels=self.max_pixels)
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
