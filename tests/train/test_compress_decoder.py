"""Fine-tuning a compressed link's base decoder behind its receiver: only the base decoder moves, the trained link
is the receiver's own path (behind the denoiser and as the control), a stopped run resumes bit for bit, the saved
link still pairs with the base model's denoiser, and bad input is refused."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

from jscc_rt import JsccInputError, JSCCConfig, JSCCModel, save_model
from jscc_rt.cli import main
from jscc_rt.diffusion import DenoiserConfig, LatentDenoiser, NoiseSchedule
from jscc_rt.models import load_model
from jscc_rt.models.checkpoint import check_denoiser_pairing, file_sha256
from jscc_rt.train.compress import CompressTrainConfig, train_compress
from jscc_rt.train.compress_decoder import CompressDecoderTuneConfig, tune_compress_decoder


@pytest.fixture(autouse=True)
def _no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)


@pytest.fixture(scope="module")
def link(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(x4 link, its base VAE, a denoiser paired with the base) trained for a few steps on the embedded images."""
    d = tmp_path_factory.mktemp("cd")
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(model="vae", width=16)), d / "vae.pt")
    train_compress(CompressTrainConfig(base=str(d / "vae.pt"), factor=4, width=16, crop=32, batch_size=2, steps=2,
                                       val_every=2, val_images=1, threads=1), d / "x4", show_progress=False)
    den = LatentDenoiser(DenoiserConfig(latent_channels=24, width=16))
    save_model(den, d / "den.pt", meta={"schedule": NoiseSchedule().to_dict(), "jscc_sha256": file_sha256(d / "vae.pt")})
    return d / "x4" / "model.pt", d / "vae.pt", d / "den.pt"


def _cfg(files: tuple[Path, Path, Path], **kw) -> CompressDecoderTuneConfig:
    base = dict(link=str(files[0]), crop=32, batch_size=2, steps=6, lr=1e-3, warmup=2, val_every=3, val_images=1,
                ckpt_every=2, threads=1)
    return CompressDecoderTuneConfig(**{**base, **kw})


def _split(sd: dict) -> tuple[dict, dict]:
    dec = {k: v for k, v in sd.items() if k.startswith("base.decoder.") or k.startswith("decoder.base.")}
    return dec, {k: v for k, v in sd.items() if k not in dec}


@pytest.mark.parametrize("behind", ["denoiser", "control"])
def test_only_the_base_decoder_moves_and_the_link_pairs_with_the_base_denoiser(link, tmp_path: Path,
                                                                               behind: str) -> None:
    kw = dict(denoiser=str(link[2]), start="upsampler") if behind == "denoiser" else {}
    res = tune_compress_decoder(_cfg(link, **kw), tmp_path / "t", show_progress=False)
    assert res["weights"] == "ema" and res["val_snr_db"] == 0.0 and res["val_psnr"] > 3
    old, new = load_model(link[0]), load_model(tmp_path / "t" / "model.pt")
    dec_old, rest_old = _split(old.state_dict())
    dec_new, rest_new = _split(new.state_dict())
    assert dec_old and all(torch.equal(rest_old[k], rest_new[k]) for k in rest_old)  # encoder, down/upsampler
    assert any(not torch.equal(dec_old[k], dec_new[k]) for k in dec_old)  # the base decoder trained
    meta = new.meta
    assert meta["base_sha256"] == file_sha256(link[1]) and meta["link_sha256"] == file_sha256(link[0])
    assert meta["decoder_input"] == (f"{link[2]} x1 from the upsampler upsampler start" if behind == "denoiser"
                                     else "the upsampler's output")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same encoder, so the base model's denoiser pairs without a hash warning
        check_denoiser_pairing(new, tmp_path / "t" / "model.pt", load_model(link[2], expect="DenoiserConfig"), link[2])
    log = [json.loads(s) for s in (tmp_path / "t" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 3, 6]


def test_a_stopped_run_resumes_bit_for_bit(link, tmp_path: Path) -> None:
    cfg = _cfg(link, denoiser=str(link[2]), start="upsampler")
    tune_compress_decoder(cfg, tmp_path / "full", show_progress=False)
    assert tune_compress_decoder(cfg, tmp_path / "half", show_progress=False, stop_after=2) == {"stopped_at": 2}
    tune_compress_decoder(cfg, tmp_path / "half", show_progress=False, resume=True)
    a, b = (load_model(tmp_path / d / "model.pt").state_dict() for d in ("full", "half"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    import signal

    import jscc_rt.train.compress_decoder as tuner

    layout, calls = tuner.to_layout, []

    def signalled(x: torch.Tensor, cl: bool) -> torch.Tensor:  # once per step: SIGTERM during step 3 (no ckpt)
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGTERM)
        return layout(x, cl)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(tuner, "to_layout", signalled)
        assert tune_compress_decoder(cfg, tmp_path / "sig", show_progress=False) == {"stopped_at": 3,
                                                                                    "stopped": "SIGTERM"}
    tune_compress_decoder(cfg, tmp_path / "sig", show_progress=False, resume=True)
    c = load_model(tmp_path / "sig" / "model.pt").state_dict()
    assert all(torch.equal(a[k], c[k]) for k in a)
    with pytest.raises(JsccInputError, match="cannot resume"):
        tune_compress_decoder(_cfg(link, denoiser=str(link[2]), start="upsampler", lr=5e-4), tmp_path / "half",
                              show_progress=False, resume=True)


def test_the_cli_trains_behind_the_calibrated_start(link, tmp_path: Path) -> None:
    from PIL import Image

    from jscc_rt.data import sample_images

    (tmp_path / "photos").mkdir()
    for name, img in sample_images("auto")[:2]:
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).astype("uint8")).save(tmp_path / "photos" / f"{name}.png")
    rc = main(["train", "compress-decoder", "--link", str(link[0]), "--denoiser", str(link[2]), "--start", "calibrated",
               "--calib-data", str(tmp_path / "photos"), "--crop", "32", "--batch-size", "2", "--steps", "2",
               "--val-every", "2", "--val-images", "1", "--threads", "1", "--precision", "fp32",
               "--out", str(tmp_path / "c"), "--no-progress"])
    assert rc == 0
    meta = load_model(tmp_path / "c" / "model.pt").meta
    assert [r["snr_db"] for r in meta["upsampler_calibration"]] == [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0]
    assert meta["decoder_snr_db"] is None and json.loads((tmp_path / "c" / "tune_config.json").read_text())["steps"] == 2


def test_bad_input_is_refused(link, tmp_path: Path) -> None:
    with pytest.raises(JsccInputError, match="not a compressed link"):
        tune_compress_decoder(_cfg(link, link=str(link[1])), tmp_path / "x", show_progress=False)
    with pytest.raises(JsccInputError, match="pass --calib-data"):
        _cfg(link, denoiser=str(link[2]), start="calibrated")
    with pytest.raises(JsccInputError, match="start must be one of"):
        _cfg(link, start="guess")
    with pytest.raises(JsccInputError, match="ema must lie in"):
        _cfg(link, ema=1.0)
    wrong = tmp_path / "den8.pt"
    save_model(LatentDenoiser(DenoiserConfig(latent_channels=8, width=16)), wrong,
               meta={"schedule": NoiseSchedule().to_dict()})
    with pytest.raises(JsccInputError, match="8-channel latents"):
        tune_compress_decoder(_cfg(link, denoiser=str(wrong), start="upsampler"), tmp_path / "y", show_progress=False)
