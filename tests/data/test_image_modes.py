"""load_image: grayscale, palette, RGBA, 16-bit, EXIF orientation, size limits and decompression bombs."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from jscc_rt import JsccInputError
from jscc_rt.data import DEFAULT_MAX_PIXELS, ImageFolder, image_size, load_image


def _png16(path: Path, arr: np.ndarray) -> None:
    """Write a 16-bit RGB / RGBA PNG by hand (Pillow cannot write 48/64-bit PNGs)."""
    h, w, c = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _png_header_only(path: Path, w: int, h: int) -> None:
    """A tiny PNG whose header declares ``w x h`` 8-bit RGB pixels (a decompression bomb / huge image)."""
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))


def test_grayscale_gives_three_equal_channels(tmp_path: Path) -> None:
    g = np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) % 256
    Image.fromarray(g.astype(np.uint8), mode="L").save(tmp_path / "g.png")
    t = load_image(tmp_path / "g.png")
    assert t.shape == (3, 48, 64) and t.dtype == torch.float32
    assert torch.equal(t[0], t[1]) and torch.equal(t[1], t[2])
    torch.testing.assert_close(t[0], torch.from_numpy(g.astype(np.float32) / 255))


def test_16bit_grayscale_is_scaled_by_65535(tmp_path: Path) -> None:
    a = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    t = load_image(tmp_path / "g16.png")
    assert float((t == 1.0).float().mean()) < 0.01  # was 99.8 % saturated before
    torch.testing.assert_close(t[0], torch.from_numpy(a.astype(np.float32) / 65535), atol=1e-6, rtol=0)


def test_16bit_rgb_png_keeps_its_scale(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 65536, (8, 10, 3)).astype(np.uint16)
    _png16(tmp_path / "rgb48.png", rgb)
    t = load_image(tmp_path / "rgb48.png")
    torch.testing.assert_close(t, torch.from_numpy(rgb.astype(np.float32) / 65535).permute(2, 0, 1), atol=1 / 255, rtol=0)


def test_palette_image(tmp_path: Path) -> None:
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, 4:] = (10, 200, 30)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(tmp_path / "p.png")
    t = load_image(tmp_path / "p.png")
    torch.testing.assert_close(t, torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1))


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere, ...
    rgba[:2, :, 3] = 255  # opaque in the top half, transparent below, half-transparent in one pixel
    rgba[3, 5, 3] = 128
    Image.fromarray(rgba).save(tmp_path / "a.png")
    t = load_image(tmp_path / "a.png")
    assert t[:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert t[:, 2, 0].tolist() == [1.0, 1.0, 1.0]
    torch.testing.assert_close(t[:, 3, 5], torch.tensor([1.0, 1 - 128 / 255, 1 - 128 / 255]))
    Image.fromarray(rgba[..., [0, 3]]).save(tmp_path / "la.png")  # grayscale + alpha: same rule
    assert load_image(tmp_path / "la.png")[:, 2, 0].tolist() == [1.0, 1.0, 1.0]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = np.zeros((10, 20, 3), np.uint8)
    img[0, 0] = 255  # a white top-left pixel
    im = Image.fromarray(img)
    exif = im.getexif()
    exif[0x0112] = 6  # stored rotated: display needs 90 degrees clockwise
    im.save(tmp_path / "r.png", exif=exif.tobytes())
    t = load_image(tmp_path / "r.png")
    assert t.shape == (3, 20, 10) and image_size(tmp_path / "r.png") == (20, 10)
    assert float(t[:, 0, -1].mean()) == 1.0  # top-left moved to top-right


def test_huge_image_refused_with_the_limit_named(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(JsccInputError, match=r"big.png.*100x100 = 10000 pixels, above the limit of 5000"):
        load_image(tmp_path / "big.png", max_pixels=5000)
    _png_header_only(tmp_path / "huge.png", 5000, 5000)  # only the header is read: no 75 MB decode
    with pytest.raises(JsccInputError, match=rf"huge.png.*above the limit of {DEFAULT_MAX_PIXELS}.*--max-pixels"):
        load_image(tmp_path / "huge.png")
    with pytest.raises(JsccInputError, match="max_pixels must be >= 1"):
        ImageFolder(tmp_path, max_pixels=0)


def test_decompression_bomb_names_the_file(tmp_path: Path) -> None:
    _png_header_only(tmp_path / "bomb.png", 20000, 20000)  # 400 M pixels: above 2x Pillow's limit
    with pytest.raises(JsccInputError, match=r"bomb.png.*decompression bomb"):
        load_image(tmp_path / "bomb.png", max_pixels=None)
    with pytest.raises(JsccInputError, match=r"bomb.png.*decompression bomb"):
        image_size(tmp_path / "bomb.png", max_pixels=None)


def test_decompression_bomb_warning_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "w.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6000)  # 10000 pixels: Pillow warns (between 1x and 2x)
    with pytest.raises(JsccInputError, match=r"w.png.*decompression bomb"):
        load_image(tmp_path / "w.png", max_pixels=5000)
    assert load_image(tmp_path / "w.png", max_pixels=20000).shape == (3, 100, 100)  # our limit allows more


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "t.jpg")
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(JsccInputError, match="cannot read image .*t.jpg"):
        load_image(tmp_path / "t.jpg")
