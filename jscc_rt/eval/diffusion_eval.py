"""Evaluate image links with the diffusion receiver: PSNR / MS-SSIM / LPIPS per receiver plan and SNR."""
from __future__ import annotations

import time
import warnings
from typing import Sequence

import torch

from jscc_rt._progress import progress
from jscc_rt.channel import ChannelConfig
from jscc_rt.data import eval_images
from jscc_rt.diffusion import DiffusionReceiver, ReceiverConfig
from jscc_rt.eval.lpips import MetricUnavailable, lpips_distance
from jscc_rt.eval.metrics import ms_ssim, psnr
from jscc_rt.models import load_model
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.pipeline import Link


def build_link(model: str, denoiser: str | None, sampler: str, steps: int, *, channel: str = "awgn",
               block_len: int | None = None, csi_err_var: float = 0.0, equalizer: str = "zf", start: str = "matched",
               decoder_snr_db: float | None = None) -> Link:
    """A :class:`Link` from checkpoint names/paths; no denoiser (or ``steps == 0``) gives the decoder alone."""
    jpath = resolve_checkpoint(model)
    jscc = load_model(jpath)
    ch = ChannelConfig(kind=channel, block_len=block_len, csi_err_var=csi_err_var, equalizer=equalizer)  # type: ignore[arg-type]
    if denoiser is None or steps == 0:
        return Link(jscc, ch)
    den = load_model(resolve_checkpoint(denoiser), expect="DenoiserConfig")
    from jscc_rt.diffusion import NoiseSchedule
    from jscc_rt.models.checkpoint import file_sha256

    if den.meta.get("jscc_sha256") not in (None, file_sha256(jpath)):  # type: ignore[attr-defined]
        warnings.warn(f"denoiser {denoiser} was trained on the latents of another JSCC checkpoint than {model}; "
                      "expect poor denoising", stacklevel=2)
    sched = NoiseSchedule(**den.meta["schedule"])  # type: ignore[attr-defined]
    rx = DiffusionReceiver(den, sched, ReceiverConfig(sampler=sampler, steps=steps, start=start))  # type: ignore[arg-type]
    return Link(jscc, ch, receiver=rx, decoder_snr_db=decoder_snr_db)


def eval_link(link: Link, data: str | None, snrs: Sequence[float], *, seed: int = 0, max_images: int | None = None,
              with_lpips: bool = False, show_progress: bool = False) -> list[dict]:
    """Mean PSNR, MS-SSIM (and LPIPS if available and asked for) and latency per SNR over the eval images."""
    set_name, images = eval_images(data)
    images = images[:max_images] if max_images else images
    rows = []
    g = torch.Generator().manual_seed(seed)
    for snr in snrs:
        p, m, lp, lat = [], [], [], []
        for _, img in progress(images, total=len(images), desc=f"{snr:g} dB", disable=not show_progress):
            x = img[None]
            t0 = time.perf_counter()
            with torch.no_grad():
                rec = link(x, float(snr), generator=g).images.clamp(0, 1)
            lat.append((time.perf_counter() - t0) * 1e3)
            p.append(float(psnr(x, rec)[0]))
            m.append(float(ms_ssim(x, rec)[0]) if min(x.shape[-2:]) > 160 else float("nan"))
            if with_lpips:
                try:
                    lp.append(float(lpips_distance(x, rec)[0]))
                except MetricUnavailable:
                    with_lpips = False
        n = len(images)
        rows.append({"snr_db": float(snr), "psnr": sum(p) / n, "ms_ssim": sum(m) / n,
                     "lpips": (sum(lp) / n) if lp else None, "latency_ms": sorted(lat)[n // 2], "n": n,
                     "eval_set": set_name})
    return rows


def run_diffusion_eval(model: str, denoiser: str | None, consistency: str | None, *, data: str | None,
                       snrs: Sequence[float], ddim_steps: Sequence[int], cm_steps: Sequence[int],
                       noise_start_steps: Sequence[int], channel: str = "awgn", max_images: int | None = None,
                       seed: int = 0, decoder_snr_db: float | None = None, show_progress: bool = True) -> list[dict]:
    """Rows ``{"receiver", "steps", "start", "snr_db", "psnr", "ms_ssim", "lpips", "latency_ms", ...}``."""
    plans: list[tuple[str, str | None, str, int, str]] = [("decoder", None, "ddim", 0, "matched")]
    plans += [("ddim", denoiser, "ddim", n, "matched") for n in ddim_steps if denoiser]
    plans += [("consistency", consistency, "consistency", n, "matched") for n in cm_steps if consistency]
    plans += [("ddim-from-noise", denoiser, "ddim", n, "noise") for n in noise_start_steps if denoiser]
    rows = []
    for name, ck, sampler, steps, start in plans:
        link = build_link(model, ck, sampler, steps, channel=channel, start=start, decoder_snr_db=decoder_snr_db)
        for r in eval_link(link, data, snrs, seed=seed, max_images=max_images, with_lpips=True,
                           show_progress=show_progress):
            rows.append({"receiver": name, "steps": steps, "start": start, "channel": channel, **r})
    return rows


def diffusion_markdown(rows: Sequence[dict]) -> str:
    lines = ["| receiver | steps | start | SNR (dB) | PSNR (dB) | MS-SSIM | LPIPS | p50 ms/img |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lp = "n/a" if r["lpips"] is None else f"{r['lpips']:.4f}"
        lines.append(f"| {r['receiver']} | {r['steps']} | {r['start']} | {r['snr_db']:g} | {r['psnr']:.2f} | "
                     f"{r['ms_ssim']:.4f} | {lp} | {r['latency_ms']:.0f} |")
    return "\n".join(lines)
