"""``jscc-rt eval-noma``: each user's PSNR vs SNR and power split, for NOMA students and the single-user teacher.

Image ``i`` of the eval set goes to user 1 and image ``i+1`` to user 2. The teacher row is the interference-free
reference: each image sent alone with all the power over the same channel uses (what orthogonal access cannot
reach either, since it would halve each user's channel uses).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from jscc_rt.channel import ChannelConfig
from jscc_rt.data import eval_images
from jscc_rt.eval.evaluate import evaluate, summarize
from jscc_rt.models import load_model
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.eval.noma_metrics import noma_psnr


def run_noma_report(students: Sequence[str], teacher: str | None, data: str | None, snrs: Sequence[float],
                    splits: Sequence[float], channel: str = "awgn", out: str | Path | None = None,
                    seed: int = 0) -> str:
    """Evaluate; with ``out``, write ``noma.json``, ``noma.md`` and ``noma.png``; returns the markdown."""
    set_name, images = eval_images(data)
    imgs = [im for _, im in images]
    cfg = ChannelConfig(channel)  # type: ignore[arg-type]
    rows = []
    for path in students:
        m = load_model(resolve_checkpoint(path), expect="NOMAConfig")
        tc = m.meta.get("train_config") or {}  # type: ignore[attr-defined]
        kind = ("KD on" if tc.get("kd_feature") or tc.get("kd_output") else "KD off") if tc else "no NOMA training"
        label = f"{Path(path).parent.name or path} ({kind})"
        for a1 in splits:
            for snr in snrs:
                p1, p2 = noma_psnr(m, imgs, snr, a1, cfg, seed=seed)
                rows.append({"model": label, "a1": a1, "snr_db": snr, "psnr_user1": p1, "psnr_user2": p2})
    if teacher:
        t = load_model(resolve_checkpoint(teacher))
        for r in summarize(evaluate(t, images, list(snrs), cfg, seed=seed, metrics=("psnr",)), ("psnr",)):
            rows.append({"model": f"{teacher} single user, no interference", "a1": None, "snr_db": r["snr_db"],
                         "psnr_user1": r["psnr"], "psnr_user2": r["psnr"]})
    lines = [f"Eval set: {set_name} ({len(imgs)} images, image i to user 1, i+1 to user 2), channel {channel}", "",
             "| model | a1 (user 1 power) | SNR (dB) | PSNR user 1 (dB) | PSNR user 2 (dB) |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        a = "-" if r["a1"] is None else f"{r['a1']:g}"
        lines.append(f"| {r['model']} | {a} | {r['snr_db']:g} | {r['psnr_user1']:.2f} | {r['psnr_user2']:.2f} |")
    md = "\n".join(lines)
    if out:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        (o / "noma.json").write_text(json.dumps({"eval_set": set_name, "channel": channel, "rows": rows}, indent=2) + "\n")
        (o / "noma.md").write_text(md + "\n")
        _plot(rows, o / "noma.png")
    return md


def _plot(rows: list[dict], path: Path) -> None:
    from jscc_rt.eval.plots import pyplot, save

    fig, axes = pyplot().subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, user in zip(axes, ("psnr_user1", "psnr_user2")):
        for key in dict.fromkeys((r["model"], r["a1"]) for r in rows):
            sel = sorted((r for r in rows if (r["model"], r["a1"]) == key), key=lambda r: r["snr_db"])
            label = key[0] if key[1] is None else f"{key[0]}, a1={key[1]:g}"
            ax.plot([r["snr_db"] for r in sel], [r[user] for r in sel], "--" if key[1] is None else "-o", ms=3,
                    label=label)
        ax.set_title(f"user {user[-1]}")
        ax.set_xlabel("SNR (dB)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("PSNR (dB)")
    axes[1].legend(fontsize=6)
    save(fig, path)
