"""Model-based unrolled receiver: size, structure, training through the common loop, per-iteration report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from jscc_rt import JSCCConfig, JSCCModel, JsccInputError
from jscc_rt.cli import main


def test_about_100k_parameters_and_iteration_outputs() -> None:
    m = JSCCModel(JSCCConfig.for_ratio("1/16", "unrolled", width=32, unroll_iters=5))
    n = sum(p.numel() for p in m.parameters())
    assert 80_000 < n < 130_000, n
    big = sum(p.numel() for p in JSCCModel(JSCCConfig.for_ratio("1/16", "deepjscc")).parameters())
    assert big / n > 10  # 10-100x fewer parameters than Deep JSCC
    y = torch.randn(2, 24, 4, 6)
    outs = m.decoder(y, torch.zeros(2), return_all=True)
    assert len(outs) == 5 and all(o.shape == (2, 3, 32, 48) for o in outs)
    assert bool((m.decoder.step_sizes > 0).all())


def test_first_iteration_is_a_gradient_step_at_init() -> None:
    """With the denoiser's zero-initialized output, iteration k moves z toward y by alpha_k * w * (y - z)."""
    m = JSCCModel(JSCCConfig(model="unrolled", width=16, unroll_iters=1))
    y = torch.randn(1, 24, 2, 2)
    z0 = y.clone()
    # z_0 = y, so the data term is 0 and the zero-init denoiser adds 0: z_1 == y
    d = m.decoder
    assert torch.allclose(d.synthesize(z0), d(y, torch.zeros(1)))


def test_bad_config() -> None:
    with pytest.raises(JsccInputError, match="unrolled model needs downsample 8"):
        JSCCConfig(model="unrolled", downsample=16)


def test_train_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    assert main(["train", "--model", "unrolled", "--width", "16", "--unroll-iters", "3", "--crop", "32",
                 "--batch-size", "2", "--steps", "3", "--val-every", "3", "--val-images", "1", "--threads", "1",
                 "--out", str(tmp_path / "u"), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["eval-unrolled", str(tmp_path / "u" / "model.pt"), "--snr", "0", "10",
                 "--out", str(tmp_path / "r")]) == 0
    rep = json.loads((tmp_path / "r" / "unrolled.json").read_text())
    assert len(rep["step_sizes"]) == 3 and set(rep["psnr"]) == {"0.0", "10.0"}
    assert all(len(v) == 3 for v in rep["psnr"].values())
    assert (tmp_path / "r" / "unrolled.png").stat().st_size > 5000
