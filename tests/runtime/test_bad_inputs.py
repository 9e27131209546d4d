"""Every bad input to Receiver, Link and load_model gives a JsccInputError (or warning) naming the value and the fix."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

from jscc_rt import ChannelConfig, JSCCConfig, JSCCModel, JsccInputError, Link, Receiver, load_model, save_model
from jscc_rt._validate import MAX_SYMBOL_POWER_RATIO
from jscc_rt.channel import power_normalize

K = 24 * 4 * 4 // 2  # symbols for a 32x32 image (24 latent channels, stride 8)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(1)
    return save_model(JSCCModel(JSCCConfig(width=16)), tmp_path_factory.mktemp("bad") / "jscc.pt")


@pytest.fixture(scope="module")
def rx(ckpt: Path) -> Receiver:
    return Receiver.from_checkpoints(str(ckpt))


@pytest.fixture()
def sym() -> torch.Tensor:
    return power_normalize(torch.randn(2, K, 2, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("v", [-10.0, float("nan"), 1.0, float("inf")])
def test_receiver_csi_err_var(rx: Receiver, sym: torch.Tensor, v: float) -> None:
    with pytest.raises(JsccInputError, match=r"csi_err_var must lie in \[0, 1\).*got " + str(v)):
        rx(sym, 5.0, (32, 32), h_hat=torch.ones(2, 1, 2), csi_err_var=v)


@pytest.mark.parametrize(("bl", "match"), [(0, "block_len must be >= 1, got 0"), (-1, "block_len must be >= 1, got -1"),
                                           (1.5, "block_len must be an integer, got float")])
def test_receiver_bad_block_len(rx: Receiver, sym: torch.Tensor, bl: object, match: str) -> None:
    with pytest.raises(JsccInputError, match=match):
        rx(sym, 5.0, (32, 32), h_hat=torch.ones(2, 1, 2), block_len=bl)


def test_receiver_block_len_beyond_the_frame_is_one_block(rx: Receiver, sym: torch.Tensor) -> None:
    h = torch.randn(2, 1, 2, generator=torch.Generator().manual_seed(3))
    big = rx(sym, 10.0, (32, 32), h_hat=h, block_len=10**9)  # no 16 GB expansion
    torch.testing.assert_close(big, rx(sym, 10.0, (32, 32), h_hat=h, block_len=None))


@pytest.mark.parametrize(("size", "match"), [
    ((-64, -96), r"image_size height must be >= 1, got -64"),
    ((64.0, 96.0), r"image_size height must be an int, got float 64.0"),
    ((32, 32, 3), r"image_size must be a pair \(H, W\) of ints, got \(32, 32, 3\)"),
    (None, r"image_size must be a pair \(H, W\) of ints, got None"),
    ((0, 32), r"image_size height must be >= 1, got 0"),
    ((32, 30), r"multiples of the stride 8"),
])
def test_receiver_bad_image_size(rx: Receiver, sym: torch.Tensor, size: object, match: str) -> None:
    with pytest.raises(JsccInputError, match=match):
        rx(sym, 5.0, size)  # type: ignore[arg-type]


def test_receiver_zero_sized_symbols(rx: Receiver) -> None:
    with pytest.raises(JsccInputError, match="at least one sample and one symbol"):
        rx(torch.zeros(0, K, 2), 5.0, (32, 32))


@pytest.mark.parametrize("snr", ["10", None])
def test_receiver_snr_type(rx: Receiver, sym: torch.Tensor, snr: object) -> None:
    with pytest.raises(JsccInputError, match=r"snr_db must be a number in dB.*got (str '10'|NoneType None)"):
        rx(sym, snr, (32, 32))


def test_receiver_h_hat_batch(rx: Receiver, sym: torch.Tensor) -> None:
    with pytest.raises(JsccInputError, match=r"h_hat must have shape \(2, 1, 2\) .* got \(3, 1, 2\)"):
        rx(sym, 5.0, (32, 32), h_hat=torch.ones(3, 1, 2))
    with pytest.raises(JsccInputError, match=r"h_hat must have shape \(2, 3, 2\) .* got \(2, 1, 2\)"):
        rx(sym, 5.0, (32, 32), h_hat=torch.ones(2, 1, 2), block_len=64)


@pytest.mark.parametrize("scale", [1e19, 1e6, 3e4])
def test_receiver_rejects_absurd_symbol_power(rx: Receiver, sym: torch.Tensor, scale: float) -> None:
    assert scale**2 > MAX_SYMBOL_POWER_RATIO
    with pytest.raises(JsccInputError, match=r"symbols of samples \[0, 1\] have average power .* more than 1e\+08"):
        rx(sym * scale, 5.0, (32, 32))


def test_receiver_rejects_near_zero_h_hat(rx: Receiver, sym: torch.Tensor) -> None:
    with pytest.raises(JsccInputError, match=r"equalized symbols .* h_hat is nearly zero"):
        rx(sym, 5.0, (32, 32), h_hat=torch.full((2, 1, 2), 1e-6))


def test_receiver_accepts_noisy_symbols_at_low_snr(rx: Receiver, sym: torch.Tensor) -> None:
    noisy = sym + 10.0 * torch.randn(sym.shape)  # -20 dB: power about 101
    assert torch.isfinite(rx(noisy, -20.0, (32, 32))).all()


def test_from_checkpoints_steps_and_denoiser(ckpt: Path) -> None:
    with pytest.raises(JsccInputError, match="steps must be >= 0, got -1"):
        Receiver.from_checkpoints(str(ckpt), steps=-1)
    with pytest.raises(JsccInputError, match="steps must be an integer, got float"):
        Receiver.from_checkpoints(str(ckpt), steps=2.0)  # type: ignore[arg-type]
    with pytest.raises(JsccInputError, match="steps=2 needs a denoiser checkpoint"):
        Receiver.from_checkpoints(str(ckpt), steps=2)
    with pytest.raises(JsccInputError, match="steps=5000 exceeds the schedule's 1000 steps"):
        Receiver.from_checkpoints("vae-1_16", "denoiser-vae-1_16", steps=5000)
    with pytest.raises(JsccInputError, match="decoder_snr_db must lie"):
        Receiver.from_checkpoints(str(ckpt), decoder_snr_db=99.0)


def test_from_checkpoints_denoiser_mismatch() -> None:
    with pytest.raises(JsccInputError, match=r"denoiser-vae-1_16.pt' works on 24-channel latents but the JSCC model "
                                             r".*deepjscc-1_6.pt' produces 64-channel"):
        Receiver.from_checkpoints("deepjscc-1_6", "denoiser-vae-1_16", steps=2)
    with pytest.warns(UserWarning, match=r"another JSCC checkpoint \(sha256 721a763c[0-9a-f]{56}\) than "
                                         r".*deepjscc-1_16.pt' \(sha256 61bf7535[0-9a-f]{56}\)"):
        Receiver.from_checkpoints("deepjscc-1_16", "denoiser-vae-1_16", steps=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Receiver.from_checkpoints("vae-1_16", "denoiser-vae-1_16", steps=1)  # its own JSCC model: silent


def test_link_inputs(ckpt: Path) -> None:
    m = load_model(ckpt)
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(JsccInputError, match="snr_db must be a number"):
        Link(m)(x, "10")  # type: ignore[arg-type]
    with pytest.raises(JsccInputError, match="snr_db must be a number"):
        Link(m)(x, None)  # type: ignore[arg-type]
    with pytest.raises(JsccInputError, match=r"at least 1x1 pixels, got shape \(1, 3, 0, 0\)"):
        Link(m)(torch.rand(1, 3, 0, 0), 5.0)
    with pytest.raises(JsccInputError, match="channel must be a ChannelConfig"):
        Link(m, "rayleigh")  # type: ignore[arg-type]
    with pytest.raises(JsccInputError, match=r"decoder_snr_db contains non-finite values: \[nan\]; pass finite"):
        Link(m, decoder_snr_db=float("nan"))
    with pytest.raises(JsccInputError, match=r"csi_err_var must lie in \[0, 1\)"):
        Link(m, ChannelConfig("rayleigh", csi_err_var=-10))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        out = Link(m, ChannelConfig("rayleigh", block_len=10**9))(x, 5.0, generator=g)  # bounded by k = 192
    assert out.h is not None and out.h.shape == (1, 1, 2)


def test_sidecar_edits_warn_but_the_pt_wins(ckpt: Path, tmp_path: Path) -> None:
    p = save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "m.pt")
    side = p.with_suffix(".json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(p)  # untouched sidecar: silent
        side.write_text("not json")
        load_model(p)  # non-JSON: ignored (documented)
        side.unlink()
        load_model(p)  # missing: ignored
    d = json.loads(ckpt.with_suffix(".json").read_text())
    d["config"]["width"] = 64
    side.write_text(json.dumps(d))
    with pytest.warns(UserWarning, match=r"sidecar .*m.json' disagrees .*width: sidecar 64 vs .pt 16.*the .pt wins"):
        m = load_model(p)
    assert m.config.width == 16
