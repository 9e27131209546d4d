"""SIGTERM / Ctrl-C during training: checkpoint after the current step, exit 128 + signum, resume bit-exactly."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch

import jscc_rt.train.jscc as trainer
from jscc_rt.cli import main
from jscc_rt.models import load_model
from jscc_rt.train import TrainConfig, train
from jscc_rt.train.stop import GracefulStop

SMALL = dict(width=16, crop=32, batch_size=4, val_images=1, lr=2e-3, warmup=5, threads=1, steps=8, val_every=4,
             ckpt_every=100)


@pytest.fixture(autouse=True)
def _no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)


@pytest.fixture(autouse=True)
def _default_handlers():
    """A shell starts background jobs with SIGINT ignored, and GracefulStop rightly leaves an ignored signal alone:
    the tests start from Python's own handlers whatever pytest inherited."""
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for s, h in old.items():
        signal.signal(s, h)


def test_graceful_stop_records_the_first_signal_and_restores_the_handlers() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    with GracefulStop() as stop:
        assert not stop.now()
        signal.raise_signal(signal.SIGTERM)  # would end the test process without the handler
        assert stop.now() and stop.signal == "SIGTERM"
        signal.raise_signal(signal.SIGTERM)  # a repeated SIGTERM changes nothing
        assert stop.signal == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):  # Ctrl-C after a stop request: abort at once
            signal.raise_signal(signal.SIGINT)
    assert {s: signal.getsignal(s) for s in before} == before


def test_an_ignored_signal_stays_ignored() -> None:
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as for a `cmd &` job of a non-interactive shell
    try:
        with GracefulStop() as stop:
            signal.raise_signal(signal.SIGINT)
            assert stop.signal is None and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)


def test_under_torchrun_only_the_agreed_answer_stops_a_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal handled just after the flag's all-reduce returned must not stop this rank alone (the others go on
    to the next step's collectives); it counts at the next step, when every rank sees it."""
    import jscc_rt.train.stop as stop_mod
    from jscc_rt.train.dist import DistInfo

    answers: list[bool] = []

    def reduce_then_signal(flag: bool, info: DistInfo, device: torch.device) -> bool:
        answers.append(flag)
        if len(answers) == 1:
            signal.raise_signal(signal.SIGTERM)  # delivered as the collective returns 0 everywhere
            return False
        return flag

    monkeypatch.setattr(stop_mod, "any_rank", reduce_then_signal)
    info = DistInfo(rank=1, world_size=2)
    with GracefulStop() as stop:
        assert stop.now(info) is False and stop.signal == "SIGTERM"
        assert stop.now(info) is True
    assert answers == [False, True]


def test_exit_status_names_the_step_and_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    from jscc_rt.train.stop import exit_status

    assert exit_status("jscc", "o", {"step": 8}, 8) == 0
    assert exit_status("jscc", "o", {"rank": 1, "step": 3, "stopped": "SIGTERM"}, 8) == 0  # rank 0 reports
    assert capsys.readouterr().err == ""
    assert exit_status("diffusion", "o", {"stopped_at": 3, "stopped": "SIGINT"}, 10) == 130
    assert "SIGINT at step 3 of 10; the run is checkpointed in o/train_state.pt" in capsys.readouterr().err
    assert exit_status("jscc", "o", {"step": 8, "stopped": "SIGTERM"}, 8) == 143
    assert "finished all 8 steps; its outputs are written, nothing to resume" in capsys.readouterr().err


def test_first_ctrl_c_is_a_stop_request_not_an_abort() -> None:
    with GracefulStop() as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.signal == "SIGINT"


def _flags() -> list[str]:
    return [a for k, v in SMALL.items() for a in (f"--{k.replace('_', '-')}", str(v))] + ["--no-progress"]


def test_sigterm_mid_run_checkpoints_that_step_and_the_resume_matches_an_uninterrupted_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *_flags(), "--out", str(tmp_path / "a")]) == 0
    lr_at = trainer.lr_at

    def signalled(cfg: TrainConfig, step: int) -> float:  # the signal arrives during the 6th step (index 5)
        if step == 5:
            signal.raise_signal(signal.SIGTERM)
        return lr_at(cfg, step)

    monkeypatch.setattr(trainer, "lr_at", signalled)
    assert main(["train", *_flags(), "--out", str(tmp_path / "b")]) == 128 + signal.SIGTERM
    err = capsys.readouterr().err
    assert "SIGTERM at step 6 of 8" in err and "--resume" in err and str(tmp_path / "b") in err
    st = torch.load(tmp_path / "b" / "train_state.pt", weights_only=True)
    assert st["step"] == 6  # the step in flight finished and was saved, not the last periodic checkpoint (none)
    monkeypatch.setattr(trainer, "lr_at", lr_at)
    assert main(["train", *_flags(), "--out", str(tmp_path / "b"), "--resume"]) == 0
    a = load_model(tmp_path / "a" / "model.pt").state_dict()
    b = load_model(tmp_path / "b" / "model.pt").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.load(tmp_path / "b" / "train_state.pt", weights_only=True)["step"] == 8


