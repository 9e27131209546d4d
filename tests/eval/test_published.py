"""Published anchors: read from the project's copy (with sources), plotted beside ours and labelled as published."""
from __future__ import annotations

from pathlib import Path

import pytest

from jscc_rt._validate import JsccInputError
from jscc_rt.eval.published import published_psnr_vs_snr

ANCHORS = Path(__file__).resolve().parents[2] / "docs" / "published" / "published_kodak.json"


def test_anchor_curves_per_channel() -> None:
    awgn = published_psnr_vs_snr(ANCHORS, "awgn")
    swin = next(v for k, v in awgn.items() if k.startswith("SwinJSCC"))
    assert swin[0] == [1.0, 4.0, 7.0, 10.0, 13.0] and swin[1][3] == 33.17
    assert set(published_psnr_vs_snr(ANCHORS, "rayleigh")) == {"WITT", "Deep JSCC"}


def test_bad_file_is_a_clear_error_before_any_evaluation(tmp_path: Path) -> None:
    from jscc_rt.cli import main

    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(JsccInputError, match="cannot read published numbers"):
        published_psnr_vs_snr(tmp_path / "bad.json", "awgn")
    assert main(["eval", "jscc", "unrolled-1_16", "--published", str(tmp_path / "nope.json")]) == 2


def test_eval_plot_with_published_curves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.delenv("JSCC_DATA", raising=False)
    from jscc_rt.eval.report import run_eval

    run_eval(["unrolled-1_16"], data=None, snrs=[10.0], channels=["awgn"], draws=1, out=str(tmp_path),
             show_progress=False, max_images=1, published=str(ANCHORS))
    assert (tmp_path / "psnr_vs_snr.png").stat().st_size > 10000
