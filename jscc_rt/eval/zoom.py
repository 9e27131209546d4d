"""Side-by-side reconstructions with a zoom-in (``jscc-rt eval zoom``): one image sent once per receiver at one SNR
(the same channel noise seed for each), drawn as rows of full image | zoomed crop, each labelled with its PSNR.

A receiver is named ``MODEL`` (its decoder alone), ``MODEL@RATIO`` (a rate-adaptive model at that budget), or
``MODEL+DENOISER:SAMPLER:STEPS`` (a diffusion receiver, e.g. ``vae-1_16+consistency-vae-1_16:consistency:2``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from jscc_rt._validate import JsccInputError, check_int, check_snr_db
from jscc_rt.eval.metrics import psnr


def parse_receiver(spec: str) -> dict:
    """``MODEL[@RATIO]`` or ``MODEL+DENOISER:SAMPLER:STEPS`` -> ``{"model", "ratio", "denoiser", "sampler",
    "steps"}``; a malformed spec is an error naming it and the forms."""
    forms = "MODEL, MODEL@RATIO or MODEL+DENOISER:SAMPLER:STEPS (e.g. vae-1_16+consistency-vae-1_16:consistency:2)"
    model, _, rest = spec.partition("+")
    model, _, ratio = model.partition("@")
    out = {"model": model, "ratio": ratio or None, "denoiser": None, "sampler": "ddim", "steps": 0}
    if not model:
        raise JsccInputError(f"receiver {spec!r}: no model; use {forms}")
    if rest:
        parts = rest.split(":")
        if len(parts) != 3 or parts[1] not in ("ddim", "consistency") or not parts[2].isdigit() or not parts[0]:
            raise JsccInputError(f"receiver {spec!r} is not of the form {forms}")
        out.update(denoiser=parts[0], sampler=parts[1], steps=int(parts[2]))
    return out


def reconstruct(spec: str, image: torch.Tensor, snr_db: float, seed: int = 0) -> torch.Tensor:
    """The reconstruction ``(3, H, W)`` of ``image`` ``(3, H, W)`` through receiver ``spec`` at ``snr_db`` (AWGN)."""
    from jscc_rt.eval.diffusion_eval import build_link

    r = parse_receiver(spec)
    link = build_link(r["model"], r["denoiser"], r["sampler"], r["steps"])
    with torch.no_grad():
        res = link(image[None], float(snr_db), generator=torch.Generator().manual_seed(seed), ratio=r["ratio"])
    return res.images[0].clamp(0, 1)


def check_box(box: Sequence[int], hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` inside an ``hw`` image, else an error naming the box and the image size."""
    if len(box) != 4:
        raise JsccInputError(f"--box takes TOP LEFT HEIGHT WIDTH, got {list(box)}")
    t, l, h, w = (check_int(v, "box", minimum=0) for v in box)
    if h < 8 or w < 8 or t + h > hw[0] or l + w > hw[1]:
        raise JsccInputError(f"zoom box {list(box)} (top, left, height, width) must be at least 8x8 and inside the "
                             f"{hw[0]}x{hw[1]} image")
    return t, l, h, w


def zoom_figure(image: torch.Tensor, recs: Sequence[tuple[str, torch.Tensor]], box: Sequence[int], path: Path,
                title: str) -> list[dict]:
    """Draw ``path``: a row per picture (the original, then each ``(label, reconstruction)``), full image with the
    box outlined and the zoomed crop; returns ``[{"receiver", "psnr"}]``."""
    from jscc_rt.eval.plots import pyplot, save

    t, l, h, w = check_box(box, tuple(image.shape[-2:]))
    plt = pyplot()
    rows = [("original", image, None)] + [(lab, r, float(psnr(image[None], r[None])[0])) for lab, r in recs]
    fig, axes = plt.subplots(len(rows), 2, figsize=(9.0, 2.9 * len(rows)), squeeze=False,
                             gridspec_kw={"width_ratios": [image.shape[-1] / image.shape[-2], w / h]})
    for (label, pic, p), (ax_full, ax_zoom) in zip(rows, axes):
        arr = pic.permute(1, 2, 0).cpu().numpy()
        ax_full.imshow(arr)
        ax_full.add_patch(plt.Rectangle((l, t), w, h, fill=False, edgecolor="red", linewidth=1.2))
        ax_zoom.imshow(arr[t : t + h, l : l + w], interpolation="nearest")
        ax_full.set_title(label if p is None else f"{label}: {p:.2f} dB", fontsize=8)
        for ax in (ax_full, ax_zoom):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(fig, path)
    return [{"receiver": lab, "psnr": p} for lab, _, p in rows[1:]]


def run_zoom(receivers: Sequence[str], *, data: str | None, image: str | None, snr_db: float, box: Sequence[int],
             out: str | Path, seed: int = 0) -> list[dict]:
    """Send ``image`` (a name in the eval set, default its first) through every receiver; write the figure to
    ``out`` (a .png path). Every spec and the box are checked before any receiver runs."""
    from jscc_rt.data import eval_images

    check_snr_db(snr_db, 1)
    if not receivers:
        raise JsccInputError("name at least one receiver")
    for spec in receivers:
        parse_receiver(spec)
    set_name, imgs = eval_images(data)
    names = [n for n, _ in imgs]
    pick = image or names[0]
    match = [im for n, im in imgs if n == pick or Path(n).stem == pick]
    if not match:
        raise JsccInputError(f"image {pick!r} is not in {set_name} ({', '.join(names[:6])}...)")
    img = match[0]
    check_box(box, tuple(img.shape[-2:]))
    recs = [(spec, reconstruct(spec, img, snr_db, seed)) for spec in receivers]
    return zoom_figure(img, recs, box, Path(out), f"{set_name} {Path(pick).stem}, AWGN {snr_db:g} dB (seed {seed})")
