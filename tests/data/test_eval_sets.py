"""eval_images on any folder: set named after the folder, Kodak by file names, --max-images, size checks first."""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jscc_rt import JsccInputError
from jscc_rt.data import KODAK_NAMES, eval_images, min_image_side
from jscc_rt.data import images as images_mod


def _write(folder: Path, names: list[str], hw: tuple[int, int] = (16, 24)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        Image.fromarray(np.full((*hw, 3), i * 9 % 256, np.uint8)).save(folder / n)


def test_any_folder_is_named_after_it(tmp_path: Path) -> None:
    _write(tmp_path / "holiday", [f"p{i:02d}.png" for i in range(22)])  # 22 images: no Kodak count error
    name, imgs = eval_images(tmp_path / "holiday")
    assert name == "holiday" and len(imgs) == 22 and imgs[0][0] == "p00"
    _write(tmp_path / "other24", [f"x{i:02d}.jpg" for i in range(24)])  # 24 non-Kodak images are not "kodak"
    assert eval_images(tmp_path / "other24")[0] == "other24"


def test_kodak_recognised_by_file_names(tmp_path: Path) -> None:
    _write(tmp_path / "k", [f"{n}.png" for n in KODAK_NAMES])
    name, imgs = eval_images(tmp_path / "k")
    assert name == "kodak" and len(imgs) == 24
    name, imgs = eval_images(tmp_path / "k", max_images=3)
    assert name == "kodak[:3]" and [n for n, _ in imgs] == ["kodim01", "kodim02", "kodim03"]
    (tmp_path / "k" / "kodim07.png").unlink()
    (tmp_path / "k" / "kodim19.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks 2 of the 24 Kodak images: kodim07.png, kodim19.png"):
        eval_images(tmp_path / "k")


def test_folder_called_kodak_with_other_images_is_not_labelled_kodak(tmp_path: Path) -> None:
    _write(tmp_path / "kodak", [f"img{i}.png" for i in range(3)])
    name, _ = eval_images(tmp_path / "kodak")
    assert name.startswith("kodak (") and "not the Kodak set" in name


def test_max_images_validated(tmp_path: Path) -> None:
    _write(tmp_path / "f", ["a.png"])
    for bad in (0, -2, 1.5, "3"):
        with pytest.raises(JsccInputError, match="max_images"):
            eval_images(tmp_path / "f", max_images=bad)  # type: ignore[arg-type]


def test_small_image_refused_before_any_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "f", ["a.png", "b.png"], hw=(64, 64))
    _write(tmp_path / "f", ["zz_tiny.png"], hw=(9, 40))
    decoded: list[str] = []
    real = images_mod.load_image
    kodak_mod = importlib.import_module("jscc_rt.data.kodak")  # the package attribute `kodak` is the function
    monkeypatch.setattr(kodak_mod, "load_image", lambda p, **kw: decoded.append(str(p)) or real(p, **kw))
    with pytest.raises(JsccInputError, match=r"below 11 pixels per side: zz_tiny.png \(9x40\)"):
        eval_images(tmp_path / "f", min_side=min_image_side(8))
    assert decoded == []  # headers only: nothing ran before the error
    assert min_image_side(8) == 11 and min_image_side(16) == 16


def test_huge_and_bomb_refused_in_a_folder(tmp_path: Path) -> None:
    _write(tmp_path / "f", ["a.png"], hw=(100, 100))
    with pytest.raises(JsccInputError, match=r"a.png.*above the limit of 5000 pixels"):
        eval_images(tmp_path / "f", max_pixels=5000)


def test_embedded_samples_and_truncation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    name, imgs = eval_images(None, samples="synthetic", max_images=2)
    assert name == "embedded-synthetic[:2]" and len(imgs) == 2
