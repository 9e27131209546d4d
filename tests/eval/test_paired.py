"""eval.paired (image-by-image differences of two receivers) and the Pareto markdown section built on it."""
from __future__ import annotations

import math

import pytest

from jscc_rt._validate import JsccInputError
from jscc_rt.bench.pareto import paired_lines
from jscc_rt.eval.paired import paired, paired_text


def _imgs(psnr: list[float], flip: list[float | None]) -> list[dict]:
    return [{"image": f"kodim{i + 1:02d}", "psnr": p, "flip": f} for i, (p, f) in enumerate(zip(psnr, flip))]


def test_paired_differences_count_better_images_by_the_metrics_direction() -> None:
    base = _imgs([20.0, 25.0, 30.0, 22.0], [0.20, 0.10, 0.05, 0.40])
    other = _imgs([20.5, 25.1, 29.9, 22.3], [0.19, 0.09, 0.06, 0.38])
    p = paired(base, other, "psnr")
    d = [0.5, 0.1, -0.1, 0.3]
    mean, sd = sum(d) / 4, math.sqrt(sum((x - 0.2) ** 2 for x in d) / 3)
    assert p.n == 4 and p.better == 3 and p.mean == pytest.approx(mean) and p.t == pytest.approx(mean / (sd / 2))
    f = paired(base, other, "flip")  # lower is better: three of four images improve
    rel = [-0.05, -0.1, 0.2, -0.05]  # per image; their mean is 0, so their t is 0 whatever the absolute mean
    assert f.better == 3 and f.mean == pytest.approx(-0.0075)
    assert f.rel_pct == pytest.approx(0.0, abs=1e-12) and f.t == pytest.approx(0.0, abs=1e-9)
    assert paired_text(p) == f"+0.20 dB, 3/4 better, t {mean / (sd / 2):+.1f}"
    assert paired_text(f) == "+0.00 %, 3/4 better, t +0.0"  # a rounded zero prints unsigned
    assert sum(rel) == pytest.approx(0.0)
    same = paired(base, base, "psnr")
    assert same.t is None and same.better == 0 and paired_text(same) == "+0.00 dB, 0/4 better"


def test_missing_metric_gives_none_and_other_images_are_refused() -> None:
    base = _imgs([20.0, 21.0], [0.2, None])
    assert paired(base, base, "flip") is None and paired_text(None) == "n/a"
    assert paired(base, _imgs([20.0, math.inf], [0.2, 0.1]), "psnr") is None  # a perfect image: no finite difference
    near = paired(_imgs([20.0, 30.0, 40.0], [0.1] * 3), _imgs([20.1, 30.1, 40.1], [0.1] * 3), "psnr")
    assert near.t is None and paired_text(near) == "+0.10 dB, 3/3 better"  # equal differences up to rounding
    with pytest.raises(JsccInputError, match="named twice"):
        paired(base + base[:1], base + base[:1], "psnr")
    with pytest.raises(JsccInputError, match=r"same two or more images .*differing in \['kodim03'\]"):
        paired(base, _imgs([20.0, 21.0, 22.0], [0.1, 0.1, 0.1]), "psnr")
    with pytest.raises(JsccInputError, match="metric='bleu'"):
        paired(base, base, "bleu")


def test_pareto_markdown_pairs_each_denoising_receiver_with_the_best_decoder_alone() -> None:
    weak = _imgs([19.0, 20.0, 21.0], [0.3, 0.3, 0.3])
    best = _imgs([20.0, 21.0, 22.0], [0.2, 0.2, 0.2])
    ddim = _imgs([20.1, 21.2, 21.9], [0.19, 0.18, 0.21])
    pt = lambda s, k, imgs: {"backend": "torch", "snr_db": 0.0, "sampler": s, "steps": k, "images": imgs,  # noqa: E731
                             "psnr": sum(r["psnr"] for r in imgs) / 3}
    lines = paired_lines([pt("decoder", 0, weak), pt("flagship", 0, best), pt("ddim", 2, ddim)])
    assert lines[-1].startswith("| torch | 0 | ddim | 2 | +0.07 dB, 2/3 better") and lines[-1].endswith("| flagship |")
    assert paired_lines([{**pt("ddim", 2, ddim), "images": None}]) == []
    assert paired_lines([pt("flagship", 0, best[:1]), pt("ddim", 2, ddim[:1])]) == []  # one image: nothing to pair
