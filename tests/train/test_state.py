"""Train state safety and robustness: no code runs from a crafted state, atomic writes, clear errors, EMA, bf16."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.cli import main
from jscc_rt.models import load_model
from jscc_rt.train import TrainConfig, train
from jscc_rt.train import state as state_mod
from jscc_rt.train.precision import cpu_bf16_supported

SMALL = dict(width=16, crop=32, batch_size=4, val_images=1, lr=2e-3, warmup=5, threads=1)


@pytest.fixture(autouse=True)
def _no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind", ["raw-pickle-2", "raw-pickle-4", "torch-zip"])
def test_resume_refuses_a_malicious_state_and_runs_nothing(tmp_path: Path, kind: str, write_evil_pickle) -> None:
    marker = tmp_path / "pwned"
    probe = tmp_path / "probe.pt"
    write_evil_pickle(probe, marker, kind)
    try:  # control: the old loader runs the payload (a raw pickle then fails torch's magic-number check)
        torch.load(probe, weights_only=False)
    except RuntimeError:
        pass
    assert marker.exists()
    marker.unlink()
    run = tmp_path / "run"
    run.mkdir()
    write_evil_pickle(run / "train_state.pt", marker, kind)
    match = r"refusing to resume from .*train_state\.pt.*nothing in it was run" if kind != "raw-pickle-4" else \
        r"cannot resume from .*train_state\.pt.*it was not unpickled"  # protocol 4 is refused at its first opcode
    with pytest.raises(JsccInputError, match=match):
        train(TrainConfig(steps=2, **SMALL), run, resume=True, show_progress=False)
    assert not marker.exists()
    assert sorted(p.name for p in run.iterdir()) == ["train_state.pt"]  # nothing written beside it


def test_truncated_corrupt_and_old_states_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = TrainConfig(steps=2, val_every=2, ckpt_every=2, **SMALL)
    train(cfg, tmp_path, show_progress=False)
    sp = tmp_path / "train_state.pt"
    good = sp.read_bytes()
    sp.write_bytes(good[: len(good) // 2])
    with pytest.raises(JsccInputError, match=r"train_state\.pt'?: the file is truncated, corrupt"):
        train(cfg, tmp_path, resume=True, show_progress=False)
    sp.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(JsccInputError, match="truncated, corrupt"):
        train(cfg, tmp_path, resume=True, show_progress=False)
    st = torch.load(io.BytesIO(good), weights_only=True)  # the pre-bf16 layout: no format, no RNG/EMA state
    torch.save({"config": st["config"], "model": st["model"], "opt": st["opt"], "sampler": {"gen": st["rng"]["sampler"]},
                "gen": st["rng"]["snr"], "step": 2, "elapsed_s": 1.0}, sp)
    args = ["train", "--width", "16", "--crop", "32", "--batch-size", "4", "--steps", "2", "--val-images", "1",
            "--threads", "1", "--out", str(tmp_path), "--resume", "--no-progress"]
    assert main(args) == 2
    assert "written by an older jscc-rt" in capsys.readouterr().err


def test_a_run_killed_while_writing_its_state_still_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = TrainConfig(steps=6, val_every=6, ckpt_every=2, **SMALL)
    train(cfg, tmp_path / "a", show_progress=False)
    real, calls = state_mod._serialize, []

    def dies_on_second_write(obj, f) -> None:
        calls.append(1)
        if len(calls) == 2:  # step 4: half a file, then the process "dies"
            f.write(b"PK\x03\x04 partial")
            raise KeyboardInterrupt
        real(obj, f)

    monkeypatch.setattr(state_mod, "_serialize", dies_on_second_write)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "b", show_progress=False)
    monkeypatch.setattr(state_mod, "_serialize", real)
    assert torch.load(tmp_path / "b" / "train_state.pt", weights_only=True)["step"] == 2
    train(cfg, tmp_path / "b", resume=True, show_progress=False)
    a, b = (load_model(tmp_path / r / "model.pt").state_dict() for r in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ema_weights_are_saved_and_raw_weights_kept_in_the_state(tmp_path: Path) -> None:
    train(TrainConfig(steps=20, val_every=20, ckpt_every=20, ema=0.9, **SMALL), tmp_path, show_progress=False)
    st = torch.load(tmp_path / "train_state.pt", weights_only=True)
    saved = load_model(tmp_path / "model.pt").state_dict()
    assert st["ema"]["updates"] == 20
    assert all(torch.equal(saved[k], st["ema"]["shadow"][k]) for k in saved)
    assert any(not torch.equal(saved[k], st["model"][k]) for k in saved)
    assert json.loads((tmp_path / "model.json").read_text())["meta"]["weights"] == "ema"


def test_data_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no images"):
        train(TrainConfig(steps=1, data=str(tmp_path / "empty"), **SMALL), tmp_path / "r1", show_progress=False)
    with pytest.raises(JsccInputError, match=r"--crop 1024 is larger than 4 of the 4 training images in embedded"):
        train(TrainConfig(steps=1, **{**SMALL, "crop": 1024}), tmp_path / "r2", show_progress=False)


def test_precision_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from jscc_rt.train import precision

    with pytest.raises(JsccInputError, match="fp16 trains on CUDA only"):
        train(TrainConfig(steps=1, precision="fp16", **SMALL), tmp_path, show_progress=False)
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: [])
    with pytest.raises(JsccInputError, match="bf16 on CPU needs AVX512-BF16 or AMX-BF16.*use --precision fp32"):
        train(TrainConfig(steps=1, precision="bf16", **SMALL), tmp_path, show_progress=False)
    assert precision.resolve_precision("auto", torch.device("cpu")) == "fp32"
    with pytest.raises(JsccInputError, match="precision must be one of"):
        TrainConfig(precision="int8")
    with pytest.raises(JsccInputError, match=r"ema decay 1.0 must be in \[0, 1\)"):
        TrainConfig(ema=1.0)


@pytest.mark.skipif(not cpu_bf16_supported(), reason="CPU without AVX512-BF16/AMX-BF16")
def test_cli_auto_precision_records_bf16_and_reports_throughput(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["train", "--width", "16", "--crop", "32", "--batch-size", "4", "--steps", "8", "--val-every", "8",
                 "--val-images", "1", "--threads", "1", "--out", str(out), "--no-progress"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["precision"] == "bf16" and res["channels_last"] and res["steps_per_s"] > 0 and res["ema"] == 0.999
    cfg = json.loads((out / "train_config.json").read_text())
    assert (cfg["precision"], cfg["channels_last"], cfg["device"]) == ("bf16", True, "cpu")
    assert zipfile.is_zipfile(out / "train_state.pt") and not list(out.glob("*.tmp"))


def test_a_state_with_wrong_contents_is_a_clear_error(tmp_path: Path) -> None:
    cfg = TrainConfig(steps=2, val_every=2, ckpt_every=2, **SMALL)
    train(cfg, tmp_path, show_progress=False)
    st = torch.load(tmp_path / "train_state.pt", weights_only=True)
    del st["rng"]
    state_mod.save_state({k: v for k, v in st.items() if k != "format"}, tmp_path / "train_state.pt")
    with pytest.raises(JsccInputError, match=r"train_state\.pt'?: its contents do not fit this run \(KeyError"):
        train(cfg, tmp_path, resume=True, show_progress=False)
