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
    per-image relative differences, %), ``t`` (paired t statistic of the dB differences for PSNR, of the relative
    differences for the other metrics, as :func:`paired_text` prints them; None when all differences are equal),
    ``better`` (images where ``other`` is better: higher PSNR / SSIM / MS-SSIM, lower FLIP / LPIPS)."""

    metric: str
    n: int
    mean: float
    rel_pct: float
    t: float | None
    better: int


def paired(base: Sequence[dict], other: Sequence[dict], metric: str) -> Paired | None:
    """Compare per-image rows (``{"image": name, metric: value, ...}``, as `eval` and `bench pareto` record them) of
    two receivers on the same images. Returns None when either side lacks ``metric`` on some image (e.g. FLIP not
    installed) or a value is not finite (PSNR of a perfect reconstruction); raises :class:`JsccInputError` naming
    the images when the two sides were measured on different ones, on fewer than two, or name an image twice."""
    if metric not in HIGHER_IS_BETTER:
        raise JsccInputError(f"metric={metric!r}: one of {sorted(HIGHER_IS_BETTER)}")
    a, b = {r["image"]: r for r in base}, {r["image"]: r for r in other}
    if len(a) != len(base) or len(b) != len(other):
        raise JsccInputError(f"paired comparison: an image is named twice among {len(base)} and {len(other)} rows; "
                             "pass one row per image")
    if a.keys() != b.keys() or len(a) < 2:
        only = sorted(a.keys() ^ b.keys())[:4]
        raise JsccInputError(f"paired comparison needs the same two or more images on both sides; got {len(a)} and "
                             f"{len(b)}" + (f", differing in {only}" if only else ""))
    if any(a[k].get(metric) is None or b[k].get(metric) is None for k in a):
        return None
    va, vb = [a[k][metric] for k in a], [b[k][metric] for k in a]
    if not all(math.isfinite(x) for x in va + vb) or (metric != "psnr" and not all(va)):
        return None  # an infinite PSNR (a perfect image) or a zero distance has no finite difference to average
    d = [y - x for x, y in zip(va, vb)]
    rel = [y / x - 1 for x, y in zip(va, vb) if x]
    n = len(d)
    sign = 1 if HIGHER_IS_BETTER[metric] else -1
    # the t of what is printed: dB differences for PSNR, relative differences for the others
    return Paired(metric, n, sum(d) / n, 100 * sum(rel) / max(len(rel), 1), _t(d if metric == "psnr" else rel),
                  sum(sign * x > 0 for x in d))


def _t(x: list[float]) -> float | None:
    """Paired t statistic of the differences ``x``: mean over its standard error; None when they are all equal (to
    rounding)."""
    n = len(x)
    mean = sum(x) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (n - 1))
    return mean / (sd / math.sqrt(n)) if sd > 1e-12 * max(1.0, abs(mean)) else None


def signed(x: float, decimals: int = 2) -> str:
    """``x`` with its sign at ``decimals`` places; a value that rounds to zero prints "+0.00", never "-0.00"."""
    return f"{round(x, decimals) + 0.0:+.{decimals}f}"


def paired_text(p: Paired | None) -> str:
    """``+0.06 dB, 17/24 better, t +3.5`` (PSNR) or ``-2.29 %, 20/24 better, t -5.4`` (other metrics); ``n/a``."""
    if p is None:
        return "n/a"
    size = f"{signed(p.mean)} dB" if p.metric == "psnr" else f"{signed(p.rel_pct)} %"
    return f"{size}, {p.better}/{p.n} better" + ("" if p.t is None else f", t {signed(p.t, 1)}")
