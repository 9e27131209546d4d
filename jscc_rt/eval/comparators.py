"""A rate-adaptive model against fixed-rate comparators, budget by budget, from ``jscc-rt eval jscc`` results (#19).

Each comparator is a model of the same architecture trained for one budget; the rate-adaptive model is compared at
that budget and each SNR. Both sides must come from the same evaluation (image set, images, seed, equalizer, channel,
channel draws per image), or the difference would measure the evaluation, not the models; anything else is an error naming the
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
from jscc_rt.eval.paired import signed

#: Evaluation settings both sides must share (``meta`` of results.json).
SAME_EVAL = ("eval_set", "n_images", "seed", "equalizer")


@dataclass(frozen=True)
class Point:
    """One budget and SNR: PSNR (dB) and MS-SSIM on the evaluation's images, adaptive vs comparator
    (``fixed_model``), averaged over ``draws`` channel draws per image on both sides."""

    ratio: Fraction
    snr_db: float
    adaptive_psnr: float
    fixed_psnr: float
    adaptive_ms_ssim: float | None
    fixed_ms_ssim: float | None
    fixed_model: str
    draws: int

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
    """The file's ``channel`` rows keyed by (k/n, SNR dB); one model per file, one row per key."""
    out: dict[tuple[Fraction, float], dict] = {}
    for r in d["results"]:
        if r["channel"] != channel:
            continue
        ratio = row_ratio(r)
        if ratio is None:
            raise JsccInputError(f"{d['path']!r}: the row of {r['model']!r} carries no k/n and its name gives none; "
                                 "re-run `jscc-rt eval jscc`, which records each row's ratio")
        key = (ratio, float(r["snr_db"]))
        if key in out:
            raise JsccInputError(f"{d['path']!r} holds two {channel} rows at k/n {ratio}, {key[1]:g} dB (models "
                                 f"{out[key]['model']!r} and {r['model']!r}); evaluate each model into its own --out")
        out[key] = r
    if not out:
        raise JsccInputError(f"{d['path']!r} has no {channel} rows; evaluate it with --channel {channel}, or leave "
                             "it out")
    models = sorted({r["model"] for r in out.values()})
    if len(models) > 1:
        raise JsccInputError(f"{d['path']!r} holds rows of models {models}; evaluate each model into its own --out")
    return out


def compare(adaptive: str | Path, fixed: Sequence[str | Path], *, snrs_db: Sequence[float] | None = None,
            channel: str = "awgn") -> Comparison:
    """Pair the rate-adaptive model's results (``adaptive``: a results folder or results.json holding its
    ``ratio`` rows) with each fixed-rate comparator's (one budget each) at ``snrs_db`` (default: every SNR the
    adaptive results have). Raises :class:`JsccInputError` naming the file when the evaluations differ
    (:data:`SAME_EVAL`, the image list, channel draws per image), a file holds several models or no ``channel`` rows,
    a comparator holds more than one budget, two comparators claim the same budget, a comparator's budget is not
    among the adaptive results', or a row the comparison asks for is missing."""
    a = _load(Path(adaptive))
    a_rows = _rows(a, channel)
    snrs = tuple(sorted({float(s) for s in snrs_db})) if snrs_db else tuple(sorted({s for _, s in a_rows}))
    ratios = sorted({r for r, _ in a_rows})
    a_images = [i["image"] for i in a["meta"].get("images", [])]
    by_ratio: dict[Fraction, tuple[dict, dict]] = {}
    for p in fixed:
        d = _load(Path(p))
        for k in SAME_EVAL:
            if d["meta"].get(k) != a["meta"].get(k):
                raise JsccInputError(f"{d['path']!r} was evaluated with {k}={d['meta'].get(k)!r}, {a['path']!r} with "
                                     f"{a['meta'].get(k)!r}; evaluate both the same way")
        images = [i["image"] for i in d["meta"].get("images", [])]
        if images != a_images:
            first = next((f"{x} vs {y}" for x, y in zip(images, a_images) if x != y),
                         f"{len(images)} vs {len(a_images)} images")
            raise JsccInputError(f"{d['path']!r} and {a['path']!r} were evaluated on different images ({first}); "
                                 "evaluate both on the same --data")
        rows = _rows(d, channel)
        own = sorted({r for r, _ in rows})
        if len(own) != 1:
            raise JsccInputError(f"{d['path']!r} holds budgets {', '.join(map(str, own))}; a comparator is one "
                                 "fixed-rate model at one budget")
        if own[0] in by_ratio:
            raise JsccInputError(f"{d['path']!r} and {by_ratio[own[0]][0]['path']!r} are both comparators at {own[0]}")
        by_ratio[own[0]] = (d, rows)
    extra = sorted(set(by_ratio) - set(ratios))
    if extra:
        raise JsccInputError(f"comparators at {', '.join(map(str, extra))} have no budget in {a['path']!r} "
                             f"(its budgets: {', '.join(map(str, ratios))})")
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
            if ar.get("draws", 1) != fr.get("draws", 1):
                raise JsccInputError(f"{d['path']!r} has {fr.get('draws', 1)} channel draws per image at k/n {ratio}, "
                                     f"{a['path']!r} {ar.get('draws', 1)}; evaluate both with the same --draws")
            points.append(Point(ratio, s, ar["psnr"], fr["psnr"], ar.get("ms_ssim"), fr.get("ms_ssim"), fr["model"],
                                fr.get("draws", 1)))
    return Comparison(tuple(points), tuple(r for r in ratios if r not in by_ratio), snrs, channel)


