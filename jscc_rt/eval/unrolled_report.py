"""Model-based receiver diagnostics: learned step sizes and PSNR after each unrolled iteration, with plots."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.channel import ChannelConfig
from jscc_rt.data import eval_images
from jscc_rt.eval.metrics import psnr
from jscc_rt.models import load_model
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.pipeline import Link


def per_iteration_psnr(model, images: Sequence[tuple[str, torch.Tensor]], snrs: Sequence[float], *,
                       seed: int = 0) -> dict:
    """``{"step_sizes": [K], "psnr": {snr: [K]}}``: mean PSNR of the image decoded after each iteration."""
    if model.config.model != "unrolled":
        raise JsccInputError(f"per-iteration PSNR needs an 'unrolled' model, got {model.config.model!r}")
    dec = model.decoder
    out = {"step_sizes": [float(a) for a in dec.step_sizes.detach()], "psnr": {}}
    g = torch.Generator().manual_seed(seed)
    link = Link(model, ChannelConfig("awgn"))
    with torch.no_grad():
        for snr in snrs:
            acc = [0.0] * dec.iters
            for _, img in images:
                x = img[None]
                res = link(x, float(snr), generator=g)
                y = res.received.reshape(1, model.config.latent_channels, *[(d + model.stride - 1) // model.stride
                                                                            for d in x.shape[-2:]])
                for k, rec in enumerate(dec(y, res.snr_eff_db, return_all=True)):
                    acc[k] += float(psnr(x, rec[..., : x.shape[-2], : x.shape[-1]])[0]) / len(images)
            out["psnr"][float(snr)] = acc
    return out


def plot_unrolled(rep: dict, path: str | Path) -> None:
    """Write the interpretability figure to ``path`` (PNG): the learned step size alpha_k of each unrolled iteration
    k = 1..K (bars, left) and the mean PSNR (dB) of the image decoded after each iteration, one line per SNR (right).
    ``rep`` is :func:`per_iteration_psnr`'s dict as ``unrolled.json`` holds it: ``{"step_sizes": [K], "psnr":
    {snr: [K]}}``, the SNR keys in dB as floats or, read back from JSON, strings."""
    from jscc_rt.eval.plots import pyplot, save

    fig, (a1, a2) = pyplot().subplots(1, 2, figsize=(9, 3.6))
    ks = list(range(1, len(rep["step_sizes"]) + 1))
    a1.bar(ks, rep["step_sizes"])
    a1.set_xlabel("iteration k")
    a1.set_ylabel("learned step size alpha_k")
    for snr, ps in rep["psnr"].items():
        a2.plot(ks, ps, marker="o", label=f"{float(snr):g} dB")
    a2.set_xlabel("iteration k")
    a2.set_ylabel("PSNR (dB)")
    a2.legend(fontsize=8)
    a2.grid(alpha=0.3)
    save(fig, path)


def run_unrolled_report(checkpoint: str, data: str | None, snrs: Sequence[float], out: str | None) -> str:
    model = load_model(resolve_checkpoint(checkpoint))
    set_name, images = eval_images(data)
    rep = per_iteration_psnr(model, images, snrs)
    lines = [f"eval set: {set_name} ({len(images)} images); learned step sizes alpha_k: "
             + ", ".join(f"{a:.3f}" for a in rep["step_sizes"]), "",
             "| SNR (dB) | " + " | ".join(f"PSNR after it. {k + 1}" for k in range(len(rep["step_sizes"]))) + " |",
             "|---:|" + "---:|" * len(rep["step_sizes"])]
    for snr, ps in rep["psnr"].items():
        lines.append(f"| {snr:g} | " + " | ".join(f"{p:.2f}" for p in ps) + " |")
    md = "\n".join(lines)
    if out:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        (o / "unrolled.json").write_text(json.dumps(rep, indent=2) + "\n")
        (o / "unrolled.md").write_text(md + "\n")
        plot_unrolled(rep, o / "unrolled.png")
    return md
