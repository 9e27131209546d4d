"""``jscc-rt eval --ratios``: a rate-adaptive model is evaluated at each budget, fixed-rate models at their own, the
rows carry k/n, psnr_vs_ratio.png is written, and a budget outside a model's range fails before any image runs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from jscc_rt import JSCCConfig, JSCCModel, save_model
from jscc_rt.cli import main


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("ratios")
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig.for_ratio("1/4", "unrolled", width=16, min_ratio="1/64")), d / "ra.pt")
    save_model(JSCCModel(JSCCConfig.for_ratio("1/16", "unrolled", width=16)), d / "fixed.pt")
    return d / "ra.pt", d / "fixed.pt"


def test_rows_per_ratio_and_plot(ckpts: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.delenv("JSCC_DATA", raising=False)
    ra, fixed = ckpts
    assert main(["eval", "jscc", str(ra), str(fixed), "--ratios", "1/32", "1/8", "--snr", "10", "--channel", "awgn",
                 "--max-images", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    res = json.loads((tmp_path / "results.json").read_text())["results"]
    assert sorted((r["model"], r["ratio"]) for r in res) == [("fixed", "1/16"), ("ra", "1/32"), ("ra", "1/8")]
    assert (tmp_path / "psnr_vs_ratio.png").stat().st_size > 0
    assert "| ra | 1/8 | awgn | 10 |" in (tmp_path / "table.md").read_text()


def test_ratio_outside_the_range_is_refused(ckpts: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", "jscc", str(ckpts[0]), "--ratios", "1/2", "--snr", "10", "--no-progress"]) == 2
    assert "ratio 1/2 is outside the model's trained range [1/64, 1/4]" in capsys.readouterr().err


def test_a_single_ratio_is_sent_at_that_budget(ckpts: tuple[Path, Path], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """One --ratios value must still reach the link (not the model's largest budget)."""
    monkeypatch.delenv("JSCC_DATA", raising=False)
    psnr = {}
    for r in ("1/64", "1/4"):
        assert main(["eval", "jscc", str(ckpts[0]), "--ratios", r, "--snr", "10", "--channel", "awgn",
                     "--max-images", "1", "--out", str(tmp_path / r.replace("/", "_")), "--no-progress"]) == 0
        res = json.loads((tmp_path / r.replace("/", "_") / "results.json").read_text())["results"]
        assert [x["ratio"] for x in res] == [r]
        psnr[r] = res[0]["psnr"]
    assert psnr["1/64"] != psnr["1/4"]