def markdown(c: Comparison, margin_db: float = 0.5) -> str:
    """The table (comparator / adaptive PSNR, the adaptive model's lead in brackets, MS-SSIM at the middle SNR, the
    comparator's name) and the verdict: at how many points the adaptive model is at most ``margin_db`` (>= 0) below
    its comparator (one-sided: being ahead is within; judged on the printed lead), its smallest lead, the pending
    budgets."""
    if not margin_db >= 0:
        raise JsccInputError(f"margin_db={margin_db!r}: the margin is how far below its comparator the adaptive model "
                             "may be, a number >= 0 (e.g. 0.5)")
    mid = c.snrs_db[len(c.snrs_db) // 2]
    draws = sorted({p.draws for p in c.points})
    head = "| k/n | " + " | ".join(f"{s:g} dB" for s in c.snrs_db) + f" | MS-SSIM {mid:g} dB | comparator |"
    lines = [f"PSNR (dB), {c.channel.upper()}"
             + (f", {'/'.join(map(str, draws))} channel draw(s) per image" if draws else "")
             + ": comparator / rate-adaptive (rate-adaptive minus comparator, from the unrounded PSNRs); MS-SSIM "
             "likewise", "", head, "|" + "---|" * (len(c.snrs_db) + 3)]
    for ratio in sorted({p.ratio for p in c.points} | set(c.pending)):
        pts = {p.snr_db: p for p in c.points if p.ratio == ratio}
        if not pts:
            lines.append(f"| {ratio} | " + " | ".join("pending" for _ in c.snrs_db) + " | pending | |")
            continue
        cells = [f"{pts[s].fixed_psnr:.2f} / {pts[s].adaptive_psnr:.2f} ({signed(pts[s].lead_db)})" for s in c.snrs_db]
        m = pts[mid]
        ms = (f"{m.fixed_ms_ssim:.4f} / {m.adaptive_ms_ssim:.4f}"
              if m.fixed_ms_ssim is not None and m.adaptive_ms_ssim is not None else "n/a")
        lines.append(f"| {ratio} | " + " | ".join(cells) + f" | {ms} | {m.fixed_model} |")
    lines.append("")
    if c.points:
        worst = min(c.points, key=lambda p: p.lead_db)
        ok = sum(float(signed(p.lead_db)) >= -margin_db for p in c.points)
        lines.append(f"At most {margin_db:g} dB below its comparator at {ok} of {len(c.points)} points; its smallest "
                     f"lead is {signed(worst.lead_db)} dB (k/n {worst.ratio}, {worst.snr_db:g} dB).")
    if c.pending:
        lines.append(f"Pending (no comparator evaluated yet): {', '.join(map(str, c.pending))}.")
    return "\n".join(lines) + "\n"
