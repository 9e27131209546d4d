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


def test_bandwidth_figure_reads_ratio_rows_and_baselines_per_ratio(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from fractions import Fraction

    from jscc_rt.eval.figures import baseline_rows, kodak_results, plot_psnr_vs_bandwidth, row_ratio
    from jscc_rt.eval.published import published_psnr_vs_ratio

    res = tmp_path / "res"
    (res / "ra").mkdir(parents=True)
    rows = [{"model": "ra", "ratio": r, "channel": "awgn", "snr_db": s, "psnr": 20 + s / 2 + 4 * float(Fraction(r))}
            for r in ("1/64", "1/16", "1/4") for s in (0.0, 10.0, 20.0)]
    (res / "ra" / "results.json").write_text(json.dumps({"meta": {"eval_set": "kodak"}, "results": rows}))
    for r, name in ((0.125, "baselines_r1_8"), (0.0625, "baselines")):
        (res / name).mkdir()
        (res / name / "baselines.json").write_text(json.dumps({"meta": {"eval_set": "kodak", "ratio": r}, "rows": [
            {"chain": "avif+ldpc", "channel": "awgn", "snr_db": 10.0, "psnr": 30 + 10 * r}]}))
    got = kodak_results(res)
    assert len(got) == 9 and {row_ratio(r) for r in got} == {Fraction(1, 64), Fraction(1, 16), Fraction(1, 4)}
    assert sorted(r["ratio"] for r in baseline_rows(res)) == [Fraction(1, 16), Fraction(1, 8)]
    pub = published_psnr_vs_ratio(ROOT / "docs/published/published_kodak.json", 10.0)
    assert any("SwinJSCC" in k for k in pub) and published_psnr_vs_ratio(ROOT / "docs/published/published_kodak.json", 0.0) == {}
    plot_psnr_vs_bandwidth(res, tmp_path / "bw.png", ROOT / "docs/published/published_kodak.json")
    assert (tmp_path / "bw.png").stat().st_size > 20000
