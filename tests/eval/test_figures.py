"""`jscc-rt report`: figures and the model table come from the result JSONs as they are."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from jscc_rt._validate import JsccInputError

ROOT = Path(__file__).resolve().parents[2]


def test_report_from_the_recorded_results(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from jscc_rt.cli import main
    from jscc_rt.eval.figures import kodak_results

    assert main(["report", "--results", str(ROOT / "docs/results"), "--models", "unrolled-1_16",
                 "--published", str(ROOT / "docs/published/published_kodak.json"), "--out", str(tmp_path)]) == 0
    for ch in ("awgn", "rayleigh"):
        assert (tmp_path / f"psnr_vs_snr_{ch}.png").stat().st_size > 20000
    snrs = {p["snr_db"] for p in json.loads((ROOT / "docs/results/pareto_kodak/pareto.json").read_text())["points"]}
    for snr in snrs:  # the Pareto frontier and the unrolled figure are drawn from their JSONs too
        assert (tmp_path / f"pareto_snr{snr:g}.png").stat().st_size > 20000
    assert (tmp_path / "unrolled.png").stat().st_size > 20000
    row = (tmp_path / "models.md").read_text().splitlines()[-1].split("|")
    measured = {r["snr_db"]: r["psnr"] for r in kodak_results(ROOT / "docs/results")
                if r["model"] == "unrolled-1_16" and r["channel"] == "awgn"}
    assert row[1].strip() == "unrolled-1_16" and row[2].strip() == "0.11 M"
    assert float(row[6]) == round(measured[0.0], 2) and float(row[7]) == round(measured[10.0], 2)
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


def test_model_table_takes_the_decoder_latency_rows_that_name_their_model(tmp_path: Path) -> None:
    from jscc_rt.eval.figures import decoder_latency, table_markdown

    (tmp_path / "lat").mkdir()
    rows = [{"model": "m", "graph": "receiver_decoder", "backend": b, "precision": p, "threads": 2,
             "latency_ms_p50": ms} for b, p, ms in (("torch", "fp32", 300.0), ("openvino-bf16", "bf16", 120.0))]
    rows += [{"graph": "receiver_decoder", "backend": "torch", "precision": "fp32", "threads": 2,
              "latency_ms_p50": 1.0}]  # a row that names no model is not attributed to one
    (tmp_path / "lat" / "latency.json").write_text(json.dumps({"rows": rows}))
    lat = decoder_latency(tmp_path)
    assert lat == {"m": {"torch_ms": 300.0, "fastest_ms": 120.0, "fastest": "openvino-bf16 bf16", "threads": 2,
                         "device": None}}
    md = table_markdown([{"model": "m", "params": 1e6, "encoder_gmac": 1.0, "decoder_gmac": 2.0, "psnr_0db": 26.0,
                          "psnr_10db": 30.0, "latency": lat["m"]}])
    assert "| 300.00 / 120.0 (openvino-bf16 bf16, 2 threads) |" in md and "decoder latency ms: torch" in md


def test_model_table_latency_comes_from_one_machine(tmp_path: Path) -> None:
    """A table run timed models a and b on machine X; a later run timed a alone on machine Y: the table keeps X's
    rows for both (latency is compared only within one machine) and names X in its header."""
    import os

    from jscc_rt.eval.figures import decoder_latency, table_markdown

    def write(name: str, device: str, ms: dict[str, float], mtime: int) -> None:
        (tmp_path / name).mkdir()
        rows = [{"model": m, "graph": "receiver_decoder", "backend": "torch", "precision": "fp32", "threads": 2,
                 "device": device, "latency_ms_p50": v} for m, v in ms.items()]
        f = tmp_path / name / "latency.json"
        f.write_text(json.dumps({"rows": rows}))
        os.utime(f, (mtime, mtime))

    write("table_x", "X", {"a": 10.0, "b": 20.0}, 1_000)
    write("later_y", "Y", {"a": 99.0}, 2_000)
    lat = decoder_latency(tmp_path)
    assert {m: (v["torch_ms"], v["device"]) for m, v in lat.items()} == {"a": (10.0, "X"), "b": (20.0, "X")}
    md = table_markdown([{"model": m, "params": 1e6, "encoder_gmac": 1.0, "decoder_gmac": 2.0, "psnr_0db": None,
                          "psnr_10db": None, "latency": lat[m]} for m in ("a", "b")])
    assert "decoder latency ms on X: torch fp32 / fastest CPU" in md
    write("later_y2", "Y", {"b": 98.0}, 3_000)  # a tie (two models each): the machine measured last wins
    assert {m: (v["torch_ms"], v["device"]) for m, v in decoder_latency(tmp_path).items()} == {"a": (99.0, "Y"),
                                                                                             "b": (98.0, "Y")}
    # coverage counts the table's models only: Z timed three training runs, none of them in the table
    write("runs_z", "Z (OpenVINO 2026.4)", {"run1": 1.0, "run2": 1.0, "run3": 1.0}, 4_000)
    assert {v["device"] for v in decoder_latency(tmp_path, ["a", "b"]).values()} == {"Y"}
    assert {v["device"] for v in decoder_latency(tmp_path).values()} == {"Z"}  # the OpenVINO suffix is not the machine
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "latency.json").write_text('{"rows": [')  # a run killed mid-write
    with pytest.raises(JsccInputError, match=r"result file .*broken/latency.json cannot be read as JSON"):
        decoder_latency(tmp_path)


def test_perceptual_points_from_eval_and_diffusion_results(tmp_path: Path) -> None:
    from jscc_rt.eval.figures import perceptual_points

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.json").write_text(json.dumps({"meta": {"eval_set": "kodak"}, "results": [
        {"model": "m", "channel": "awgn", "snr_db": 0.0, "psnr": 26.0, "flip": 0.18},
        {"model": "m", "channel": "awgn", "snr_db": 10.0, "psnr": 30.0, "flip": None}]}))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "diffusion.json").write_text(json.dumps([
        {"model": "m", "receiver": "consistency", "steps": 2, "start": "matched", "channel": "awgn", "snr_db": 0.0,
         "psnr": 25.9, "flip": 0.16, "eval_set": "kodak", "snr_error_db": 0.0},
        {"model": "m", "receiver": "ddim", "steps": 4, "start": "matched", "channel": "awgn", "snr_db": 0.0,
         "psnr": 25.0, "flip": 0.2, "eval_set": "kodak", "snr_error_db": 3.0}]))  # a mismatch study: left out
    pts = perceptual_points(tmp_path, 0.0)
    assert pts == [{"label": "m", "psnr": 26.0, "flip": 0.18},
                   {"label": "m consistency x2", "psnr": 25.9, "flip": 0.16}]
    assert perceptual_points(tmp_path, 10.0) == []


def _pareto_points(snrs: tuple[float, ...]) -> list[dict]:
    """``bench pareto`` rows as ``pareto.json`` holds them (two backends, three receivers)."""
    return [{"backend": be, "precision": "fp32", "threads": 2, "device": "cpu", "sampler": smp, "steps": n,
             "snr_db": snr, "psnr": 20 + snr / 4 + n / 2, "ms_ssim": 0.8, "lpips": None, "flip": 0.2,
             "latency_ms_p50": ms * (1 + n), "latency_ms_p90": ms * (1 + n), "latency_ms_p99": ms * (1 + n),
             "latency_ms_mean": ms * (1 + n), "runs": 2.0, "throughput_img_s": 1000 / (ms * (1 + n)),
             "latency_snr_db": snr, "images": []}
            for snr in snrs for be, ms in (("torch", 100.0), ("onnxruntime", 60.0))
            for smp, n in (("decoder", 0), ("consistency", 1), ("consistency", 2), ("unrolled-1_16", 0))]


def test_report_draws_pareto_and_unrolled_from_their_jsons(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import os

    from jscc_rt.eval.figures import newest_pareto, write_report_figures

    res = tmp_path / "res"
    for name, snrs, age in (("pareto_old", (5.0,), 1000), ("pareto_kodak", (0.0, 10.0), 0)):
        (res / name).mkdir(parents=True)
        f = res / name / "pareto.json"
        f.write_text(json.dumps({"meta": {"eval_set": "kodak"}, "points": _pareto_points(snrs), "skipped": {}}))
        os.utime(f, (f.stat().st_mtime - age, f.stat().st_mtime - age))
    (res / "unrolled").mkdir()
    (res / "unrolled" / "unrolled.json").write_text(json.dumps(  # the SNR keys are strings once in JSON
        {"step_sizes": [0.31, 0.32, 0.30], "psnr": {"0.0": [22.3, 22.7, 23.1], "10.0": [23.9, 24.3, 24.7]}}))
    assert newest_pareto(res) == res / "pareto_kodak" / "pareto.json"
    text = write_report_figures(res, tmp_path / "out", [])
    assert "skipped" not in text
    for snr in (0, 10):
        assert (tmp_path / "out" / f"pareto_snr{snr}.png").stat().st_size > 5000
    assert not (tmp_path / "out" / "pareto_snr5.png").exists(), "only the newest pareto.json is drawn"
    assert (tmp_path / "out" / "unrolled.png").stat().st_size > 5000

    (tmp_path / "empty").mkdir()  # no pareto.json, no unrolled.json: those figures are skipped and said so
    text = write_report_figures(tmp_path / "empty", tmp_path / "out2", [])
    assert "Figure skipped, pareto_snr*.png: no pareto.json under" in text
    assert "Figure skipped, unrolled.png: no " in text and "jscc-rt eval unrolled" in text
    assert not list((tmp_path / "out2").glob("pareto_snr*.png")) and not (tmp_path / "out2" / "unrolled.png").exists()
    assert (tmp_path / "out2" / "psnr_vs_snr_awgn.png").is_file() and (tmp_path / "out2" / "models.md").is_file()


def test_results_keep_only_the_named_models_and_label_training_runs_by_their_folder(tmp_path: Path) -> None:
    from jscc_rt.eval.figures import kodak_results
    from jscc_rt.models.registry import checkpoint_label

    assert checkpoint_label("train/checkpoints/rate-adaptive-3/model.pt") == "rate-adaptive-3"
    assert checkpoint_label("jscc_rt/weights/unrolled-w128-1_16.pt") == "unrolled-w128-1_16"
    assert checkpoint_label("model.pt") == "model"
    (tmp_path / "a").mkdir()
    rows = [{"model": m, "channel": "awgn", "snr_db": 10.0, "psnr": p}
            for m, p in (("unrolled-1_16", 26.0), ("fixed-comparator-1_16", 29.0))]
    (tmp_path / "a" / "results.json").write_text(json.dumps({"meta": {"eval_set": "kodak"}, "results": rows}))
    assert {r["model"] for r in kodak_results(tmp_path)} == {"unrolled-1_16", "fixed-comparator-1_16"}
    assert [r["psnr"] for r in kodak_results(tmp_path, ["unrolled-1_16"])] == [26.0]


def test_the_newest_measurement_wins_by_its_recorded_date_not_the_files_mtime(tmp_path: Path) -> None:
    """A fresh clone writes result files in checkout order; `meta.date` (what the run recorded) decides which of two
    files holding the same model, ratio and channel is the newer measurement; files without a date use their mtime."""
    import os

    from jscc_rt.eval.figures import kodak_results, oldest_first, recorded_date

    for name, date, psnr, age in (("later_run", "2026-12-04T22:00:00+00:00", 30.0, 1000),
                                  ("earlier_run", "2026-12-03T09:00:00+00:00", 29.0, 0)):
        (tmp_path / name).mkdir()
        f = tmp_path / name / "results.json"
        f.write_text(json.dumps({"meta": {"eval_set": "kodak", "date": date}, "results": [
            {"model": "m", "channel": "awgn", "snr_db": 10.0, "psnr": psnr}]}))
        os.utime(f, (f.stat().st_mtime - age, f.stat().st_mtime - age))  # the older run has the newer mtime
    assert [r["psnr"] for r in kodak_results(tmp_path)] == [30.0]
    (tmp_path / "undated").mkdir()
    u = tmp_path / "undated" / "latency.json"
    u.write_text(json.dumps({"rows": []}))
    os.utime(u, (0, 0))  # 1970: before both dated files
    assert recorded_date(u) == "1970-01-01T00:00:00+00:00"
    assert [p.parent.name for p in oldest_first(tmp_path.glob("*/*.json"))] == ["undated", "earlier_run", "later_run"]
