"""Pareto harness: frontier logic, and a small sweep writing JSON / CSV / markdown / plots."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from jscc_rt.bench.pareto import pareto_front, run_pareto, write_outputs


def test_pareto_front() -> None:
    pts = [{"latency_ms_p50": 1, "psnr": 20}, {"latency_ms_p50": 2, "psnr": 25}, {"latency_ms_p50": 3, "psnr": 24},
           {"latency_ms_p50": 4, "psnr": 26}, {"latency_ms_p50": 2, "psnr": 19}]
    assert [(p["latency_ms_p50"], p["psnr"]) for p in pareto_front(pts)] == [(1, 20), (2, 25), (4, 26)]


def test_small_sweep_writes_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    from jscc_rt import JSCCConfig, JSCCModel, save_model
    from jscc_rt.train.diffusion import DiffusionTrainConfig, train_diffusion

    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "j.pt")
    train_diffusion(DiffusionTrainConfig(jscc=str(tmp_path / "j.pt"), crop=64, n_latents=16, latent_crop=8,
                                         batch_size=4, steps=2, cd_steps=2, width=16, threads=1), tmp_path / "d",
                    show_progress=False)
    res = run_pareto(str(tmp_path / "j.pt"), str(tmp_path / "d/denoiser.pt"), str(tmp_path / "d/consistency.pt"),
                     data=None, steps=(0, 1, 2), backends=("torch", "onnxruntime", "tensorrt", "torch-fused"),
                     snrs=(0.0, 10.0), iters=2, max_images=1)
    pts = res["points"]
    # 5 plans (decoder, ddim 1/2, consistency 1/2) x 2 SNR x 2 runnable backends
    assert len(pts) == 5 * 2 * 2
    assert {"tensorrt", "torch-fused"} <= set(res["skipped"]) if not torch.cuda.is_available() else True
    for p in pts:
        assert p["latency_ms_p50"] <= p["latency_ms_p90"] <= p["latency_ms_p99"] and p["runs"] >= 2
        assert 0 < p["psnr"] < 100
        assert [i["image"] for i in p["images"]] == ["astronaut"] and abs(p["images"][0]["psnr"] - p["psnr"]) < 1e-9
        assert 0 < p["flip"] < 1 and p["flip"] == pytest.approx(p["images"][0]["flip"])  # FLIP beside PSNR
    md = write_outputs(res, tmp_path / "out")
    assert "| backend | precision | threads | receiver |" in md and "yes" in md
    assert json.loads((tmp_path / "out/pareto.json").read_text())["meta"]["n_images"] == 1
    assert (tmp_path / "out/pareto.csv").read_text().count("\n") == len(pts) + 1
    for snr in (0, 10):
        assert (tmp_path / f"out/pareto_snr{snr}.png").stat().st_size > 5000


def test_latency_measured_once_per_plan_is_reused_across_snrs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    from jscc_rt import JSCCConfig, JSCCModel, save_model

    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "j.pt")
    res = run_pareto(str(tmp_path / "j.pt"), None, None, data=None, steps=(0,), backends=("torch",),
                     snrs=(0.0, 10.0), iters=2, max_images=1, latency_snr=10.0)
    a, b = sorted(res["points"], key=lambda p: p["snr_db"])
    assert a["latency_ms_p50"] == b["latency_ms_p50"] and a["latency_snr_db"] == b["latency_snr_db"] == 10.0
    assert a["psnr"] < b["psnr"], "quality is still measured at each SNR"
    with pytest.raises(ValueError, match="latency_snr"):
        run_pareto(str(tmp_path / "j.pt"), None, None, data=None, steps=(0,), backends=("torch",), snrs=(0.0,),
                   iters=2, max_images=1, latency_snr=5.0)


def test_extra_models_join_the_frontier_as_decoder_only_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    from jscc_rt import JSCCConfig, JSCCModel, save_model

    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "j.pt")
    res = run_pareto(str(tmp_path / "j.pt"), None, None, data=None, steps=(0,), backends=("torch", "onnxruntime"),
                     snrs=(10.0,), iters=2, max_images=1, extra_models=["unrolled-1_16"])
    rows = {(p["sampler"], p["backend"]): p for p in res["points"]}
    assert set(rows) == {("decoder", "torch"), ("decoder", "onnxruntime"), ("unrolled-1_16", "torch"),
                         ("unrolled-1_16", "onnxruntime")}
    assert rows[("unrolled-1_16", "torch")]["psnr"] > rows[("decoder", "torch")]["psnr"] + 5, "trained vs random"


def test_noma_receivers_join_the_frontier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    from jscc_rt import JSCCConfig, JSCCModel, load_model, save_model
    from jscc_rt.models.noma import TwoUserNOMA

    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "j.pt")
    save_model(TwoUserNOMA.from_teacher(load_model("jscc_rt/weights/unrolled-1_16.pt")), tmp_path / "n.pt")
    res = run_pareto(str(tmp_path / "j.pt"), None, None, data=None, steps=(0,), backends=("torch", "onnxruntime"),
                     snrs=(0.0, 10.0), iters=2, max_images=2, noma=str(tmp_path / "n.pt"), latency_snr=10.0)
    noma = [p for p in res["points"] if p["sampler"].startswith("noma")]
    assert len(noma) == 2 * 2 * 2, "2 users x 2 SNRs x 2 backends"
    u2 = {p["snr_db"]: p["psnr"] for p in noma if p["sampler"] == "noma-user2" and p["backend"] == "torch"}
    assert u2[10.0] > u2[0.0], "user 2 improves with SNR"
    assert res["meta"]["noma_split"] == 0.8


def test_low_precision_backends_are_rows_with_their_own_quality(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch-bf16, onnxruntime-int8 and openvino-bf16 join the frontier: each row records backend, precision and
    threads, and its PSNR is measured on that backend's own output (close to, not copied from, fp32)."""
    monkeypatch.delenv("JSCC_DATA", raising=False)
    pytest.importorskip("openvino")
    from jscc_rt.runtime.backends import unavailable_reason

    backends = ["torch", "torch-bf16", "onnxruntime-int8", "openvino-bf16"]
    res = run_pareto("unrolled-1_16", None, None, data=None, steps=(0,), backends=backends, snrs=(10.0,), iters=1,
                     max_images=1, threads=1)
    runnable = [b for b in backends if unavailable_reason(b) is None]
    rows = {p["backend"]: p for p in res["points"]}
    assert sorted(rows) == sorted(runnable) and res["meta"]["threads"] == 1
    assert all(p["threads"] == 1 and p["device"] for p in rows.values())
    assert rows["torch"]["precision"] == "fp32" and rows["onnxruntime-int8"]["precision"] == "int8"
    for be in runnable[1:]:
        assert rows[be]["psnr"] != rows["torch"]["psnr"] and abs(rows[be]["psnr"] - rows["torch"]["psnr"]) < 0.5


