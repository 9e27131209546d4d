"""A rate-adaptive model against fixed-rate comparators, budget by budget, from ``jscc-rt eval jscc`` results (#19).

Each comparator is a model of the same architecture trained for one budget; the rate-adaptive model is compared at
that budget and each SNR. Both sides must come from the same evaluation (image set, images, seed, channel, one draw
per image), or the difference would measure the evaluation, not the models; anything else is an error naming the
file. Budgets of the adaptive results without a comparator are listed as pending, never silently dropped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from jscc_rt._validate import JsccInputError
from jscc_rt.eval.figures import row_ratio

#: Evaluation settings both sides must share (``meta`` of results.json).
SAME_EVAL = ("eval_set", "n_images", "seed", "equalizer")


@dataclass(frozen=True)
class Point:
    """One budget and SNR: PSNR (dB) and MS-SSIM on the evaluation's images, adaptive vs comparator."""

    ratio: Fraction
    snr_db: float
    adaptive_psnr: float
    fixed_psnr: float
    adaptive_ms_ssim: float | None
    fixed_ms_ssim: float | None
    fixed_source: str

    @property
    def lead_db(self) -> float:
        """Adaptive minus comparator PSNR (dB): negative when the model trained for this budget alone is ahead."""
        return self.adaptive_psnr - self.fixed_psnr


@dataclass(frozen=True)
class Comparison:
    """``points`` in budget, then SNR order; ``pending``: budgets of the adaptive results with no comparator yet."""

    points: tuple[Point, ...]
    pending: tuple[Fraction, ...]
    snrs_db: tuple[float, ...]
    channel: str


def _load(path: Path) -> dict:
    f = path / "results.json" if path.is_dir() else path
    try:
        d = json.loads(f.read_text())
        d["meta"], d["results"]  # noqa: B018  (both must be there)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise JsccInputError(f"{str(f)!r} is not a readable `jscc-rt eval jscc` results.json ({type(e).__name__}); "
                             "run `jscc-rt eval jscc ... --out DIR` and pass DIR") from None
    d["path"] = str(f)
    return d


def _rows(d: dict, channel: str) -> dict[tuple[Fraction, float], dict]:
    out = {}
    for r in d["results"]:
        if r["channel"] != channel:
            continue
        if r.get("draws", 1) != 1 and channel == "awgn":
            raise JsccInputError(f"{d['path']!r} has {r['draws']} draws per image; compare one-draw AWGN runs")
        ratio = row_ratio(r)
        if ratio is None:
            raise JsccInputError(f"{d['path']!r}: row of {r['model']!r} carries no k/n and its name gives none")
        out[(ratio, float(r["snr_db"]))] = r
    return out


