"""Link-level evaluation of a trained JSCC model over images, SNRs and channels."""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Sequence

import torch

from jscc_rt._progress import progress
from jscc_rt._validate import JsccInputError, check_int, check_snr_db
from jscc_rt.channel import ChannelConfig
from jscc_rt.eval.flip import flip_error
from jscc_rt.eval.metrics import MS_SSIM_WEIGHTS, ms_ssim, psnr, ssim
from jscc_rt.eval.recon import ReconSaver
from jscc_rt.models.jscc import JSCCModel
from jscc_rt.pipeline import Link
from jscc_rt.diffusion.receiver import DECODER_SNR_AFTER_DENOISING_DB, DiffusionReceiver

METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"psnr": psnr, "ssim": ssim,
                                                                            "ms_ssim": ms_ssim, "flip": flip_error}
#: MS-SSIM (5 scales, 11-pixel window) is defined for images larger than this many pixels per side.
MS_SSIM_MIN_SIDE = 10 * 2 ** (len(MS_SSIM_WEIGHTS) - 1)


def metric(name: str, x: torch.Tensor, rec: torch.Tensor) -> float | None:
    """One metric of one image pair ``(1, 3, H, W)``; ``None`` for MS-SSIM on images too small for its 5 scales
    (at most :data:`MS_SSIM_MIN_SIDE` pixels per side)."""
    if name == "ms_ssim" and min(x.shape[-2:]) <= MS_SSIM_MIN_SIDE:
        return None
    return float(METRICS[name](x, rec)[0])


def snr_dir(snr: float) -> str:
    """Folder name for an SNR: ``snr+10dB``, ``snr-5dB``, ``snr+2.5dB``."""
    return f"snr{snr:+g}dB"


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
    recon: ReconSaver | None = None,
    recon_group: str = "",
    desc: str = "eval",
    ratio: Fraction | str | None = None,
    receiver: DiffusionReceiver | None = None,
    decoder_snr_db: float | None = DECODER_SNR_AFTER_DENOISING_DB,
) -> list[dict]:
    """One row per (image, SNR, channel draw): ``{"image", "height", "width", "snr_db", "draw", <metric>}``
    (``ms_ssim`` is None for images of at most 160 pixels per side).

    Images are evaluated one at a time at full size (padded to the model stride, cropped back). Noise and fading
    come from a generator seeded with ``seed``, so results are reproducible. With ``recon``, the first draw's
    reconstruction of every image is collected and, after each SNR, the worst/best by mean PSNR over the draws are
    written under ``recon_group/snr<SNR>dB``. ``ratio``: the bandwidth ratio a rate-adaptive model sends at (rows then
    carry ``"ratio"``; None = the model's own / largest ratio, :meth:`jscc_rt.pipeline.Link.__call__`). ``receiver``:
    a diffusion receiver before the decoder, which is then conditioned on ``decoder_snr_db`` (default the recommended
    20 dB; None = the effective SNR).
    """
    for m in metrics:
        if m not in METRICS:
            raise JsccInputError(f"unknown metric {m!r}; choose from {', '.join(METRICS)}")
    draws = check_int(draws, "draws", minimum=1, fix="pass the number of channel draws per image, e.g. 1")
    check_snr_db(list(snrs_db), len(snrs_db), name="snr_db")
    if not images:
        raise JsccInputError("no images to evaluate")
    link = Link(model, channel, **({} if receiver is None else {"receiver": receiver,
                                                                "decoder_snr_db": decoder_snr_db}))
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    rows: list[dict] = []
    jobs = [(float(s), i, n, img) for s in snrs_db for i, (n, img) in enumerate(images)]
    model.eval()
    with torch.no_grad():
        for snr, i, name, img in progress(jobs, total=len(jobs), desc=desc, disable=not show_progress):
            x = img.unsqueeze(0).to(device)
            ps: list[float] = []
            for d in range(draws):
                rec = link(x, snr, generator=g, ratio=ratio).images
                row = {"image": name, "height": int(x.shape[-2]), "width": int(x.shape[-1]), "snr_db": snr, "draw": d}
                if ratio is not None:
                    row["ratio"] = str(ratio)
                for m in metrics:
                    row[m] = metric(m, x, rec)
                ps.append(row["psnr"] if "psnr" in row else float(psnr(x, rec)[0]))
                if d == 0 and recon is not None:
                    recon.add(name, img, rec, 0.0)
                rows.append(row)
            if recon is not None:
                recon.rescore(sum(ps) / len(ps))  # rank by the mean PSNR over the draws
                if i == len(images) - 1:
                    recon.flush(f"{recon_group}/{snr_dir(snr)}" if recon_group else snr_dir(snr))
    return rows


def _mean(vals: Sequence[float | None]) -> float | None:
    ok = [v for v in vals if v is not None]
    return sum(ok) / len(ok) if ok else None


def summarize(rows: Sequence[dict], metrics: Sequence[str] = ("psnr", "ssim", "ms_ssim")) -> list[dict]:
    """Mean of each metric per SNR: ``[{"snr_db", "n", <metric>}]`` sorted by SNR (None values, e.g. MS-SSIM on
    small images, are left out of the mean; ``n_<metric>`` counts the rows that have it when some do not)."""
    by: dict[float, list[dict]] = {}
    for r in rows:
        by.setdefault(r["snr_db"], []).append(r)
    out = []
    for snr in sorted(by):
        rs = by[snr]
        s: dict = {"snr_db": snr, "n": len(rs)}
        for m in metrics:
            if m in rs[0]:
                vals = [r[m] for r in rs]
                s[m] = _mean(vals)
                if any(v is None for v in vals):
                    s[f"n_{m}"] = sum(v is not None for v in vals)
        out.append(s)
    return out


def per_image(rows: Sequence[dict], metrics: Sequence[str] = ("psnr", "ssim", "ms_ssim")) -> list[dict]:
    """One row per (image, SNR), metrics averaged over the channel draws: ``{"image", "size" ("HxW"), "snr_db",
    "draws", <metric>}``, in evaluation order."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["image"], r["snr_db"]), []).append(r)
    out = []
    for (name, snr), rs in groups.items():
        row = {"image": name, "size": f"{rs[0]['height']}x{rs[0]['width']}", "snr_db": snr, "draws": len(rs)}
        row.update({m: _mean([r[m] for r in rs]) for m in metrics if m in rs[0]})
        out.append(row)
    return out
