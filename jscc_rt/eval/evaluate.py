"""Link-level evaluation of a trained JSCC model over images, SNRs and channels."""
from __future__ import annotations

from typing import Sequence

import torch

from jscc_rt._progress import progress
from jscc_rt.channel import ChannelConfig
from jscc_rt.eval.metrics import ms_ssim, psnr, ssim
from jscc_rt.models.jscc import JSCCModel
from jscc_rt.pipeline import Link

METRICS = {"psnr": psnr, "ssim": ssim, "ms_ssim": ms_ssim}


def evaluate(
    model: JSCCModel,
    images: Sequence[tuple[str, torch.Tensor]],
    snrs_db: Sequence[float],
    channel: ChannelConfig,
    *,
    seed: int = 0,
    draws: int = 1,
    metrics: Sequence[str] = ("psnr", "ssim", "ms_ssim"),
    show_progress: bool = False,
) -> list[dict]:
    """One row per (image, SNR, channel draw): ``{"image", "snr_db", "draw", <metric>: float}``.

    Images are evaluated one at a time at full size (padded to the model stride, cropped back). Noise and fading
    come from a generator seeded with ``seed``, so results are reproducible.
    """
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; choose from {', '.join(METRICS)}")
    link = Link(model, channel)
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    rows: list[dict] = []
    jobs = [(s, n, img) for s in snrs_db for n, img in images]
    model.eval()
    with torch.no_grad():
        for snr, name, img in progress(jobs, total=len(jobs), desc="eval", disable=not show_progress):
            x = img.unsqueeze(0).to(device)
            for d in range(draws):
                rec = link(x, float(snr), generator=g).images
                row = {"image": name, "snr_db": float(snr), "draw": d}
                for m in metrics:
                    row[m] = float(METRICS[m](x, rec)[0])
                rows.append(row)
    return rows


def summarize(rows: Sequence[dict], metrics: Sequence[str] = ("psnr", "ssim", "ms_ssim")) -> list[dict]:
    """Mean of each metric per SNR: ``[{"snr_db", "n", <metric>}]`` sorted by SNR."""
    by: dict[float, list[dict]] = {}
    for r in rows:
        by.setdefault(r["snr_db"], []).append(r)
    out = []
    for snr in sorted(by):
        rs = by[snr]
        out.append({"snr_db": snr, "n": len(rs), **{m: sum(r[m] for r in rs) / len(rs) for m in metrics if m in rs[0]}})
    return out
