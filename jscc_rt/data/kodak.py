"""Evaluation image sets: any image folder (named after the folder), Kodak (recognised by its file names
``kodim01`` .. ``kodim24``), or the embedded samples.

:func:`eval_images` checks every image's header (size limits) before decoding any, so a bad file stops an
evaluation before the first image runs, with an error naming the file.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from jscc_rt._validate import JsccInputError, check_int
from jscc_rt.data.images import (
    DATA_ENV,
    DEFAULT_MAX_PIXELS,
    ImageFolder,
    check_max_pixels,
    image_size,
    list_images,
    load_image,
    resolve_data_dir,
)
from jscc_rt.data.samples import sample_images

KODAK_COUNT = 24
#: File stems of the Kodak set (any image suffix, any letter case).
KODAK_NAMES = tuple(f"kodim{i:02d}" for i in range(1, KODAK_COUNT + 1))


def _kodim_stems(files: list[Path]) -> set[str]:
    return {f.stem.lower() for f in files if f.stem.lower() in KODAK_NAMES}


def is_kodak_like(files: list[Path]) -> bool:
    """A folder is recognisably Kodak when most of its images are named ``kodimNN`` (NN in 01..24)."""
    return 2 * len(_kodim_stems(files)) > len(files)


def is_kodak(files: list[Path]) -> bool:
    """Exactly the 24 Kodak images (by file name), nothing else."""
    return len(files) == KODAK_COUNT and _kodim_stems(files) == set(KODAK_NAMES)


def check_kodak_complete(folder: Path, files: list[Path]) -> None:
    """For a recognisably-Kodak folder, ``FileNotFoundError`` naming the missing ``kodimNN`` files."""
    missing = [n for n in KODAK_NAMES if n not in _kodim_stems(files)]
    if missing:
        raise FileNotFoundError(
            f"Kodak folder {str(folder)!r} lacks {len(missing)} of the 24 Kodak images: "
            f"{', '.join(m + '.png' for m in missing)}; restore them (or evaluate another folder, which is named "
            "after the folder)")


def kodak(data: str | os.PathLike | None = None, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> ImageFolder:
    """Kodak images from ``data`` (the folder or a root holding ``kodak/``) or ``$JSCC_DATA``.

    Raises ``FileNotFoundError`` naming the folder when it is missing or lacks some of ``kodim01`` .. ``kodim24``
    (naming them).
    """
    folder = resolve_data_dir(data, "kodak")
    if folder is None:
        raise FileNotFoundError(f"no Kodak folder given: pass --data DIR or set {DATA_ENV}=../shared/data")
    ds = ImageFolder(folder, max_pixels=max_pixels)
    check_kodak_complete(folder, ds.files)
    return ds


def folder_set_name(folder: Path, files: list[Path]) -> str:
    """``"kodak"`` for exactly the Kodak images, else the folder's name (marked when it is called "kodak" but holds
    other images, so results are never labelled Kodak by accident)."""
    if is_kodak(files):
        return "kodak"
    name = folder.name or folder.resolve().name or str(folder)
    if name.lower() == "kodak":
        name = f"{name} ({len(files)} images, not the Kodak set)"
    return name


def min_image_side(stride: int) -> int:
    """Smallest image side :func:`eval_images` accepts for a model with ``stride``: one latent position per side
    (``stride`` pixels) and the 11-pixel SSIM window (MS-SSIM needs more than 160 pixels and is reported as
    missing below that). The networks themselves run on any size >= 1 pixel, padded to the stride."""
    return max(int(stride), 11)


def check_sizes(items: list[tuple[str, tuple[int, int]]], min_side: int, where: str) -> None:
    """:class:`JsccInputError` naming every image ``(name, (H, W))`` with a side below ``min_side``."""
    small = [(n, hw) for n, hw in items if min(hw) < min_side]
    if small:
        listed = ", ".join(f"{n} ({h}x{w})" for n, (h, w) in small[:6]) + (" ..." if len(small) > 6 else "")
        raise JsccInputError(
            f"{len(small)} image(s) in {where} below {min_side} pixels per side: {listed}; {min_side} is the "
            "minimum for this model (its stride and the 11-pixel SSIM window); remove or upscale them")


def eval_images(
    data: str | os.PathLike | None = None,
    *,
    samples: str = "auto",
    max_images: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    min_side: int = 1,
) -> tuple[str, list[tuple[str, torch.Tensor]]]:
    """Evaluation set ``(set_name, [(name, image (3, H, W))])``: the image folder ``data`` (or a root holding
    ``kodak/``; else ``$JSCC_DATA``), else the embedded samples ``samples``.

    A folder's set is named after the folder, or ``"kodak"`` when it holds exactly ``kodim01`` .. ``kodim24``; a
    folder that is mostly ``kodimNN`` files but lacks some raises ``FileNotFoundError`` naming them. ``max_images``
    keeps the first N (sorted by file name; the set name gets ``[:N]``). Before any image is decoded, every header is
    checked: sides below ``min_side`` and more than ``max_pixels`` pixels raise :class:`JsccInputError` naming the
    files, as do unreadable files and decompression bombs.
    """
    if max_images is not None:
        max_images = check_int(max_images, "max_images", minimum=1, fix="pass how many images to evaluate, e.g. 4")
    max_pixels = check_max_pixels(max_pixels)
    if data is None and not os.environ.get(DATA_ENV):
        items = sample_images(samples)
        name = f"embedded-{samples}"
        if max_images is not None and max_images < len(items):
            items, name = items[:max_images], f"{name}[:{max_images}]"
        check_sizes([(n, tuple(im.shape[-2:])) for n, im in items], min_side, f"the embedded {samples!r} samples")
        return name, items
    folder = resolve_data_dir(data, "kodak")
    if folder is None:  # data="" (an empty --data)
        raise JsccInputError("--data is empty; pass an image folder (or a root holding kodak/), or leave it out for "
                             "the embedded images")
    files = list_images(folder)
    if is_kodak_like(files):
        check_kodak_complete(folder, files)
    name = folder_set_name(folder, files)
    if max_images is not None and max_images < len(files):
        files, name = files[:max_images], f"{name}[:{max_images}]"
    sizes = [(f.name, image_size(f, max_pixels=max_pixels)) for f in files]  # headers only: fail before decoding
    check_sizes(sizes, min_side, f"{str(folder)!r}")
    return name, [(f.stem, load_image(f, max_pixels=max_pixels)) for f in files]
