"""Decoder fine-tuning behind a diffusion receiver (``train --init M --denoiser D``): the encoder stays bit-identical,
the decoder changes, the checkpoint records the encoder it keeps (so the denoiser pairs with it without a warning),
and the run validates through the same receiver."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

from jscc_rt import JsccInputError, JSCCConfig, JSCCModel, save_model
from jscc_rt.cli import main
from jscc_rt.models import load_model
from jscc_rt.models.checkpoint import check_denoiser_pairing
from jscc_rt.train.config import TrainConfig
from jscc_rt.train.diffusion import DiffusionTrainConfig, train_diffusion


@pytest.fixture(autouse=True)
def _no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)


def _model_and_denoiser(tmp_path: Path, cd_steps: int) -> None:
    """A small unrolled model ``j.pt`` and its denoiser (and student, with ``cd_steps``) in ``d/``."""
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig("unrolled", latent_channels=24, width=16)), tmp_path / "j.pt")
    train_diffusion(DiffusionTrainConfig(jscc=str(tmp_path / "j.pt"), crop=64, n_latents=16, latent_crop=8,
                                         batch_size=4, steps=3, cd_steps=cd_steps, width=16, threads=1), tmp_path / "d",
                    show_progress=False)


def test_finetune_keeps_the_encoder_and_pairs_with_the_denoiser(tmp_path: Path) -> None:
    _model_and_denoiser(tmp_path, cd_steps=2)
    for den in ("denoiser.pt", "consistency.pt"):
        out = tmp_path / f"ft-{den[:-3]}"
        assert main(["train", "--model", "unrolled", "--width", "16", "--init", str(tmp_path / "j.pt"),
                     "--denoiser", str(tmp_path / "d" / den), "--denoise-steps", "2", "--crop", "32",
                     "--batch-size", "2", "--steps", "3", "--val-every", "3", "--val-images", "1", "--threads", "1",
                     "--precision", "fp32", "--out", str(out), "--no-progress"]) == 0
        src, ft = load_model(tmp_path / "j.pt"), load_model(out / "model.pt")
        a, b = src.state_dict(), ft.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("encoder."))
        assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("decoder."))
        assert "x2" in ft.meta["decoder_input"] and len(ft.meta["encoder_of_sha256"]) == 64
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the fine-tuned checkpoint pairs with the denoiser without a warning
            check_denoiser_pairing(ft, out / "model.pt", load_model(tmp_path / "d" / den, expect="DenoiserConfig"),
                                   tmp_path / "d" / den)
        assert "val_psnr_10dB" in json.loads((out / "log.jsonl").read_text().splitlines()[-1])


def test_finetune_needs_an_init_model() -> None:
    with pytest.raises(JsccInputError, match="--denoiser fine-tunes the decoder of an --init model"):
        TrainConfig(denoiser="d.pt")


def test_finetune_conditioned_on_the_effective_snr_is_recorded_and_checked(tmp_path: Path) -> None:
    from jscc_rt import Link
    from jscc_rt.diffusion import DiffusionReceiver, NoiseSchedule, ReceiverConfig

    _model_and_denoiser(tmp_path, cd_steps=0)
    out = tmp_path / "ft"
    assert main(["train", "--model", "unrolled", "--width", "16", "--init", str(tmp_path / "j.pt"),
                 "--denoiser", str(tmp_path / "d" / "denoiser.pt"), "--decoder-snr", "effective", "--crop", "32",
                 "--batch-size", "2", "--steps", "2", "--val-every", "2", "--val-images", "1", "--threads", "1",
                 "--precision", "fp32", "--out", str(out), "--no-progress"]) == 0
    ft = load_model(out / "model.pt")
    assert ft.meta["decoder_snr_db"] is None and ft.meta["train_config"]["decoder_snr_db"] is None
    assert "the effective SNR" in ft.meta["decoder_input"]
    den = load_model(tmp_path / "d" / "denoiser.pt", expect="DenoiserConfig")
    rx = DiffusionReceiver(den, NoiseSchedule(**den.meta["schedule"]), ReceiverConfig(steps=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Link(ft, receiver=rx, decoder_snr_db=None)  # as it was trained: silent
        Link(ft)  # no receiver: the decoder alone, conditioning as trained
    with pytest.warns(UserWarning, match=r"conditioned on the effective SNR.*conditioned on 20 dB here.*--decoder-snr "
                                         r"effective"):
        Link(ft, receiver=rx, decoder_snr_db=20.0)
    with pytest.raises(JsccInputError, match="decoder_snr_db 99"):
        TrainConfig(init="j.pt", denoiser="d.pt", decoder_snr_db=99.0)


def test_freeze_encoder_is_the_decoder_only_control(tmp_path: Path) -> None:
    """``--freeze-encoder`` (no denoiser): encoder bit-identical to the init, decoder changed, the kept encoder's hash
    and the decoder's input recorded; the control trains the same parameters as a ``--denoiser`` run."""
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig("unrolled", latent_channels=24, width=16)), tmp_path / "j.pt")
    out = tmp_path / "ctl"
    assert main(["train", "--model", "unrolled", "--width", "16", "--init", str(tmp_path / "j.pt"), "--freeze-encoder",
                 "--crop", "32", "--batch-size", "2", "--steps", "3", "--val-every", "3", "--val-images", "1",
                 "--threads", "1", "--precision", "fp32", "--out", str(out), "--no-progress"]) == 0
    src, ft = load_model(tmp_path / "j.pt"), load_model(out / "model.pt")
    a, b = src.state_dict(), ft.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("encoder."))
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("decoder."))
    assert ft.meta["decoder_input"] == "the received latent (encoder frozen)"
    assert len(ft.meta["encoder_of_sha256"]) == 64 and ft.meta["train_config"]["freeze_encoder"] is True


