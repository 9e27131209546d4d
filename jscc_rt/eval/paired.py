"""Image-by-image comparison of two receivers on the same evaluation images: is a small mean difference consistent?

The mean PSNR or FLIP of two receivers may differ by a few hundredths of a dB or a percent; whether that is the
receiver or a handful of images is told by the paired differences: how many images improve, and the paired
t statistic (mean difference over its standard error). Used by the Pareto harness's markdown (`bench pareto`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from jscc_rt._validate import JsccInputError

#: Metrics where a larger value is better; the others (FLIP, LPIPS) are distances.
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "ms_ssim": True, "flip": False, "lpips": False}


@dataclass(frozen=True)
class Paired:
    """``other`` minus ``base`` over ``n`` images: ``mean`` (the metric's unit: dB for PSNR), ``rel_pct`` (mean of the
    per-image relative differences, %), ``t`` (paired t statistic; None when all differences are equal), ``better``
    (images where ``other`` is better: higher PSNR / SSIM / MS-SSIM, lower FLIP / LPIPS)."""

    metric: str
    n: int
    mean: float
    rel_pct: float
    t: float | None
    better: int


def paired(base: Sequence[dict], other: Sequence[dict], metric: str) -> Paired | None:
    """Compare per-image rows (``{"image": name, metric: value, ...}``, as `eval` and `bench pareto` record them) of
    two receivers on the same images. Returns None when either side lacks ``metric`` on some image (e.g. FLIP not
    installed); raises :class:`JsccInputError` naming the images when the two sides were measured on different
    ones, or on fewer than two."""
    if metric not in HIGHER_IS_BETTER:
        raise JsccInputError(f"metric={metric!r}: one of {sorted(HIGHER_IS_BETTER)}")
    a, b = {r["image"]: r for r in base}, {r["image"]: r for r in other}
    if a.keys() != b.keys() or len(a) < 2:
        only = sorted(a.keys() ^ b.keys())[:4]
        raise JsccInputError(f"paired comparison needs the same two or more images on both sides; got {len(a)} and "
                             f"{len(b)}" + (f", differing in {only}" if only else ""))
    if any(a[k].get(metric) is None or b[k].get(metric) is None for k in a):
        return None
    d = [b[k][metric] - a[k][metric] for k in a]
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    rel = 100 * sum(b[k][metric] / a[k][metric] - 1 for k in a) / n if all(a[k][metric] for k in a) else math.nan
    sign = 1 if HIGHER_IS_BETTER[metric] else -1
    return Paired(metric, n, mean, rel, mean / (sd / math.sqrt(n)) if sd > 0 else None,
                  sum(sign * x > 0 for x in d))


def paired_text(p: Paired | None) -> str:
    """``+0.06 dB, 17/24 better, t +3.5`` (PSNR) or ``-2.29 %, 20/24 better, t -5.4`` (other metrics); ``n/a``."""
    if p is None:
        return "n/a"
    size = f"{round(p.mean, 2) + 0.0:+.2f} dB" if p.metric == "psnr" else f"{round(p.rel_pct, 2) + 0.0:+.2f} %"
    return f"{size}, {p.better}/{p.n} better" + ("" if p.t is None else f", t {p.t:+.1f}")
