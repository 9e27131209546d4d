"""Diffusion training outlives a sitting: stopped inside either phase and resumed, the denoiser and the consistency
student equal the uninterrupted run's bit for bit; resuming with another config is refused and overwrites nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from jscc_rt import JsccInputError, JSCCConfig, JSCCModel, save_model
from jscc_rt.models import load_model
from jscc_rt.train.diffusion import DiffusionTrainConfig, train_diffusion


@pytest.fixture(autouse=True)
def _no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)


def _weights(path: Path, expect: str = "DenoiserConfig") -> dict[str, torch.Tensor]:
    return load_model(path, expect=expect).state_dict()


def test_resume_in_each_phase_is_bit_exact(tmp_path: Path) -> None:
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "j.pt")
    cfg = DiffusionTrainConfig(jscc=str(tmp_path / "j.pt"), crop=64, n_latents=16, latent_crop=8, batch_size=4,
                               steps=6, cd_steps=4, width=16, threads=1, ckpt_every=2)
    full = train_diffusion(cfg, tmp_path / "full", show_progress=False)
    assert train_diffusion(cfg, tmp_path / "cut", show_progress=False, stop_after=3) == {"stopped_at": 3}
    assert not (tmp_path / "cut" / "denoiser.pt").exists() and (tmp_path / "cut" / "train_state.pt").is_file()
    assert train_diffusion(cfg, tmp_path / "cut", show_progress=False, resume=True, stop_after=8) == {"stopped_at": 8}
    assert (tmp_path / "cut" / "denoiser.pt").is_file() and not (tmp_path / "cut" / "consistency.pt").exists()
    st_before = (tmp_path / "cut" / "train_state.pt").read_bytes()  # consistency phase, cd step 2
    # a smaller stop never rewinds the state, and the answer says where the run is
    assert train_diffusion(cfg, tmp_path / "cut", show_progress=False, resume=True, stop_after=3) == {"stopped_at": 8}
    assert (tmp_path / "cut" / "train_state.pt").read_bytes() == st_before
    resumed = train_diffusion(cfg, tmp_path / "cut", show_progress=False, resume=True)
    for name, expect in (("denoiser.pt", "DenoiserConfig"), ("consistency.pt", "DenoiserConfig")):
        a, b = _weights(tmp_path / "full" / name, expect), _weights(tmp_path / "cut" / name, expect)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    assert resumed["consistency"] == full["consistency"] and resumed["denoiser"] == full["denoiser"]
    def log(run: str) -> list[dict]:  # timings differ between runs, nothing else
        return [{k: v for k, v in json.loads(line).items() if k not in ("wall_s", "steps_per_s")}
                for line in (tmp_path / run / "log.jsonl").read_text().splitlines()]

    assert log("cut") == log("full") and [r["phase"] for r in log("full")].count("consistency") == 4


def test_resume_with_another_config_is_refused(tmp_path: Path) -> None:
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "j.pt")
    cfg = DiffusionTrainConfig(jscc=str(tmp_path / "j.pt"), crop=64, n_latents=16, latent_crop=8, batch_size=4,
                               steps=4, cd_steps=0, width=16, threads=1, ckpt_every=2)
    train_diffusion(cfg, tmp_path / "r", show_progress=False, stop_after=2)
    before = (tmp_path / "r" / "train_state.pt").read_bytes()
    with pytest.raises(JsccInputError, match=r"steps: 4 -> 8"):
        train_diffusion(DiffusionTrainConfig(**{**cfg.to_dict(), "steps": 8}), tmp_path / "r", show_progress=False,
                        resume=True)
    assert (tmp_path / "r" / "train_state.pt").read_bytes() == before


def test_a_teacher_denoiser_seeds_a_distillation_only_run(tmp_path: Path) -> None:
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "j.pt")
    base = DiffusionTrainConfig(jscc=str(tmp_path / "j.pt"), crop=64, n_latents=16, latent_crop=8, batch_size=4,
                                steps=3, cd_steps=0, width=16, threads=1)
    train_diffusion(base, tmp_path / "teacher", show_progress=False)
    assert not (tmp_path / "teacher" / "consistency.pt").exists()
    teacher = tmp_path / "teacher" / "denoiser.pt"
    cfg = DiffusionTrainConfig(**{**base.to_dict(), "steps": 0, "cd_steps": 2, "teacher": str(teacher)})
    train_diffusion(cfg, tmp_path / "cd", show_progress=False)
    a, b = _weights(teacher), _weights(tmp_path / "cd" / "denoiser.pt")
    assert all(torch.equal(a[n], b[n]) for n in a)  # 0 denoiser steps: the teacher itself
    meta = json.loads((tmp_path / "cd" / "consistency.json").read_text())["meta"]
    assert meta["parameterization"] == "consistency" and meta["train_config"]["teacher"] == str(teacher)
    with pytest.raises(JsccInputError, match="steps must be an int >= 1 \\(>= 0 with a teacher denoiser\\), got 0"):
        DiffusionTrainConfig(steps=0)
    wide = DiffusionTrainConfig(**{**cfg.to_dict(), "width": 32})
    with pytest.raises(JsccInputError, match="must be an epsilon denoiser with config"):
        train_diffusion(wide, tmp_path / "wide", show_progress=False)
