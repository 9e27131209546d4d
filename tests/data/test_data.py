"""Data loading: folders, Kodak, crops, padding, embedded samples, bad folders."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.data import (
    ImageFolder,
    RandomCropSampler,
    crop_back,
    eval_images,
    kodak,
    load_image,
    pad_to_multiple,
    sample_images,
    save_image,
    synthetic_image,
)

KODAK = Path(__file__).resolve().parents[3] / "shared" / "data" / "kodak"


def test_save_load_roundtrip_uint8_exact(tmp_path: Path) -> None:
    img = synthetic_image(3)
    q = torch.round(img * 255) / 255
    save_image(q, tmp_path / "a.png")
    back = load_image(tmp_path / "a.png")
    assert back.dtype == torch.float32 and back.shape == img.shape
    assert torch.allclose(back, q, atol=1e-6)


def test_save_refuses_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(JsccInputError, match=r"\[0, 1\]"):
        save_image(torch.full((3, 4, 4), 1.5), tmp_path / "x.png")


def test_empty_missing_and_corrupt_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="holds no images"):
        ImageFolder(tmp_path)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(JsccInputError, match="cannot read image"):
        ImageFolder(tmp_path)[0]


def test_kodak_errors_name_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="JSCC_DATA"):
        kodak(None)
    save_image(synthetic_image(0), tmp_path / "kodim01.png")
    with pytest.raises(FileNotFoundError, match=r"lacks 23 of the 24 Kodak images: kodim02.png, .*kodim24.png"):
        kodak(tmp_path)


@pytest.mark.data
@pytest.mark.skipif(not KODAK.is_dir(), reason="../shared/data/kodak not present")
def test_real_kodak_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JSCC_DATA", str(KODAK.parent))
    ds = kodak()
    assert len(ds) == 24
    assert {tuple(ds[i].shape) for i in (0, 3)} <= {(3, 512, 768), (3, 768, 512)}
    name, imgs = eval_images(None)
    assert name == "kodak" and len(imgs) == 24


def test_embedded_samples_without_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    name, imgs = eval_images(None, samples="synthetic")
    assert name == "embedded-synthetic" and len(imgs) == 4
    for _, im in imgs:
        assert im.shape == (3, 192, 256) and 0 <= float(im.min()) and float(im.max()) <= 1
        assert float(im.std()) > 0.1  # real content, not a flat image
    assert torch.equal(synthetic_image(1), synthetic_image(1))
    nat = sample_images("natural")
    assert [n for n, _ in nat] == ["astronaut", "coffee", "chelsea", "rocket"]
    with pytest.raises(JsccInputError, match="kind"):
        sample_images("cats")


def test_random_crops_deterministic_and_in_bounds() -> None:
    imgs = [synthetic_image(i) for i in range(3)]
    a = RandomCropSampler(imgs, 64, 5, seed=7).sample()
    b = RandomCropSampler(imgs, 64, 5, seed=7).sample()
    assert a.shape == (5, 3, 64, 64) and torch.equal(a, b)
    with pytest.raises(JsccInputError, match="smaller than the crop size 256"):
        RandomCropSampler(imgs, 256, 2)


@pytest.mark.parametrize(("h", "w"), [(512, 768), (300, 451), (17, 5)])
def test_pad_and_crop_back(h: int, w: int) -> None:
    x = torch.rand(2, 3, h, w)
    p, size = pad_to_multiple(x, 16)
    assert p.shape[-2] % 16 == 0 and p.shape[-1] % 16 == 0
    assert torch.equal(p[..., :h, :w], x)
    assert torch.equal(crop_back(p, size), x)
