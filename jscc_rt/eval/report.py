"""``jscc-rt eval``: PSNR / SSIM / MS-SSIM vs SNR tables (markdown + JSON) and a PSNR-vs-SNR plot."""
from __future__ import annotations

import json
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import torch

from jscc_rt.channel import ChannelConfig
from jscc_rt.data import eval_images
from jscc_rt.eval.evaluate import evaluate, summarize
from jscc_rt.models import load_model
from jscc_rt.models.registry import resolve_checkpoint

METRICS = ("psnr", "ssim", "ms_ssim")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def markdown_table(results: list[dict]) -> str:
    """Rows ``{"model", "channel", "snr_db", psnr, ssim, ms_ssim}`` -> a markdown table."""
    lines = ["| model | channel | SNR (dB) | PSNR (dB) | SSIM | MS-SSIM |", "|---|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['model']} | {r['channel']} | {r['snr_db']:g} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                     f"{r['ms_ssim']:.4f} |")
    return "\n".join(lines)


def plot_psnr_vs_snr(results: list[dict], path: Path, title: str) -> None:
    from jscc_rt.eval.plots import finish, pyplot

    fig, ax = pyplot().subplots(figsize=(6.4, 4.4))
    for (model, ch) in sorted({(r["model"], r["channel"]) for r in results}):
        rs = sorted((r for r in results if r["model"] == model and r["channel"] == ch), key=lambda r: r["snr_db"])
        ax.plot([r["snr_db"] for r in rs], [r["psnr"] for r in rs], marker="o",
                linestyle="-" if ch == "awgn" else "--", label=f"{model} ({ch})")
    finish(fig, ax, path, xlabel="channel SNR (dB)", ylabel="PSNR (dB)", title=title, legend_size=8)


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
) -> str:
    """Evaluate each checkpoint on each channel; returns the markdown table (and writes files into ``out``)."""
    set_name, images = eval_images(data)
    results: list[dict] = []
    for ck in checkpoints:
        path = resolve_checkpoint(ck)
        model = load_model(path)
        name = path.stem
        for ch in channels:
            cfg = ChannelConfig(kind=ch, equalizer=equalizer)  # type: ignore[arg-type]
            n_draws = draws if draws is not None else (1 if ch == "awgn" else 4)
            rows = evaluate(model, images, snrs, cfg, seed=seed, draws=n_draws, metrics=METRICS,
                            show_progress=show_progress)
            for s in summarize(rows, METRICS):
                results.append({"model": name, "channel": ch, "draws": n_draws, **s})
    table = markdown_table(results)
    if out is not None:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        meta = {"commit": git_commit(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "torch": str(torch.__version__), "machine": platform.machine(), "eval_set": set_name,
                "n_images": len(images), "equalizer": equalizer, "seed": seed, "checkpoints": list(checkpoints)}
        (o / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
        (o / "table.md").write_text(f"Eval set: {set_name} ({len(images)} images)\n\n{table}\n")
        plot_psnr_vs_snr(results, o / "psnr_vs_snr.png", f"PSNR vs SNR on {set_name} ({len(images)} images)")
    return f"eval set: {set_name} ({len(images)} images)\n{table}"
