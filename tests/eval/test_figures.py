"""`jscc-rt report`: figures and the model table come from the result JSONs as they are."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_report_from_the_recorded_results(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from jscc_rt.cli import main
    from jscc_rt.eval.figures import kodak_results

    assert main(["report", "--results", str(ROOT / "docs/results"), "--models", "unrolled-1_16",
                 "--published", str(ROOT / "docs/published/published_kodak.json"), "--out", str(tmp_path)]) == 0
    for ch in ("awgn", "rayleigh"):
        assert (tmp_path / f"psnr_vs_snr_{ch}.png").stat().st_size > 20000
    row = (tmp_path / "models.md").read_text().splitlines()[-1].split("|")
    measured = {r["snr_db"]: r["psnr"] for r in kodak_results(ROOT / "docs/results")
                if r["model"] == "unrolled-1_16" and r["channel"] == "awgn"}
    assert row[1].strip() == "unrolled-1_16" and row[2].strip() == "0.11 M"
    assert float(row[5]) == round(measured[0.0], 2) and float(row[6]) == round(measured[10.0], 2)
    src = {r["source"] for r in kodak_results(ROOT / "docs/results")}
    assert all(json.loads(Path(s).read_text())["meta"]["eval_set"] == "kodak" for s in src)
    assert main(["report", "--results", str(tmp_path / "nope"), "--out", str(tmp_path / "x")]) == 2