def compare(adaptive: str | Path, fixed: Sequence[str | Path], *, snrs_db: Sequence[float] | None = None,
            channel: str = "awgn") -> Comparison:
    """Pair the rate-adaptive model's results (``adaptive``: a results folder or results.json holding several
    ``ratio`` rows) with each fixed-rate comparator's (one budget each) at ``snrs_db`` (default: every SNR the
    adaptive results have). Raises :class:`JsccInputError` naming the file when the evaluations differ
    (:data:`SAME_EVAL`, the image list), a comparator holds more than one budget or model, two comparators claim the
    same budget, or a comparator lacks an SNR the comparison asks for."""
    a = _load(Path(adaptive))
    a_rows = _rows(a, channel)
    if not a_rows:
        raise JsccInputError(f"{a['path']!r} has no {channel} rows")
    snrs = tuple(float(s) for s in snrs_db) if snrs_db else tuple(sorted({s for _, s in a_rows}))
    ratios = sorted({r for r, _ in a_rows})
    by_ratio: dict[Fraction, tuple[dict, dict]] = {}
    for p in fixed:
        d = _load(Path(p))
        for k in SAME_EVAL:
            if d["meta"].get(k) != a["meta"].get(k):
                raise JsccInputError(f"{d['path']!r} was evaluated with {k}={d['meta'].get(k)!r}, {a['path']!r} with "
                                     f"{a['meta'].get(k)!r}; evaluate both the same way")
        if [i["image"] for i in d["meta"].get("images", [])] != [i["image"] for i in a["meta"].get("images", [])]:
            raise JsccInputError(f"{d['path']!r} and {a['path']!r} were evaluated on different images")
        rows = _rows(d, channel)
        own = {r for r, _ in rows}
        models = {r["model"] for r in rows.values()}
        if len(own) != 1 or len(models) != 1:
            raise JsccInputError(f"{d['path']!r} holds budgets {sorted(map(str, own))} of models {sorted(models)}; "
                                 "a comparator is one fixed-rate model at one budget")
        (ratio,) = own
        if ratio in by_ratio:
            raise JsccInputError(f"{d['path']!r} and {by_ratio[ratio][0]['path']!r} are both comparators at {ratio}")
        by_ratio[ratio] = (d, rows)
    points = []
    for ratio in ratios:
        if ratio not in by_ratio:
            continue
        d, rows = by_ratio[ratio]
        for s in snrs:
            if (ratio, s) not in a_rows or (ratio, s) not in rows:
                where = a["path"] if (ratio, s) not in a_rows else d["path"]
                raise JsccInputError(f"{where!r} has no {channel} row at k/n {ratio}, {s:g} dB; evaluate it with "
                                     f"--snr {' '.join(f'{x:g}' for x in snrs)}")
            ar, fr = a_rows[(ratio, s)], rows[(ratio, s)]
            points.append(Point(ratio, s, ar["psnr"], fr["psnr"], ar.get("ms_ssim"), fr.get("ms_ssim"), d["path"]))
    extra = sorted(set(by_ratio) - set(ratios))
    if extra:
        raise JsccInputError(f"comparators at {', '.join(map(str, extra))} have no budget in {a['path']!r} "
                             f"(its budgets: {', '.join(map(str, ratios))})")
    return Comparison(tuple(points), tuple(r for r in ratios if r not in by_ratio), snrs, channel)


def markdown(c: Comparison, margin_db: float = 0.5) -> str:
    """The table (comparator / adaptive PSNR, the adaptive model's lead in brackets, MS-SSIM at the middle SNR) and
    the verdict: at how many points the adaptive model is at most ``margin_db`` below its comparator (one-sided: being
    ahead is within), its smallest lead, the pending budgets."""
    mid = c.snrs_db[len(c.snrs_db) // 2]
    head = "| k/n | " + " | ".join(f"{s:g} dB" for s in c.snrs_db) + f" | MS-SSIM {mid:g} dB |"
    lines = [f"PSNR (dB), {c.channel.upper()}: comparator / rate-adaptive (rate-adaptive minus comparator), "
             "MS-SSIM likewise", "", head, "|" + "---|" * (len(c.snrs_db) + 2)]
    for ratio in sorted({p.ratio for p in c.points} | set(c.pending)):
        pts = {p.snr_db: p for p in c.points if p.ratio == ratio}
        if not pts:
            lines.append(f"| {ratio} | " + " | ".join("pending" for _ in c.snrs_db) + " | pending |")
            continue
        cells = [f"{pts[s].fixed_psnr:.2f} / {pts[s].adaptive_psnr:.2f} ({pts[s].lead_db:+.2f})" for s in c.snrs_db]
        m = pts[mid]
        ms = (f"{m.fixed_ms_ssim:.4f} / {m.adaptive_ms_ssim:.4f}"
              if m.fixed_ms_ssim is not None and m.adaptive_ms_ssim is not None else "n/a")
        lines.append(f"| {ratio} | " + " | ".join(cells) + f" | {ms} |")
    lines.append("")
    if c.points:
        worst = min(c.points, key=lambda p: p.lead_db)
        ok = sum(round(p.lead_db, 2) >= -margin_db for p in c.points)  # as printed: -0.50 is within 0.5
        lines.append(f"At most {margin_db:g} dB below its comparator at {ok} of {len(c.points)} points; its smallest "
                     f"lead is {worst.lead_db:+.2f} dB (k/n {worst.ratio}, {worst.snr_db:g} dB).")
    if c.pending:
        lines.append(f"Pending (no comparator evaluated yet): {', '.join(map(str, c.pending))}.")
    return "\n".join(lines) + "\n"