def test_a_signal_in_the_last_step_ends_the_run_as_finished_and_the_library_says_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lr_at, sent = trainer.lr_at, []

    def signalled(cfg: TrainConfig, step: int) -> float:  # once (the log line asks for step 7's lr again)
        if step == 7 and not sent:
            sent.append(signal.raise_signal(signal.SIGINT))
        return lr_at(cfg, step)

    monkeypatch.setattr(trainer, "lr_at", signalled)
    res = train(TrainConfig(**SMALL), tmp_path, show_progress=False)
    assert res["stopped"] == "SIGINT" and res["step"] == 8 and res["psnr"] > 0  # its validation at step 8 ran
    assert json.loads((tmp_path / "model.json").read_text())["meta"]["final"] is True


def _signal_on_call(module: object, name: str, calls: set[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``module.name`` raise SIGTERM on its n-th call (1-based) for each n in ``calls``."""
    real, seen = getattr(module, name), [0]

    def wrapped(*args: object, **kwargs: object) -> object:
        seen[0] += 1
        if seen[0] in calls:
            signal.raise_signal(signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)


def test_diffusion_stops_in_either_phase_on_sigterm_and_resumes_bit_exact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jscc_rt.train.diffusion as diffusion
    from jscc_rt import JSCCConfig, JSCCModel, save_model

    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "j.pt")
    cfg = diffusion.DiffusionTrainConfig(jscc=str(tmp_path / "j.pt"), crop=64, n_latents=16, latent_crop=8,
                                         batch_size=4, steps=6, cd_steps=4, width=16, threads=1, ckpt_every=100)
    full = diffusion.train_diffusion(cfg, tmp_path / "full", show_progress=False)
    with monkeypatch.context() as m:  # one latent batch per step: SIGTERM in denoiser step 3
        _signal_on_call(diffusion, "latent_batch", {3}, m)
        assert diffusion.train_diffusion(cfg, tmp_path / "cut", show_progress=False) == {
            "stopped_at": 3, "stopped": "SIGTERM"}
    with monkeypatch.context() as m:  # resumed: denoiser steps 4-6, then SIGTERM in distillation step 2
        _signal_on_call(diffusion, "latent_batch", {5}, m)
        assert diffusion.train_diffusion(cfg, tmp_path / "cut", show_progress=False, resume=True) == {
            "stopped_at": 8, "stopped": "SIGTERM"}
    assert (tmp_path / "cut" / "denoiser.pt").is_file() and not (tmp_path / "cut" / "consistency.pt").exists()
    resumed = diffusion.train_diffusion(cfg, tmp_path / "cut", show_progress=False, resume=True)
    assert (resumed["denoiser"], resumed["consistency"]) == (full["denoiser"], full["consistency"])
    with monkeypatch.context() as m:  # SIGTERM in the denoiser phase's last step: denoiser.pt, then no distilling
        _signal_on_call(diffusion, "latent_batch", {6}, m)
        assert diffusion.train_diffusion(cfg, tmp_path / "edge", show_progress=False) == {
            "stopped_at": 6, "stopped": "SIGTERM"}
    st = torch.load(tmp_path / "edge" / "train_state.pt", weights_only=True)
    assert (st["phase"], st["step"]) == ("consistency", 0) and (tmp_path / "edge" / "denoiser.pt").is_file()
    resumed = diffusion.train_diffusion(cfg, tmp_path / "edge", show_progress=False, resume=True)
    assert (resumed["denoiser"], resumed["consistency"]) == (full["denoiser"], full["consistency"])
    for run in ("cut", "edge"):
        for name in ("denoiser.pt", "consistency.pt"):
            a = load_model(tmp_path / "full" / name, expect="DenoiserConfig").state_dict()
            b = load_model(tmp_path / run / name, expect="DenoiserConfig").state_dict()
            assert all(torch.equal(a[k], b[k]) for k in a), (run, name)


def test_receiver_tune_cli_exits_143_on_sigterm_and_resumes_bit_exact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import jscc_rt.train.diffusion as diffusion
    import jscc_rt.train.receiver_tune as receiver_tune
    from jscc_rt import JSCCConfig, JSCCModel, save_model

    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "j.pt")
    diffusion.train_diffusion(diffusion.DiffusionTrainConfig(
        jscc=str(tmp_path / "j.pt"), crop=64, n_latents=16, latent_crop=8, batch_size=4, steps=4, cd_steps=2,
        width=16, threads=1), tmp_path / "diff", show_progress=False)
    args = ["train", "receiver", "--jscc", str(tmp_path / "j.pt"), "--student", str(tmp_path / "diff" / "consistency.pt"),
            "--crop", "64", "--n-latents", "16", "--latent-crop", "8", "--batch-size", "4", "--steps", "6",
            "--plan-steps", "1,2", "--threads", "1", "--ckpt-every", "100", "--val-every", "3", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "full")]) == 0
    with monkeypatch.context() as m:
        _signal_on_call(receiver_tune, "latent_batch", {2}, m)
        assert main([*args, "--out", str(tmp_path / "cut")]) == 128 + signal.SIGTERM
    err = capsys.readouterr().err
    assert "jscc-rt train receiver: SIGTERM at step 2 of 6" in err
    assert torch.load(tmp_path / "cut" / "train_state.pt", weights_only=True)["step"] == 2
    assert main([*args, "--out", str(tmp_path / "cut"), "--resume"]) == 0
    a = load_model(tmp_path / "full" / "consistency.pt", expect="DenoiserConfig").state_dict()
    b = load_model(tmp_path / "cut" / "consistency.pt", expect="DenoiserConfig").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