def test_cli_writes_partial_rows_per_image_rows_and_reconstructions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`bench pareto` on a folder of two images: per-image rows, the N worst/best reconstructions per receiver and
    SNR, progress lines with an ETA, and no partial file left once the result is written."""
    monkeypatch.delenv("JSCC_DATA", raising=False)
    from jscc_rt.cli import main
    from jscc_rt.data import sample_images, save_image

    folder = tmp_path / "mine"
    folder.mkdir()
    for name, im in sample_images()[:2]:
        save_image(im[:, :64, :96], folder / f"{name}.png")
    out = tmp_path / "p"
    assert main(["bench", "pareto", "--model", "unrolled-1_16", "--steps", "0", "--backends", "torch", "--snr", "10",
                 "--iters", "1", "--threads", "1", "--data", str(folder), "--save-recon", "1", "--out", str(out)]) == 0
    res = json.loads((out / "pareto.json").read_text())
    assert res["meta"]["eval_set"] == "mine" and [i["image"] for i in res["points"][0]["images"]] == ["astronaut",
                                                                                                     "coffee"]
    assert sorted(r["rank"] for r in res["meta"]["recon"]) == ["best1", "worst1"]
    assert len(list((out / "recon/decoderx0/snr+10dB").glob("*_strip.png"))) == 2
    assert not (out / "pareto.partial.jsonl").exists() and "[0/1, 0s elapsed] quality decoder" in capsys.readouterr().err
