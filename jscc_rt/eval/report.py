"""``jscc-rt eval``: PSNR / SSIM / MS-SSIM vs SNR tables (markdown + JSON) and a PSNR-vs-SNR plot."""
from __future__ import annotations

import json
import platform
import subprocess
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import torch

from jscc_rt._validate import JsccInputError, check_int, check_snr_db
from jscc_rt.channel import ChannelConfig
from jscc_rt.data import DEFAULT_MAX_PIXELS, eval_images, list_images, min_image_side, resolve_data_dir
from jscc_rt.eval.evaluate import evaluate, per_image, summarize
from jscc_rt.eval.flip import flip_available
from jscc_rt.eval.recon import ReconSaver, check_save_recon
from jscc_rt.models import load_model
from jscc_rt.models.config import parse_ratio
from jscc_rt.models.rate import budget_channels, ladder
from jscc_rt.models.registry import checkpoint_label, resolve_checkpoint

METRICS = ("psnr", "ssim", "ms_ssim")


def eval_metrics() -> tuple[str, ...]:
    """What ``jscc-rt eval`` reports: PSNR, SSIM, MS-SSIM, and FLIP when ``flip-evaluator`` is installed."""
    return METRICS + (("flip",) if flip_available() else ())


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def markdown_table(results: list[dict]) -> str:
    """Rows ``{"model", "channel", "snr_db", psnr, ssim, ms_ssim[, flip]}`` -> a markdown table (FLIP: lower is
    better; n/a where it was not computed)."""
    lines = ["| model | k/n | channel | SNR (dB) | PSNR (dB) | SSIM | MS-SSIM | FLIP |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    f = lambda v, d: "n/a" if v is None else f"{v:.{d}f}"  # noqa: E731
    for r in results:
        lines.append(f"| {r['model']} | {r.get('ratio', 'n/a')} | {r['channel']} | {r['snr_db']:g} | {f(r['psnr'], 2)} | "
                     f"{f(r['ssim'], 4)} | {f(r.get('ms_ssim'), 4)} | {f(r.get('flip'), 4)} |")
    return "\n".join(lines)


def plot_psnr_vs_ratio(results: list[dict], path: Path, title: str) -> None:
    """PSNR vs bandwidth ratio k/n (log axis): a line per (model, channel, SNR) over its ratios; a fixed-rate model
    is one marker per SNR."""
    from jscc_rt.eval.plots import finish, pyplot

    fig, ax = pyplot().subplots(figsize=(6.4, 4.4))
    for model, ch, snr in sorted({(r["model"], r["channel"], r["snr_db"]) for r in results}):
        rs = sorted((r for r in results if (r["model"], r["channel"], r["snr_db"]) == (model, ch, snr)),
                    key=lambda r: Fraction(r["ratio"]))
        ax.plot([float(Fraction(r["ratio"])) for r in rs], [r["psnr"] for r in rs], marker="o",
                linestyle="-" if ch == "awgn" else "--", label=f"{model} ({ch}, {snr:g} dB)")
    ax.set_xscale("log", base=2)
    finish(fig, ax, path, xlabel="bandwidth ratio k/n", ylabel="PSNR (dB)", title=title, legend_size=7)


def plot_psnr_vs_snr(results: list[dict], path: Path, title: str, published: str | Path | None = None) -> None:
    """PSNR vs SNR per model and channel; ``published``: an anchors file whose curves for the evaluated channels are
    drawn grey and labelled "(published)"."""
    from jscc_rt.eval.plots import finish, pyplot
    from jscc_rt.eval.published import published_psnr_vs_snr

    fig, ax = pyplot().subplots(figsize=(6.4, 4.4))
    for ch in sorted({r["channel"] for r in results}) if published else ():
        for i, (label, (snr, val)) in enumerate(published_psnr_vs_snr(published, ch).items()):
            ax.plot(snr, val, color=str(min(0.35 + 0.12 * i, 0.8)), marker="x", linestyle=":" if ch == "awgn" else "-.",
                    label=f"(published) {label} ({ch})")
    n_ratios = {m: len({r.get("ratio") for r in results if r["model"] == m}) for m in {r["model"] for r in results}}
    for (model, ratio, ch) in sorted({(r["model"], r.get("ratio", ""), r["channel"]) for r in results}):
        rs = sorted((r for r in results if (r["model"], r.get("ratio", ""), r["channel"]) == (model, ratio, ch)),
                    key=lambda r: r["snr_db"])
        tag = f"{model} @ {ratio}" if n_ratios[model] > 1 else model  # a rate-adaptive model: a curve per budget
        ax.plot([r["snr_db"] for r in rs], [r["psnr"] for r in rs], marker="o",
                linestyle="-" if ch == "awgn" else "--", label=f"{tag} ({ch})")
    finish(fig, ax, path, xlabel="channel SNR (dB)", ylabel="PSNR (dB)", title=title, legend_size=8)


def _model_ratios(model: torch.nn.Module, ratios: Sequence[str] | None) -> list[Fraction]:
    """The budgets one model is evaluated at: its own ratio (fixed rate), ``ratios`` or its ladder (rate-adaptive)."""
    cfg = model.config  # type: ignore[attr-defined]
    if not getattr(cfg, "rate_adaptive", False):
        return [cfg.ratio]
    if not ratios:
        return ladder(cfg)
    for r in ratios:
        budget_channels(cfg, r)  # outside the range or off the granularity: a clear error before any image runs
    return sorted({parse_ratio(r) for r in ratios})


def run_eval(
    checkpoints: Sequence[str],
    *,
    data: str | None,
    snrs: Sequence[float],
    channels: Sequence[str],
    draws: int | None,
    equalizer: str = "zf",
    seed: int = 0,
    out: str | None = None,
    show_progress: bool = True,
    max_images: int | None = None,
    save_recon: int = 0,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    published: str | None = None,
    ratios: Sequence[str] | None = None,
) -> str:
    """Evaluate each checkpoint on each channel; returns the markdown table (and writes files into ``out``).

    ``data``: any image folder (the set is named after it; ``"kodak"`` when it holds exactly ``kodim01..24``) or a
    data root holding ``kodak/``; None: ``$JSCC_DATA``, else the embedded samples. ``max_images`` keeps the first N
    images. Every argument and every image (readable, at least :func:`~jscc_rt.data.min_image_side` pixels per side,
    at most ``max_pixels`` pixels) is checked before the first image runs. ``out/results.json`` holds the per-SNR
    means (``results``) and one row per image, SNR, model and channel (``per_image``: name, size HxW, PSNR, SSIM,
    MS-SSIM); ``save_recon`` N writes the N worst and N best reconstructions by PSNR (first channel draw) and
    original | reconstruction strips to ``out/recon/<model>/<channel>/snr<SNR>dB/``. ``published``: an anchors
    file (docs/published/published_kodak.json) whose curves the plot shows beside ours, labelled as published.
    ``ratios``: the budgets (k/n) every rate-adaptive model is evaluated at (default: its ladder,
    :func:`jscc_rt.models.rate.ladder`); a fixed-rate model runs at its own ratio. Rows carry ``"ratio"``; with
    more than one ratio, ``out/psnr_vs_ratio.png`` is drawn too.
    """
    check_snr_db(list(snrs), len(snrs), name="snr_db")
    if draws is not None:
        check_int(draws, "draws", minimum=1, fix="pass the number of channel draws per image, e.g. 4")
    n_recon = check_save_recon(save_recon, out)
    if published is not None:
        from jscc_rt.eval.published import published_psnr_vs_snr

        if out is None:
            raise JsccInputError("--published draws the anchors into OUT/psnr_vs_snr.png: pass --out DIR too")
        published_psnr_vs_snr(published, "awgn")  # a bad file fails now, not after the evaluation
    cfgs = {ch: ChannelConfig(kind=ch, equalizer=equalizer) for ch in channels}  # type: ignore[arg-type]
    folder = resolve_data_dir(data, "kodak")
    if folder is not None:
        list_images(folder)  # a missing or empty folder is reported before the checkpoints are looked at
    paths = [resolve_checkpoint(ck) for ck in checkpoints]
    models = [load_model(p) for p in paths]
    budgets = [_model_ratios(m, ratios) for m in models]  # a ratio outside a model's range fails here
    min_side = max(min_image_side(m.stride) for m in models)  # type: ignore[attr-defined]
    set_name, images = eval_images(data, max_images=max_images, max_pixels=max_pixels, min_side=min_side)
    results: list[dict] = []
    rows_per_image: list[dict] = []
    saver = ReconSaver(Path(out) / "recon", n_recon) if n_recon else None
    metrics = eval_metrics()
    for path, model, model_ratios in zip(paths, models, budgets):
        name = checkpoint_label(path)
        for ch, cfg in cfgs.items():
            n_draws = draws if draws is not None else (1 if ch == "awgn" else 4)
            adaptive = getattr(model.config, "rate_adaptive", False)
            for r in model_ratios:
                tag = f"{name}@{r}" if adaptive else name
                rows = evaluate(model, images, snrs, cfg, seed=seed, draws=n_draws, metrics=metrics,  # type: ignore[arg-type]
                                show_progress=show_progress, recon=saver, recon_group=f"{tag.replace('/', '_')}/{ch}",
                                desc=f"eval {tag} {ch}", ratio=r if adaptive else None)
                for s in summarize(rows, metrics):
                    results.append({"model": name, "ratio": str(r), "channel": ch, "draws": n_draws, **s})
                rows_per_image += [{"model": name, "ratio": str(r), "channel": ch, **row}
                                   for row in per_image(rows, metrics)]
    table = markdown_table(results)
    if out is not None:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        meta = {"commit": git_commit(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "torch": str(torch.__version__), "machine": platform.machine(), "eval_set": set_name,
                "n_images": len(images), "images": [{"image": n, "size": f"{im.shape[-2]}x{im.shape[-1]}"}
                                                    for n, im in images],
                "equalizer": equalizer, "seed": seed, "checkpoints": list(checkpoints),
                "save_recon": n_recon, "recon_from": "first channel draw" if n_recon else None,
                "recon": saver.written if saver is not None else []}
        (o / "results.json").write_text(json.dumps({"meta": meta, "results": results, "per_image": rows_per_image},
                                                   indent=2) + "\n")
        (o / "table.md").write_text(f"Eval set: {set_name} ({len(images)} images)\n\n{table}\n")
        plot_psnr_vs_snr(results, o / "psnr_vs_snr.png", f"PSNR vs SNR on {set_name} ({len(images)} images)",
                         published)
        if len({r["ratio"] for r in results}) > 1:
            plot_psnr_vs_ratio(results, o / "psnr_vs_ratio.png", f"PSNR vs k/n on {set_name} ({len(images)} images)")
    return f"eval set: {set_name} ({len(images)} images)\n{table}"
