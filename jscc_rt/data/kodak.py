"""The Kodak evaluation set (24 images, 768x512 / 512x768) from a directory, and the evaluation image chooser."""
from __future__ import annotations

import os

import torch

from jscc_rt.data.images import DATA_ENV, ImageFolder, resolve_data_dir
from jscc_rt.data.samples import sample_images

KODAK_COUNT = 24


def kodak(data: str | os.PathLike | None = None, *, expect: int = KODAK_COUNT) -> ImageFolder:
    """Kodak images from ``data`` (the folder or a root holding ``kodak/``) or ``$JSCC_DATA``.

    Raises ``FileNotFoundError`` naming the folder when it is missing or holds fewer than ``expect`` images.
    """
    folder = resolve_data_dir(data, "kodak")
    if folder is None:
        raise FileNotFoundError(f"no Kodak folder given: pass --data DIR or set {DATA_ENV}=../shared/data")
    ds = ImageFolder(folder)
    if len(ds) < expect:
        raise FileNotFoundError(
            f"Kodak folder {str(folder)!r} holds {len(ds)} images, expected {expect}; restore the missing kodimNN.png"
        )
    return ds


def eval_images(data: str | os.PathLike | None = None, *, samples: str = "auto") -> tuple[str, list[tuple[str, torch.Tensor]]]:
    """Evaluation set: Kodak when ``data``/``$JSCC_DATA`` is set, else the embedded samples.

    Returns ``(set_name, [(name, image)])``.
    """
    if data is None and not os.environ.get(DATA_ENV):
        return f"embedded-{samples}", sample_images(samples)
    ds = kodak(data)
    return "kodak", [(n, ds[i]) for i, n in enumerate(ds.names())]
