"""FLIP (flip-evaluator): the metric itself, and that eval / eval-diffusion / the Pareto harness report it."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from jscc_rt.eval import MetricUnavailable, flip_error

flip_evaluator = pytest.importorskip("flip_evaluator")


def test_flip_error_matches_the_package_and_orders_distortions() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 48, 64, generator=g)
    small = (x + 0.02 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    large = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    f_same, f_small, f_large = flip_error(x, x), flip_error(x, small), flip_error(x, large)
    assert f_same.shape == (2,) and f_same.abs().max() == 0
    assert (0 < f_small).all() and (f_small < f_large).all()
    ref = flip_evaluator.evaluate(x[1].permute(1, 2, 0).numpy(), large[1].permute(1, 2, 0).numpy(), "LDR",
                                  applyMagma=False)[1]
    assert f_large[1].item() == pytest.approx(float(ref), abs=1e-7)


def test_flip_error_refuses_bad_input_and_a_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        flip_error(x, x * 2)
    with pytest.raises(ValueError, match="two \\(B, 3, H, W\\)"):
        flip_error(x, x[:, :2])
    monkeypatch.setitem(sys.modules, "flip_evaluator", None)
    with pytest.raises(MetricUnavailable, match="flip-evaluator"):
        flip_error(x, x)


def test_eval_and_diffusion_tables_report_flip(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    from jscc_rt.eval.diffusion_eval import diffusion_markdown, eval_link
    from jscc_rt.eval.report import run_eval
    from jscc_rt.models import load_model
    from jscc_rt.models.registry import resolve_checkpoint
    from jscc_rt.pipeline import Link

    table = run_eval(["unrolled-1_16"], data=None, snrs=[10.0], channels=["awgn"], draws=1, out=str(tmp_path),
                     show_progress=False, max_images=1)
    assert "| FLIP |" in table
    row = table.splitlines()[-1].split("|")
    assert 0 < float(row[7]) < 1
    rows = eval_link(Link(load_model(resolve_checkpoint("unrolled-1_16"))), None, [10.0], max_images=1)
    assert 0 < rows[0]["flip"] < 1 and rows[0]["images"][0]["flip"] == pytest.approx(rows[0]["flip"])
    md = diffusion_markdown([{"receiver": "decoder", "steps": 0, "start": "matched", **rows[0]}])
    assert "| FLIP |" in md and f"{rows[0]['flip']:.4f}" in md
    assert np.isfinite(rows[0]["psnr"])
