"""Training: learns (loss falls), writes config beside checkpoint, resumes exactly (fp32, bf16, EMA)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from jscc_rt.models import load_model
from jscc_rt.train import TrainConfig, train
from jscc_rt.train.precision import cpu_bf16_supported
from jscc_rt._validate import JsccInputError

SMALL = dict(width=16, crop=32, batch_size=4, val_images=1, lr=2e-3, warmup=5, threads=1)


@pytest.fixture(autouse=True)
def _no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)


def test_training_improves_psnr_and_writes_artifacts(tmp_path: Path) -> None:
    cfg = TrainConfig(steps=150, val_every=75, ckpt_every=75, **SMALL)
    untrained = train(cfg, tmp_path / "init", show_progress=False, stop_after=0)["psnr"]
    train(cfg, tmp_path, show_progress=False)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [75, 150]
    assert log[-1]["val_psnr_10dB"] > untrained + 2.0, (untrained, log)
    assert json.loads((tmp_path / "train_config.json").read_text())["steps"] == 150
    side = json.loads((tmp_path / "model.json").read_text())
    assert side["config"]["latent_channels"] == 24 and side["meta"]["step"] == 150
    assert load_model(tmp_path / "model.pt").config.width == 16
    assert all(r["precision"] == "fp32" and r["steps_per_s"] > 0 for r in log)
    assert (tmp_path / "val_curve.png").stat().st_size > 1000


RESUME_CASES = [
    pytest.param(dict(model="vae"), id="fp32-vae"),
    pytest.param(dict(precision="bf16", channels_last=True, ema=0.9), id="bf16-channels_last-ema",
                 marks=pytest.mark.skipif(not cpu_bf16_supported(), reason="CPU without AVX512-BF16/AMX-BF16")),
]


@pytest.mark.parametrize("extra", RESUME_CASES)
def test_interrupted_then_resumed_run_matches_uninterrupted(tmp_path: Path, extra: dict) -> None:
    cfg = TrainConfig(steps=8, val_every=4, ckpt_every=100, **{**SMALL, **extra})
    train(cfg, tmp_path / "a", show_progress=False)
    train(cfg, tmp_path / "b", show_progress=False, stop_after=5)
    assert torch.load(tmp_path / "b" / "train_state.pt", weights_only=True)["step"] == 5
    train(cfg, tmp_path / "b", resume=True, show_progress=False)
    a = load_model(tmp_path / "a" / "model.pt").state_dict()
    b = load_model(tmp_path / "b" / "model.pt").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # optimizer, EMA, sampler and noise RNG all restored
    sa, sb = (torch.load(tmp_path / r / "train_state.pt", weights_only=True) for r in "ab")
    assert all(torch.equal(sa["model"][k], sb["model"][k]) for k in sa["model"])  # the raw weights too
    la, lb = ((tmp_path / r / "log.jsonl").read_text().splitlines() for r in "ab")
    strip = lambda line: {k: v for k, v in json.loads(line).items() if k not in ("wall_s", "cpu_s", "steps_per_s")}  # noqa: E731
    assert [strip(x) for x in la] == [strip(x) for x in lb]  # same validations, nothing logged twice


def test_cpu_time_adds_up_over_a_resume_and_says_where_an_old_state_began(tmp_path: Path) -> None:
    """``cpu_time_s`` (process CPU seconds, unlike wall time not advancing while the run is paused) carries across a
    resume; a state from before it was recorded resumes with ``cpu_time_from_step`` naming where counting began."""
    cfg = TrainConfig(steps=6, val_every=6, ckpt_every=100, **SMALL)
    state = lambda run: torch.load(tmp_path / run / "train_state.pt", weights_only=True)  # noqa: E731
    meta = lambda run: json.loads((tmp_path / run / "model.json").read_text())["meta"]  # noqa: E731
    train(cfg, tmp_path / "a", show_progress=False, stop_after=3)
    first = state("a")["cpu_s"]  # unrounded: a few tiny steps may take under 0.05 s
    assert first > 0 and state("a")["cpu_from_step"] == 0
    assert meta("a")["cpu_time_s"] == round(first, 1) and "cpu_time_from_step" not in meta("a")
    res = train(cfg, tmp_path / "a", resume=True, show_progress=False)
    assert state("a")["cpu_s"] > first and res["cpu_time_s"] >= meta("a")["cpu_time_s"] >= round(first, 1)
    assert json.loads((tmp_path / "a" / "log.jsonl").read_text().splitlines()[-1])["cpu_s"] >= round(first, 1)
    train(cfg, tmp_path / "b", show_progress=False, stop_after=3)
    old = state("b")
    del old["cpu_s"], old["cpu_from_step"]  # what the runs of 2026-12-05 and earlier saved
    torch.save(old, tmp_path / "b" / "train_state.pt")
    train(cfg, tmp_path / "b", resume=True, show_progress=False)
    assert meta("b")["cpu_time_from_step"] == 3 and state("b")["cpu_from_step"] == 3 and state("b")["cpu_s"] > 0


def test_resume_refuses_a_different_config(tmp_path: Path) -> None:
    train(TrainConfig(steps=2, val_every=2, ckpt_every=2, **SMALL), tmp_path, show_progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(JsccInputError, match=r"differs .*lr: 0\.002 -> 0\.001; steps: 2 -> 3"):
        train(TrainConfig(steps=3, val_every=2, ckpt_every=2, **{**SMALL, "lr": 1e-3}), tmp_path, resume=True,
              show_progress=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing overwritten


def test_resume_under_another_layout_needs_the_flag_and_is_recorded(tmp_path: Path) -> None:
    """A run saved under one arithmetic (here channels_last off, which any CPU runs; a bf16 -> fp32 switch on a CPU
    without bf16 takes the same path) resumes under another only with ``allow_precision_change``; the switch step
    lands in ``precision_segments`` of the state and of model.json, and any other field still refuses."""
    cfg = TrainConfig(steps=4, val_every=4, ckpt_every=100, precision="fp32", channels_last=False, **SMALL)
    train(cfg, tmp_path, show_progress=False, stop_after=2)
    nhwc = TrainConfig(steps=4, val_every=4, ckpt_every=100, precision="fp32", channels_last=True, **SMALL)
    with pytest.raises(JsccInputError, match=r"differs .*channels_last: False -> True.*or add --allow-precision-change"):
        train(nhwc, tmp_path, resume=True, show_progress=False)
    with pytest.raises(JsccInputError, match=r"differs .*lr: 0\.002 -> 0\.001"):
        train(TrainConfig(steps=4, val_every=4, ckpt_every=100, precision="fp32", channels_last=True,
                          **{**SMALL, "lr": 1e-3}), tmp_path, resume=True, show_progress=False,
              allow_precision_change=True)
    res = train(nhwc, tmp_path, resume=True, show_progress=False, allow_precision_change=True)
    assert res["step"] == 4 and res["channels_last"]
    want = [{"from_step": 0, "precision": "fp32", "channels_last": False},
            {"from_step": 2, "precision": "fp32", "channels_last": True}]
    segs = json.loads((tmp_path / "model.json").read_text())["meta"]["precision_segments"]
    assert [{k: s[k] for k in ("from_step", "precision", "channels_last")} for s in segs] == want
    assert all(s["device"] for s in segs)
    state = torch.load(tmp_path / "train_state.pt", weights_only=True)
    assert state["precision_segments"] == segs and state["config"]["channels_last"] is True


@pytest.mark.skipif(not cpu_bf16_supported(), reason="CPU without AVX512-BF16/AMX-BF16")
def test_a_bf16_run_continues_in_fp32_with_the_flag(tmp_path: Path) -> None:
    """What a CPU without bf16 does with a run started on one: the bf16 state resumes under fp32 (flag given), the
    switch is recorded, and the resumed steps really ran in fp32 (the logged validation says so)."""
    bf16 = TrainConfig(steps=4, val_every=4, ckpt_every=100, precision="bf16", channels_last=True, **SMALL)
    train(bf16, tmp_path, show_progress=False, stop_after=2)
    fp32 = TrainConfig(steps=4, val_every=4, ckpt_every=100, precision="fp32", channels_last=True, **SMALL)
    with pytest.raises(JsccInputError, match=r"precision: 'bf16' -> 'fp32'.*--allow-precision-change"):
        train(fp32, tmp_path, resume=True, show_progress=False)
    res = train(fp32, tmp_path, resume=True, show_progress=False, allow_precision_change=True)
    assert res["precision"] == "fp32" and res["step"] == 4
    segs = json.loads((tmp_path / "model.json").read_text())["meta"]["precision_segments"]
    assert [(s["from_step"], s["precision"]) for s in segs] == [(0, "bf16"), (2, "fp32")]
    assert json.loads((tmp_path / "log.jsonl").read_text().splitlines()[-1])["precision"] == "fp32"


def test_cli_allow_precision_change_needs_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jscc_rt.cli import main

    assert main(["train", "--width", "16", "--out", str(tmp_path), "--allow-precision-change"]) == 2
    assert "--allow-precision-change only applies with --resume" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_bad_train_config() -> None:
    with pytest.raises(JsccInputError, match="SNR range"):
        TrainConfig(snr_min_db=10, snr_max_db=0)
    with pytest.raises(JsccInputError, match="multiple of downsample"):
        TrainConfig(crop=100)


def test_scale_resizes_training_images_and_bad_scale() -> None:
    from jscc_rt.train.data import training_images

    _, full = training_images(None)
    _, half = training_images(None, scale=0.5)
    assert [tuple(h.shape[-2:]) for h in half] == [(f.shape[-2] // 2, f.shape[-1] // 2) for f in full]
    # antialiased: the half-size image is the 2x2 box average up to the filter, not a subsampling
    f, h = full[0], half[0]
    box = torch.nn.functional.avg_pool2d(f[None], 2)[0]
    assert float((h - box).abs().mean()) < 0.02
    with pytest.raises(JsccInputError, match="scale 1.5 must be in"):
        TrainConfig(scale=1.5)


def test_log_mse_loss_is_the_log_of_the_batch_mse_and_scales_the_gradient_by_its_inverse() -> None:
    """``--loss log-mse``: loss = ln(batch MSE) (tolerance 1e-6), the logged MSE is the batch MSE either way, and
    every parameter's gradient is the MSE loss's divided by the MSE (rtol 1e-4): a step of a small budget or a
    noisy channel, with a larger error, no longer carries a larger gradient."""
    from jscc_rt.models import JSCCConfig, JSCCModel
    from jscc_rt.train.jscc import LinkObjective

    torch.manual_seed(0)
    model = JSCCModel(JSCCConfig.for_ratio("1/16", "deepjscc", width=16))
    x, snr = torch.rand(3, 3, 32, 32), torch.tensor([-5.0, 5.0, 20.0])
    grads = []
    for loss in ("mse", "log-mse"):
        model.zero_grad()
        m, value = LinkObjective(model, "awgn", 0.0, loss=loss)(x, snr, torch.Generator().manual_seed(1))
        value.backward()
        grads.append((m.detach(), value.detach(), [p.grad.clone() for p in model.parameters()]))
    (m1, l1, g1), (m2, l2, g2) = grads
    assert torch.allclose(m1, l1) and torch.allclose(m1, m2, rtol=1e-6)
    assert torch.allclose(l2, m1.log(), atol=1e-6)
    assert all(torch.allclose(b, a / m1, rtol=1e-4, atol=1e-9) for a, b in zip(g1, g2))


def test_log_mse_trains_and_is_recorded_and_refused_for_vae(tmp_path: Path) -> None:
    cfg = TrainConfig(steps=150, val_every=150, ckpt_every=150, loss="log-mse", **SMALL)
    untrained = train(cfg, tmp_path / "init", show_progress=False, stop_after=0)["psnr"]
    res = train(cfg, tmp_path / "run", show_progress=False)
    assert res["psnr"] > untrained + 2.0, (untrained, res["psnr"])
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["loss"] == "log-mse"
    with pytest.raises(JsccInputError, match="log-mse .*VAE"):
        TrainConfig(model="vae", loss="log-mse")
    with pytest.raises(JsccInputError, match="loss must be one of mse, log-mse, got 'l1'"):
        TrainConfig(loss="l1")


def test_rayleigh_share_sets_the_mixed_channel_draw_and_keeps_the_default_draw() -> None:
    from jscc_rt.train.jscc import draw_channel

    def rayleigh_frac(cfg: TrainConfig, n: int = 4000) -> float:
        gen = torch.Generator().manual_seed(0)
        return sum(draw_channel(cfg, gen) == "rayleigh" for _ in range(n)) / n

    assert abs(rayleigh_frac(TrainConfig(channel="mixed")) - 0.5) < 0.03
    assert abs(rayleigh_frac(TrainConfig(channel="mixed", rayleigh_share=0.25)) - 0.25) < 0.03
    assert rayleigh_frac(TrainConfig(channel="awgn"), 50) == 0.0
    # the default (None) draws exactly what runs before the field drew: the same generator stream, threshold 0.5
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = [draw_channel(TrainConfig(channel="mixed"), g1) for _ in range(64)]
    b = [("awgn", "rayleigh")[int(torch.rand(1, generator=g2) < 0.5)] for _ in range(64)]
    assert a == b
    with pytest.raises(JsccInputError, match="rayleigh_share 0.3 needs --channel mixed .*'awgn'"):
        TrainConfig(channel="awgn", rayleigh_share=0.3)
    with pytest.raises(JsccInputError, match="rayleigh_share 1.0 needs"):
        TrainConfig(channel="mixed", rayleigh_share=1.0)


def test_ladder_weights_set_how_often_each_ladder_ratio_is_drawn_and_keep_the_default_draw() -> None:
    from fractions import Fraction

    from jscc_rt.models.config import JSCCConfig
    from jscc_rt.models.rate import LADDER_PROB, channels_for, ladder, sample_channels

    mcfg = JSCCConfig.for_ratio("1/4", "unrolled", width=32, min_ratio="1/64")
    lad = [channels_for(r, mcfg.downsample) for r in ladder(mcfg)]
    assert ladder(mcfg) == [Fraction(1, d) for d in (64, 32, 16, 12, 8, 6, 4)]
    w = (0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 3.0)
    gen = torch.Generator().manual_seed(0)
    draws = [sample_channels(mcfg, gen, w) for _ in range(4000)]
    n16, n4 = draws.count(lad[2]), draws.count(lad[6])
    # ladder draws: 1/16 a quarter, 1/4 three quarters; the off-ladder uniform draws (1 - LADDER_PROB) stay
    assert abs(n4 / max(n16, 1) - 3.0) < 0.4
    assert abs((n16 + n4) / 4000 - LADDER_PROB - (1 - LADDER_PROB) * 2 / len(range(mcfg.min_latent_channels,
                                                                                 mcfg.latent_channels + 1, 2))) < 0.03
    assert lad[0] not in draws or draws.count(lad[0]) < 40  # only the rare uniform draw hits 1/64
    # equal weights draw exactly what the default (None) draws, from the same generator stream
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert [sample_channels(mcfg, g1) for _ in range(200)] == [sample_channels(mcfg, g2, (1.0,) * 7) for _ in range(200)]
    with pytest.raises(JsccInputError, match=r"ladder_weights \[1.0, 1.0, 1.0\] must be 7 .* ratio 1/64, 1/32"):
        sample_channels(mcfg, torch.Generator().manual_seed(1), (1.0, 1.0, 1.0))
    cfg = TrainConfig(model="unrolled", ratio="1/4", min_ratio="1/64", ladder_weights=[1, 1, 1, 1, 2, 2, 3])
    assert cfg.ladder_weights == (1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg  # the JSON round trip resumes with the same config
    with pytest.raises(JsccInputError, match=r"ladder_weights \[1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0\] must be 7"):
        TrainConfig(model="unrolled", ratio="1/4", min_ratio="1/64", ladder_weights=(1, -1, 1, 1, 1, 1, 1))
    with pytest.raises(JsccInputError, match="must be 7 finite weights"):
        TrainConfig(model="unrolled", ratio="1/4", min_ratio="1/64", ladder_weights=(0,) * 7)
