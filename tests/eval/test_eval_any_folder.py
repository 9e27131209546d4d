"""`jscc-rt eval` / `eval-diffusion` on any image folder: per-image rows, --max-images, --save-recon, early errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from jscc_rt import JSCCConfig, JSCCModel, JsccInputError, save_model
from jscc_rt.cli import main
from jscc_rt.eval.diffusion_eval import build_link, run_diffusion_eval
from jscc_rt.eval.recon import ReconSaver, strip
from jscc_rt.eval.report import run_eval
from jscc_rt.pipeline import Link


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return save_model(JSCCModel(JSCCConfig(width=16)), tmp_path_factory.mktemp("m") / "tiny.pt")


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "snaps"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (24 + 8 * i, 32, 3), dtype=np.uint8)).save(d / f"s{i}.png")
    return d


def test_run_eval_per_image_rows_and_recon(ckpt: Path, folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    table = run_eval([str(ckpt)], data=str(folder), snrs=[0.0, 10.0], channels=["awgn", "rayleigh"], draws=2,
                     out=str(out), show_progress=False, max_images=2, save_recon=1)
    assert table.startswith("eval set: snaps[:2] (2 images)") and "n/a" in table  # MS-SSIM needs > 160 px
    res = json.loads((out / "results.json").read_text())
    assert res["meta"]["eval_set"] == "snaps[:2]" and res["meta"]["images"] == [
        {"image": "s0", "size": "24x32"}, {"image": "s1", "size": "32x32"}]
    rows = res["per_image"]
    assert len(rows) == 2 * 2 * 2  # images x SNRs x channels
    r = rows[0]
    assert set(r) >= {"model", "channel", "image", "size", "snr_db", "draws", "psnr", "ssim", "ms_ssim"}
    assert r["draws"] == 2 and r["ms_ssim"] is None and 0 < r["psnr"] < 60
    assert res["results"][0]["ms_ssim"] is None and res["results"][0]["n_ms_ssim"] == 0
    d = out / "recon" / "tiny" / "awgn" / "snr+10dB"
    files = sorted(p.name for p in d.iterdir())
    assert len(files) == 4 and sum(f.endswith("_strip.png") for f in files) == 2
    assert {f.split("_")[0] for f in files} == {"worst1", "best1"}
    strip_png = next(d.glob("worst1_*_strip.png"))
    h = int(next(x for x in res["meta"]["images"] if strip_png.name.endswith(f"_{x['image']}_strip.png"))["size"].split("x")[0])
    assert Image.open(strip_png).size == (2 * 32 + 4, h)
    ranks = {x["rank"]: x["psnr"] for x in res["meta"]["recon"] if x["group"] == "tiny/awgn/snr+10dB"}
    assert ranks["worst1"] <= ranks["best1"]


def test_small_image_stops_eval_before_any_image_runs(ckpt: Path, folder: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    Image.fromarray(np.zeros((8, 300, 3), np.uint8)).save(folder / "thin.png")
    calls: list[int] = []
    real = Link.__call__
    monkeypatch.setattr(Link, "__call__", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    with pytest.raises(JsccInputError, match=r"thin.png \(8x300\)"):
        run_eval([str(ckpt)], data=str(folder), snrs=[10.0], channels=["awgn"], draws=1, show_progress=False)
    assert calls == []


def test_eval_argument_errors(ckpt: Path, folder: Path) -> None:
    kw = dict(data=str(folder), channels=["awgn"], show_progress=False)
    with pytest.raises(JsccInputError, match="needs --out"):
        run_eval([str(ckpt)], snrs=[10.0], draws=1, save_recon=1, **kw)  # type: ignore[arg-type]
    with pytest.raises(JsccInputError, match="draws must be >= 1"):
        run_eval([str(ckpt)], snrs=[10.0], draws=0, **kw)  # type: ignore[arg-type]
    with pytest.raises(JsccInputError, match=r"snr_db must lie in \[-20, 40\]"):
        run_eval([str(ckpt)], snrs=[99.0], draws=1, **kw)  # type: ignore[arg-type]


def test_eval_diffusion_per_image_and_recon(ckpt: Path, folder: Path, tmp_path: Path) -> None:
    rows = run_diffusion_eval(str(ckpt), None, None, data=str(folder), snrs=[5.0], ddim_steps=[], cm_steps=[],
                              noise_start_steps=[], show_progress=False, save_recon=1, out=str(tmp_path / "o"))
    assert len(rows) == 1 and rows[0]["eval_set"] == "snaps" and rows[0]["n"] == 3
    per = rows[0]["images"]
    assert [p["image"] for p in per] == ["s0", "s1", "s2"] and per[2]["size"] == "40x32"
    assert per[0]["ms_ssim"] is None and rows[0]["ms_ssim"] is None
    assert len(list((tmp_path / "o" / "recon" / "decoder-0-matched" / "snr+5dB").glob("*_strip.png"))) == 2


def test_denoiser_pairing_checked(recwarn: pytest.WarningsRecorder) -> None:
    with pytest.raises(JsccInputError, match=r"24-channel latents but the JSCC model .*deepjscc-1_6.* 64-channel"):
        build_link("deepjscc-1_6", "denoiser-vae-1_16", "ddim", 2)
    with pytest.warns(UserWarning, match=r"sha256 721a763c.*deepjscc-1_16.pt' \(sha256 61bf7535"):
        build_link("deepjscc-1_16", "denoiser-vae-1_16", "ddim", 2)


def test_recon_saver_distinct_worst_and_best(tmp_path: Path) -> None:
    s = ReconSaver(tmp_path, 2)
    for i in range(3):
        s.add(f"im{i}", torch.rand(3, 8, 8), torch.rand(1, 3, 8, 8), psnr=float(i))
    recs = s.flush("g")
    assert [(r["rank"], r["image"]) for r in recs] == [("worst1", "im0"), ("worst2", "im1"), ("best1", "im2")]
    assert strip(torch.zeros(3, 5, 7), torch.zeros(3, 5, 7)).shape == (3, 5, 18)


def test_cli_eval_any_folder(ckpt: Path, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(ckpt), "--data", str(folder), "--snr", "10", "--channel", "awgn", "--max-images", "1",
                 "--save-recon", "1", "--out", str(tmp_path / "ev"), "--no-progress"]) == 0
    assert "eval set: snaps[:1] (1 images)" in capsys.readouterr().out
    assert json.loads((tmp_path / "ev" / "results.json").read_text())["per_image"][0]["image"] == "s0"
    assert main(["eval", str(ckpt), "--data", str(folder), "--max-pixels", "100", "--no-progress"]) == 2
    assert "s0.png' is 32x24 = 768 pixels, above the limit of 100 pixels" in capsys.readouterr().err
    assert main(["eval-diffusion", "--model", str(ckpt), "--data", str(folder), "--save-recon", "1"]) == 2
    assert "needs --out" in capsys.readouterr().err


def test_diffusion_eval_runs_the_eta_and_snr_error_ablations(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--cm-eta 0 1 --snr-error 0 3``: every consistency plan once per eta, every plan once per SNR error; rows
    carry both and the ablations change the result (and only where they apply)."""
    monkeypatch.delenv("JSCC_DATA", raising=False)
    rows = run_diffusion_eval("vae-1_16", None, "consistency-vae-1_16", data=None, snrs=[5.0], ddim_steps=[],
                              cm_steps=[2], noise_start_steps=[], max_images=1, show_progress=False,
                              snr_errors_db=[0.0, 3.0], cm_etas=[0.0, 1.0])
    key = lambda r: (r["receiver"], r["eta"], r["snr_error_db"])  # noqa: E731
    got = {key(r): r["psnr"] for r in rows}
    assert sorted(got) == sorted([("decoder", 0.0, 0.0), ("decoder-cond", 0.0, 0.0), ("consistency", 0.0, 0.0),
                                  ("consistency", 1.0, 0.0), ("decoder", 0.0, 3.0), ("decoder-cond", 0.0, 3.0),
                                  ("consistency", 0.0, 3.0), ("consistency", 1.0, 3.0)])
    assert got[("decoder-cond", 0.0, 0.0)] != got[("decoder", 0.0, 0.0)]  # conditioned on 20 dB, not on 5 dB
    assert all(r["model"] == "vae-1_16" for r in rows)
    assert got[("consistency", 0.0, 0.0)] != got[("consistency", 1.0, 0.0)]
    assert got[("decoder", 0.0, 0.0)] != got[("decoder", 0.0, 3.0)]
    with pytest.raises(JsccInputError, match="eta must lie in"):
        run_diffusion_eval("vae-1_16", None, "consistency-vae-1_16", data=None, snrs=[5.0], ddim_steps=[],
                           cm_steps=[2], noise_start_steps=[], cm_etas=[2.0])
