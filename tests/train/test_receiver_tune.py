"""Tuning a consistency student on the receiver's own k-step plans: the differentiable plan is the receiver's
sampler, tuning lowers every plan's held-out latent MSE, a stopped run resumes bit for bit, bad input is refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from jscc_rt import JsccInputError, JSCCConfig, JSCCModel, save_model
from jscc_rt.diffusion import DiffusionReceiver, ReceiverConfig
from jscc_rt.models import load_model
from jscc_rt.train.diffusion import DiffusionTrainConfig, diffuse, train_diffusion
from jscc_rt.train.receiver_tune import ReceiverTuneConfig, sample_plan, tune_receiver


@pytest.fixture(autouse=True)
def _no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("rt")
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), d / "j.pt")
    train_diffusion(DiffusionTrainConfig(jscc=str(d / "j.pt"), crop=64, n_latents=32, latent_crop=8, batch_size=4,
                                         steps=20, cd_steps=4, width=16, threads=1), d / "diff", show_progress=False)
    return d / "j.pt", d / "diff" / "consistency.pt"


@pytest.mark.parametrize("k", [1, 2, 4])
def test_sample_plan_is_the_receivers_consistency_sampler(student: tuple[Path, Path], k: int) -> None:
    cm = load_model(student[1], expect="DenoiserConfig").eval()
    g = torch.Generator().manual_seed(1)
    x0, snr = torch.randn(3, 24, 6, 8, generator=g), torch.tensor([-5.0, 3.0, 20.0])
    u = cm.schedule.step_for_snr_db(snr, "interp")
    x_u = diffuse(cm.schedule, x0, u, torch.randn(x0.shape, generator=g))
    ref = DiffusionReceiver(cm, cm.schedule, ReceiverConfig(sampler="consistency", steps=k, mode="interp")).denoise(
        x_u, cm.schedule.alpha_bar_at(u), snr)
    with torch.no_grad():
        got = sample_plan(cm, x_u, u, snr, k)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)  # the clean-latent estimate (3, 24, 6, 8) float32


def test_tuning_lowers_every_plans_mse_and_resumes_bit_exact(student: tuple[Path, Path], tmp_path: Path) -> None:
    cfg = ReceiverTuneConfig(jscc=str(student[0]), student=str(student[1]), crop=64, n_latents=32, latent_crop=8,
                             batch_size=8, steps=40, lr=2e-3, plan_steps="1,2", threads=1, ckpt_every=10,
                             val_every=20)
    full = tune_receiver(cfg, tmp_path / "full", show_progress=False)
    log = [json.loads(line) for line in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 20, 40]
    for k in ("mse_k1", "mse_k2"):
        assert full[k] < 0.9 * log[0][k], (k, log[0][k], full[k])
    assert tune_receiver(cfg, tmp_path / "cut", show_progress=False, stop_after=15) == {"stopped_at": 15}
    assert tune_receiver(cfg, tmp_path / "cut", show_progress=False, resume=True) == full
    a = load_model(tmp_path / "full" / "consistency.pt", expect="DenoiserConfig").state_dict()
    b = load_model(tmp_path / "cut" / "consistency.pt", expect="DenoiserConfig").state_dict()
    assert all(torch.equal(a[n], b[n]) for n in a)
    meta = json.loads((tmp_path / "full" / "consistency.json").read_text())["meta"]
    assert meta["parameterization"] == "consistency" and meta["receiver_tune"]["plan_steps"] == "1,2"
    assert meta["jscc_sha256"]  # still paired with the JSCC model it was tuned for


def test_bad_input_is_refused(student: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(JsccInputError, match="plan_steps must be comma-separated step counts >= 1.*'1,0'"):
        ReceiverTuneConfig(plan_steps="1,0")
    with pytest.raises(JsccInputError, match="eta must lie in \\[0, 1\\], got 2"):
        ReceiverTuneConfig(eta=2.0)
    den = student[1].parent / "denoiser.pt"
    with pytest.raises(JsccInputError, match="is an epsilon denoiser; tune a consistency student"):
        tune_receiver(ReceiverTuneConfig(jscc=str(student[0]), student=str(den), crop=64, n_latents=32,
                                         latent_crop=8, threads=1), tmp_path / "x", show_progress=False)