@pytest.mark.parametrize("kw, bad", [({}, "init=None"), ({"init": "j.pt", "min_ratio": "1/64"}, "min_ratio='1/64'"),
                                     ({"init": "j.pt", "denoiser": "d.pt"}, "denoiser='d.pt'")])
def test_freeze_encoder_needs_a_fixed_rate_init_model_and_no_denoiser(kw: dict, bad: str) -> None:
    with pytest.raises(JsccInputError, match=f"--freeze-encoder .*{bad}"):
        TrainConfig(freeze_encoder=True, **kw)


def test_configs_from_before_freeze_encoder_resume_unchanged() -> None:
    """A run started before the field (its saved config lacks it) resumes: the default must read as missing."""
    from jscc_rt.train.state import config_diff

    old = TrainConfig().to_dict()
    del old["freeze_encoder"]
    assert config_diff(old, TrainConfig().to_dict()) == []


def test_init_seeds_a_wider_and_deeper_fixed_rate_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The fixed-rate comparators of the rate-adaptive model (``make train-fixed-comparator``): ``--init`` a 1/16 model
    with no synthesis blocks into a 1/8 one with ``--decoder-blocks 2``: the source's tensors fill the leading slices
    (first 24 of 48 latent channels) and the added blocks start as the identity (zero second conv). With lr 1e-12 the
    one training step leaves them where the seeding put them (atol 1e-9)."""
    torch.manual_seed(0)
    src = JSCCModel(JSCCConfig("unrolled", latent_channels=24, width=16))
    save_model(src, tmp_path / "j.pt")
    out = tmp_path / "wide"
    assert main(["train", "--model", "unrolled", "--width", "16", "--ratio", "1/8", "--decoder-blocks", "2",
                 "--init", str(tmp_path / "j.pt"), "--lr", "1e-12", "--lr-min", "0", "--warmup", "1", "--crop", "32",
                 "--batch-size", "2", "--steps", "1", "--val-every", "1", "--val-images", "1", "--threads", "1",
                 "--precision", "fp32", "--out", str(out), "--no-progress"]) == 0
    dst = load_model(out / "model.pt")
    assert dst.config.latent_channels == 48 and dst.config.decoder_blocks == 2
    d = dst.state_dict()
    for name, t in src.state_dict().items():
        lead = d[name][tuple(slice(0, n) for n in t.shape)]
        torch.testing.assert_close(lead, t, rtol=0, atol=1e-9, msg=name)
    added = [k for k in d if k.startswith("decoder.blocks.")]
    assert added and all(d[k].abs().max() < 1e-9 for k in added if ".c2." in k)
    assert main(["train", "--model", "unrolled", "--width", "32", "--ratio", "1/8", "--init", str(tmp_path / "j.pt"),
                 "--steps", "1", "--crop", "32", "--batch-size", "2", "--threads", "1", "--out", str(tmp_path / "x"),
                 "--no-progress"]) == 2  # another width: refused, naming both configs
    err = capsys.readouterr().err
    assert "width=16" in err and "width=32" in err and "differing in latent channels" in err
