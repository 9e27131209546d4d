"""Training and validation images shared by every trainer, with errors that say what to fix."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from jscc_rt._validate import JsccInputError
from jscc_rt.data import eval_images, resolve_data_dir
from jscc_rt.data.images import ImageFolder
from jscc_rt.data.samples import sample_images


def training_images(data: str | None, *, scale: float = 1.0, crop: int | None = None) -> tuple[str, list[torch.Tensor]]:
    """``(source name, images (3, H, W) float32 in [0, 1])``: the photos in ``data`` (a folder or a root holding
    ``photos/``; None -> ``$JSCC_DATA``, else the embedded samples), resized once by ``scale`` (antialiased
    bilinear).

    Raises FileNotFoundError for a missing folder or one without images, and :class:`JsccInputError` when ``crop``
    (pixels) is larger than some image after resizing.
    """
    folder = resolve_data_dir(data, "photos")
    if folder is None:
        name, imgs = "embedded", [img for _, img in sample_images("auto")]
    else:
        ds = ImageFolder(folder)  # raises FileNotFoundError naming the folder when it is missing or empty
        name, imgs = str(folder), [ds[i] for i in range(len(ds))]
    if scale != 1.0:
        imgs = [F.interpolate(im[None], scale_factor=scale, mode="bilinear", antialias=True, align_corners=False,
                              recompute_scale_factor=False)[0].clamp(0, 1) for im in imgs]
    if crop is not None:
        check_crop(imgs, crop, name, scale)
    return name, imgs


def check_crop(images: list[torch.Tensor], crop: int, source: str, scale: float = 1.0) -> None:
    """:class:`JsccInputError` naming the source, the smallest image and the largest usable crop when ``crop`` does
    not fit in every image."""
    small = [im for im in images if min(im.shape[-2:]) < crop]
    if not small:
        return
    h, w = min((tuple(im.shape[-2:]) for im in images), key=min)
    scaled = f" after --scale {scale:g}" if scale != 1.0 else ""
    raise JsccInputError(
        f"--crop {crop} is larger than {len(small)} of the {len(images)} training images in {source} (smallest "
        f"{w}x{h} pixels{scaled}); use --crop <= {min(h, w)} (a multiple of the model's downsampling), "
        "a larger --scale, or bigger photos")


def validation_images(val_data: str | None, count: int) -> tuple[str, list[tuple[str, torch.Tensor]]]:
    """The first ``count`` validation images: Kodak from ``val_data`` / ``$JSCC_DATA``, else the embedded samples."""
    name, imgs = eval_images(val_data)
    if count < 1:
        raise JsccInputError(f"val_images must be >= 1, got {count}")
    return name, imgs[:count]
