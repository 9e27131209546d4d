"""eval.comparators: a rate-adaptive model vs fixed-rate comparators per budget, and `jscc-rt eval compare`."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from jscc_rt._validate import JsccInputError
from jscc_rt.cli import main
from jscc_rt.eval.comparators import compare, markdown

IMAGES = [{"image": f"kodim{i:02d}", "size": "512x768"} for i in (1, 2)]


def _results(folder: Path, model: str, rows: dict[tuple[str, float], float], *, channel: str = "awgn",
             draws: int = 1, more: tuple[dict, ...] = (), **meta) -> Path:
    """A results.json as `jscc-rt eval jscc --out folder` writes it: ``rows`` maps (k/n, SNR dB) to PSNR."""
    folder.mkdir(parents=True)
    m = {"eval_set": "kodak", "n_images": 2, "seed": 0, "equalizer": "zf", "images": IMAGES, **meta}
    res = [{"model": model, "ratio": r, "channel": channel, "draws": draws, "snr_db": s, "n": 2, "psnr": p,
            "ms_ssim": p / 40} for (r, s), p in rows.items()] + list(more)
    (folder / "results.json").write_text(json.dumps({"meta": m, "results": res, "per_image": []}))
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    ra = {(r, s): 20.0 + 2 * i + s / 10 for i, r in enumerate(("1/64", "1/16", "1/4")) for s in (0.0, 10.0)}
    return {"ra": _results(tmp_path / "ra", "ra", ra),
            "1/64": _results(tmp_path / "c64", "cmp-1_64", {("1/64", 0.0): 19.5, ("1/64", 10.0): 21.6}),
            "1/4": _results(tmp_path / "c4", "cmp-1_4", {("1/4", 0.0): 24.1, ("1/4", 10.0): 25.2})}


def test_each_budget_and_snr_is_paired_and_the_verdict_counts_the_one_sided_margin(runs: dict[str, Path]) -> None:
    c = compare(runs["ra"], [runs["1/4"], runs["1/64"]])
    assert [(p.ratio, p.snr_db) for p in c.points] == [(Fraction(1, 64), 0.0), (Fraction(1, 64), 10.0),
                                                        (Fraction(1, 4), 0.0), (Fraction(1, 4), 10.0)]
    # adaptive minus comparator: +0.5 and -0.6 at 1/64, -0.1 and -0.2 at 1/4
    assert [round(p.lead_db, 6) for p in c.points] == [0.5, -0.6, -0.1, -0.2]
    assert c.pending == (Fraction(1, 16),)
    md = markdown(c, margin_db=0.5)
    assert "| 1/64 | 19.50 / 20.00 (+0.50) | 21.60 / 21.00 (-0.60) | 0.5400 / 0.5250 | cmp-1_64 |" in md
    assert "| 1/16 | pending | pending | pending |" in md
    assert "at 3 of 4 points; its smallest lead is -0.60 dB (k/n 1/64, 10 dB)" in md
    assert "Pending (no comparator evaluated yet): 1/16." in md
    assert "at 4 of 4 points" in markdown(c, margin_db=0.6)  # being ahead (+0.5) is within; -0.6 now too
    with pytest.raises(JsccInputError, match=r"margin_db=-0\.5: .* >= 0"):
        markdown(c, margin_db=-0.5)


def test_snrs_are_sorted_once_and_a_zero_lead_prints_unsigned(runs: dict[str, Path], tmp_path: Path) -> None:
    c = compare(runs["ra"], [runs["1/4"]], snrs_db=[10, 0, 10])
    assert c.snrs_db == (0.0, 10.0) and len(c.points) == 2
    even = _results(tmp_path / "even", "cmp-1_16", {("1/16", 0.0): 22.001, ("1/16", 10.0): 23.0})
    md = markdown(compare(runs["ra"], [even]))
    assert "(+0.00)" in md and "-0.00" not in md and "smallest lead is +0.00 dB" in md

@pytest.mark.parametrize("meta, match", [({"seed": 1}, r"seed=1.*evaluate both the same way"),
                                         ({"images": IMAGES[::-1]}, "different images"),
                                         ({"eval_set": "photos"}, "eval_set='photos'")])
def test_a_comparator_evaluated_differently_is_refused_naming_its_file(runs: dict[str, Path], tmp_path: Path,
                                                                      meta: dict, match: str) -> None:
    other = _results(tmp_path / "other", "cmp-1_16", {("1/16", 0.0): 22.0, ("1/16", 10.0): 23.0}, **meta)
    with pytest.raises(JsccInputError, match=match) as e:
        compare(runs["ra"], [other])
    assert str(other / "results.json") in str(e.value)


def test_ambiguous_or_incomplete_comparators_are_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    two = _results(tmp_path / "two", "cmp", {("1/64", 0.0): 1.0, ("1/4", 0.0): 1.0})
    with pytest.raises(JsccInputError, match="holds budgets.*one fixed-rate model at one budget"):
        compare(runs["ra"], [two])
    again = _results(tmp_path / "again", "cmp-1_4b", {("1/4", 0.0): 1.0, ("1/4", 10.0): 1.0})
    with pytest.raises(JsccInputError, match="are both comparators at 1/4"):
        compare(runs["ra"], [runs["1/4"], again])
    short = _results(tmp_path / "short", "cmp-1_16", {("1/16", 0.0): 1.0})
    with pytest.raises(JsccInputError, match=r"short/results.json' has no awgn row at k/n 1/16, 10 dB.*--snr 0 10"):
        compare(runs["ra"], [short])
    odd = _results(tmp_path / "odd", "cmp-1_8", {("1/8", 0.0): 1.0, ("1/8", 10.0): 1.0})
    with pytest.raises(JsccInputError, match=r"comparators at 1/8 have no budget in .*its budgets: 1/64, 1/16, 1/4"):
        compare(runs["ra"], [odd])
    with pytest.raises(JsccInputError, match="not a readable `jscc-rt eval jscc` results.json"):
        compare(runs["ra"], [tmp_path / "missing"])
    # two models at one budget in one folder: refused, not silently one of them
    pair = _results(tmp_path / "pair", "cmp-a", {("1/16", 0.0): 1.0, ("1/16", 10.0): 1.0},
                    more=({"model": "cmp-b", "ratio": "1/16", "channel": "awgn", "draws": 1, "snr_db": 0.0,
                           "psnr": 2.0},))
    with pytest.raises(JsccInputError, match=r"two awgn rows at k/n 1/16, 0 dB \(models 'cmp-a' and 'cmp-b'\)"):
        compare(runs["ra"], [pair])
    rayleigh = _results(tmp_path / "ray", "cmp-1_16", {("1/16", 0.0): 1.0}, channel="rayleigh")
    with pytest.raises(JsccInputError, match="has no awgn rows; evaluate it with --channel awgn, or leave it out"):
        compare(runs["ra"], [rayleigh])


def test_channel_draws_must_match(tmp_path: Path) -> None:
    ra = _results(tmp_path / "ra", "ra", {("1/16", 0.0): 20.0}, channel="rayleigh", draws=2)
    four = _results(tmp_path / "c4", "cmp", {("1/16", 0.0): 20.0}, channel="rayleigh", draws=4)
    with pytest.raises(JsccInputError, match=r"c4/results.json' has 4 channel draws .* 2; .*same --draws"):
        compare(ra, [four], channel="rayleigh")
    two = _results(tmp_path / "c2", "cmp", {("1/16", 0.0): 20.5}, channel="rayleigh", draws=2)
    md = markdown(compare(ra, [two], channel="rayleigh"))
    assert md.startswith("PSNR (dB), RAYLEIGH, 2 channel draw(s) per image") and "(-0.50)" in md


def test_cli_prints_and_writes_the_table(runs: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "md" / "compare.md"
    assert main(["eval", "compare", "--adaptive", str(runs["ra"]), "--fixed", str(runs["1/64"]), "--snr", "10",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text == out.read_text()
    assert "| k/n | 10 dB | MS-SSIM 10 dB |" in text and "at 0 of 1 points" in text
