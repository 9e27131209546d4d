"""Evaluate image links with the diffusion receiver: PSNR / MS-SSIM / LPIPS per receiver plan and SNR."""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import torch

from jscc_rt._progress import progress
from jscc_rt._validate import JsccInputError, check_snr_db, check_steps
from jscc_rt.models.checkpoint import check_denoiser_pairing
from jscc_rt.channel import ChannelConfig
from jscc_rt.data import DEFAULT_MAX_PIXELS, eval_images, min_image_side
from jscc_rt.data.crops import crop_back, pad_to_multiple
from jscc_rt.eval.evaluate import metric, snr_dir
from jscc_rt.diffusion import DiffusionReceiver, ReceiverConfig
from jscc_rt.diffusion.receiver import DECODER_SNR_AFTER_DENOISING_DB
from jscc_rt.diffusion.schedule import from_diffusion
from jscc_rt.diffusion.upsampler_start import START_VARIANCES, UpsamplerStart
from jscc_rt.eval.flip import flip_available
from jscc_rt.eval.lpips import MetricUnavailable, lpips_distance
from jscc_rt.eval.metrics import psnr
from jscc_rt.eval.recon import ReconSaver, check_save_recon
from jscc_rt.models import load_model
from jscc_rt.models.compress import is_compressed_link
from jscc_rt.models.registry import checkpoint_label, resolve_checkpoint
from jscc_rt.pipeline import Link


def build_link(model: str, denoiser: str | None, sampler: str, steps: int, *, channel: str = "awgn",
               block_len: int | None = None, csi_err_var: float = 0.0, equalizer: str = "zf", start: str = "matched",
               decoder_snr_db: float | None = DECODER_SNR_AFTER_DENOISING_DB, snr_error_db: float = 0.0,
               eta: float = 0.0, upsampler_start: UpsamplerStart | None = None,
               conditioned_decoder: bool = False) -> Link:
    """A :class:`Link` from checkpoint names/paths; no denoiser (or ``steps == 0``) gives the decoder alone,
    conditioned on the effective SNR, or with ``conditioned_decoder`` (and a denoiser) on ``decoder_snr_db`` as after
    denoising: a zero-step receiver, the baseline that isolates what the denoising steps add.
    ``snr_error_db``: the receiver's SNR estimate minus the true SNR (:class:`~jscc_rt.pipeline.Link`); ``eta``: the
    sampler's (:class:`~jscc_rt.diffusion.ReceiverConfig`); ``upsampler_start``: on a compressed link, where diffusion
    starts after its upsampler (:mod:`jscc_rt.diffusion.upsampler_start`).

    A denoiser whose latent channels differ from the JSCC model's raises :class:`~jscc_rt.JsccInputError`; one
    trained on another JSCC checkpoint with the same latent shape warns, naming both sha256."""
    steps = check_steps(steps)
    jpath = resolve_checkpoint(model)
    jscc = load_model(jpath)
    ch = ChannelConfig(kind=channel, block_len=block_len, csi_err_var=csi_err_var, equalizer=equalizer)  # type: ignore[arg-type]
    if denoiser is None or (steps == 0 and not conditioned_decoder):
        return Link(jscc, ch, snr_error_db=snr_error_db)
    dpath = resolve_checkpoint(denoiser)
    den = load_model(dpath, expect="DenoiserConfig")
    from jscc_rt.diffusion import NoiseSchedule

    check_denoiser_pairing(jscc, jpath, den, dpath)
    sched = NoiseSchedule(**den.meta["schedule"])  # type: ignore[attr-defined]
    rx = DiffusionReceiver(den, sched, ReceiverConfig(sampler=sampler, steps=steps, start=start,  # type: ignore[arg-type]
                                                      eta=eta))
    return Link(jscc, ch, receiver=rx, decoder_snr_db=decoder_snr_db, snr_error_db=snr_error_db,
                upsampler_start=upsampler_start)


class MeanLatentLink:
    """The prior's health-check baseline: every image decoded from the denoiser's training-set mean latent
    (``latent_mean`` ``(c,)``, diffusion domain, recorded in the denoiser's meta), whatever was received; the
    decoder is conditioned on ``decoder_snr_db``. Every receiver that uses the channel should beat it by far. A start
    from pure noise samples the learned prior, independently of the image: a draw ``x`` of the true latent
    distribution has twice the mean's squared error to the image's latent ``y`` (``E|x - y|^2 = 2 tr Cov`` vs
    ``tr Cov``), so a learned prior lands about 3 dB of latent PSNR below this row, not above it; far lower, its
    samples are off the latent distribution. Called like a :class:`Link`."""

    def __init__(self, model: str, latent_mean: Sequence[float], *, power: float = 1.0,
                 decoder_snr_db: float = DECODER_SNR_AFTER_DENOISING_DB) -> None:
        self.model = load_model(resolve_checkpoint(model)).eval()
        c = self.model.config.latent_channels
        if len(latent_mean) != c:
            raise JsccInputError(f"latent_mean has {len(latent_mean)} channels, the JSCC model's latent has {c}")
        self.mean = torch.tensor([float(v) for v in latent_mean], dtype=torch.float32).view(1, c, 1, 1)
        self.power, self.decoder_snr_db = power, decoder_snr_db

    def __call__(self, images: torch.Tensor, snr_db: float, *, generator: torch.Generator | None = None):
        x, hw = pad_to_multiple(images, self.model.stride)
        s = self.model.stride
        z = from_diffusion(self.mean.expand(x.shape[0], -1, x.shape[-2] // s, x.shape[-1] // s), self.power)
        cond = torch.full((x.shape[0],), self.decoder_snr_db)
        return SimpleNamespace(images=crop_back(self.model.decoder(z, cond), hw))


def link_images(link: Link | MeanLatentLink, data: str | None, *, max_images: int | None = None,
                max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[str, list[tuple[str, torch.Tensor]]]:
    """The evaluation set for ``link`` (:func:`~jscc_rt.data.eval_images`), every image checked against the
    model's minimum size before any runs."""
    return eval_images(data, max_images=max_images, max_pixels=max_pixels, min_side=min_image_side(link.model.stride))


def eval_link(link: Link | MeanLatentLink, data: str | None, snrs: Sequence[float], *, seed: int = 0,
              max_images: int | None = None,
              with_lpips: bool = False, show_progress: bool = False,
              images: tuple[str, list[tuple[str, torch.Tensor]]] | None = None,
              max_pixels: int | None = DEFAULT_MAX_PIXELS, recon: ReconSaver | None = None,
              recon_group: str = "", desc: str = "eval") -> list[dict]:
    """Mean PSNR, MS-SSIM, FLIP (when ``flip-evaluator`` is installed; lower is better), LPIPS (if available and
    asked for) and latency per SNR over the eval images, each row with the per-image values (``"images"``: name,
    size HxW, PSNR, MS-SSIM, FLIP, LPIPS). ``images``: a preloaded
    ``(set_name, [(name, image)])`` (else loaded from ``data``). MS-SSIM is None for images of at most 160 pixels
    per side and left out of the mean."""
    check_snr_db(list(snrs), len(snrs), name="snr_db")
    if images is None:
        set_name, imgs = link_images(link, data, max_images=max_images, max_pixels=max_pixels)
    else:
        set_name, imgs = images[0], images[1][:max_images] if max_images else images[1]
    rows = []
    g = torch.Generator().manual_seed(seed)
    with_flip = flip_available()
    for snr in snrs:
        per, lat = [], []
        for name, img in progress(imgs, total=len(imgs), desc=f"{desc} {snr:g} dB", disable=not show_progress):
            x = img[None]
            t0 = time.perf_counter()
            with torch.no_grad():
                rec = link(x, float(snr), generator=g).images.clamp(0, 1)
            lat.append((time.perf_counter() - t0) * 1e3)
            r = {"image": name, "size": f"{x.shape[-2]}x{x.shape[-1]}", "psnr": float(psnr(x, rec)[0]),
                 "ms_ssim": metric("ms_ssim", x, rec), "flip": metric("flip", x, rec) if with_flip else None,
                 "lpips": None}
            if with_lpips:
                try:
                    r["lpips"] = float(lpips_distance(x, rec)[0])
                except MetricUnavailable:
                    with_lpips = False
            per.append(r)
            if recon is not None:
                recon.add(name, img, rec, r["psnr"])
        if recon is not None:
            recon.flush(f"{recon_group}/{snr_dir(float(snr))}" if recon_group else snr_dir(float(snr)))
        n = len(imgs)
        mean = lambda k: (lambda v: sum(v) / len(v) if v else None)([p[k] for p in per if p[k] is not None])  # noqa: E731
        rows.append({"snr_db": float(snr), "psnr": mean("psnr"), "ms_ssim": mean("ms_ssim"), "flip": mean("flip"),
                     "lpips": mean("lpips") if with_lpips else None, "latency_ms": sorted(lat)[n // 2], "n": n,
                     "eval_set": set_name, "images": per})
    return rows


def run_diffusion_eval(model: str, denoiser: str | None, consistency: str | None, *, data: str | None,
                       snrs: Sequence[float], ddim_steps: Sequence[int], cm_steps: Sequence[int],
                       noise_start_steps: Sequence[int] | None = None, channel: str = "awgn",
                       max_images: int | None = None,
                       seed: int = 0, decoder_snr_db: float | None = DECODER_SNR_AFTER_DENOISING_DB,
                       show_progress: bool = True,
                       max_pixels: int | None = DEFAULT_MAX_PIXELS, save_recon: int = 0,
                       out: str | None = None, snr_errors_db: Sequence[float] = (0.0,), csi_err_var: float = 0.0,
                       block_len: int | None = None, cm_etas: Sequence[float] = (0.0,),
                       upsampler_starts: Sequence[str] = ("calibrated",), calib_data: str | None = None) -> list[dict]:
    """Rows ``{"model", "receiver", "steps", "start", "channel", "snr_error_db", "csi_err_var", "snr_db", "psnr", "ms_ssim",
    "lpips", "latency_ms", "images", ...}``.

    With a denoiser and a fixed ``decoder_snr_db``, a ``"decoder-cond"`` row decodes without denoising but with the
    decoder conditioned as after it (a zero-step receiver): the difference to it is what the steps add, apart from the
    conditioning. Consistency receivers run once per re-noising ``eta`` in ``cm_etas`` (0 deterministic, 1 fresh noise; rows carry
    ``"eta"``). Every receiver plan runs once per receiver SNR error in ``snr_errors_db`` (estimate minus truth, dB); a Rayleigh
    ``channel`` takes ``block_len`` and the CSI error variance ``csi_err_var`` (the effective noise, and so the
    start step, include it). Every argument, checkpoint pairing and image is checked before the first image runs;
    ``save_recon`` N writes the N worst / best reconstructions per receiver and SNR to
    ``out/recon/<receiver>-<steps>-<start>/``.

    On a compressed link (``vae-x2``/``-x4``) the receivers run after its upsampler, once per start in
    ``upsampler_starts`` (:data:`~jscc_rt.diffusion.upsampler_start.START_VARIANCES`; rows' ``start`` is
    ``"upsampler-calibrated"``, ``"upsampler-forward"`` or ``"upsampler-var"``); the calibrated and forward starts are
    measured first on the images of ``calib_data`` (the training photos; their rows carry the table as
    ``"upsampler_calibration"``). The ``"decoder-cond"`` row decodes the upsampler's output as it is (never divided by
    the forward start's gain)."""
    check_snr_db(list(snrs), len(snrs), name="snr_db")
    if noise_start_steps is None:  # the default: 16 steps on a plain link, none on a compressed one
        compressed = is_compressed_link(load_model(resolve_checkpoint(model)))
        noise_start_steps = () if compressed else (16,)
    for n in (*ddim_steps, *cm_steps, *noise_start_steps):
        check_steps(n)
    n_recon = check_save_recon(save_recon, out)
    for eta in cm_etas:
        if not 0.0 <= eta <= 1.0:
            raise JsccInputError(f"consistency eta must lie in [0, 1], got {eta}")
    starts, calibration = _upsampler_starts(model, bool(denoiser or consistency), upsampler_starts, calib_data,
                                            noise_start_steps, seed)
    plans: list[tuple[str, str | None, str, int, str, float]] = [("decoder", None, "ddim", 0, "matched", 0.0)]
    if decoder_snr_db is not None and (denoiser or consistency):  # the decoder conditioned as after denoising
        plans.append(("decoder-cond", denoiser or consistency, "ddim" if denoiser else "consistency", 0,
                      next((k for k in starts if k != "upsampler-forward"), "upsampler-var"), 0.0))
    for label in starts:
        plans += [("ddim", denoiser, "ddim", n, label, 0.0) for n in ddim_steps if denoiser]
        plans += [("consistency", consistency, "consistency", n, label, eta) for eta in cm_etas for n in cm_steps
                  if consistency]
    plans += [("ddim-from-noise", denoiser, "ddim", n, "noise", 0.0) for n in noise_start_steps if denoiser]
    jobs = [(p, e) for e in snr_errors_db for p in plans]
    links: list[Link | MeanLatentLink] = [
        build_link(model, ck, sampler, steps, channel=channel, start="noise" if start == "noise" else "matched",
                   decoder_snr_db=decoder_snr_db, snr_error_db=err, csi_err_var=csi_err_var, block_len=block_len,
                   eta=eta, upsampler_start=starts.get(start, UpsamplerStart("upsampler") if start == "upsampler-var"
                                                       else None), conditioned_decoder=name == "decoder-cond")
        for (name, ck, sampler, steps, start, eta), err in jobs]
    latent_mean = load_model(resolve_checkpoint(denoiser), expect="DenoiserConfig").meta.get(  # type: ignore[attr-defined]
        "latent_mean") if denoiser and noise_start_steps else None
    if latent_mean is not None:  # the pure-noise start's reference: the prior's health check
        jobs.append((("mean-latent", None, "none", 0, "none", 0.0), 0.0))
        links.append(MeanLatentLink(model, latent_mean, decoder_snr_db=DECODER_SNR_AFTER_DENOISING_DB
                                    if decoder_snr_db is None else decoder_snr_db))
    images = link_images(links[0], data, max_images=max_images, max_pixels=max_pixels)
    saver = ReconSaver(Path(out) / "recon", n_recon) if n_recon else None
    model_label = checkpoint_label(resolve_checkpoint(model))
    rows = []
    for ((name, _, _, steps, start, eta), err), link in zip(jobs, links):
        tag = f"{name}-{steps}-{start}" + (f"-eta{eta:g}" if eta else "") + (f"-err{err:+g}dB" if err else "")
        for r in eval_link(link, data, snrs, seed=seed, with_lpips=True, show_progress=show_progress, images=images,
                           recon=saver, recon_group=tag, desc=f"eval-diffusion {name} x{steps}"):
            rows.append({"model": model_label, "receiver": name, "steps": steps,
                         "start": start, "eta": eta, "channel": channel, "snr_error_db": err,
                         "csi_err_var": csi_err_var, **r,
                         **({"upsampler_calibration": calibration}
                            if start in ("upsampler-calibrated", "upsampler-forward") else {})})
    return rows


def _upsampler_starts(model: str, diffusion: bool, kinds: Sequence[str], calib_data: str | None,
                      noise_start_steps: Sequence[int], seed: int) -> tuple[dict[str, UpsamplerStart | None], list]:
    """The start labels of the diffusion plans: ``{"matched": None}``, or on a compressed link one
    ``"upsampler-calibrated"`` / ``"upsampler-var"`` per kind (the calibrated one measured on ``calib_data``), plus
    the calibration rows."""
    jscc = load_model(resolve_checkpoint(model))
    if not diffusion or not is_compressed_link(jscc):
        return {"matched": None}, []
    bad = [k for k in kinds if k not in START_VARIANCES]
    if bad or not kinds:
        raise JsccInputError(f"upsampler starts must be among {', '.join(START_VARIANCES)}, got {list(kinds)}")
    if noise_start_steps:
        raise JsccInputError(f"--noise-start-steps {list(noise_start_steps)}: the pure-noise start runs on the base "
                             f"model's own link; evaluate it there (--model {jscc.config.base.model} checkpoint)")
    starts: dict[str, UpsamplerStart | None] = {}
    rows: list = []
    for kind in dict.fromkeys(kinds):
        if kind == "upsampler":
            starts["upsampler-var"] = UpsamplerStart("upsampler")
            continue
        if calib_data is None:
            raise JsccInputError(f"the {kind} diffusion start of the compressed link {jscc.config.model} is "
                                 "measured on training photos: pass --calib-data (e.g. ../shared/data/photos), or "
                                 "--upsampler-start upsampler")
        from jscc_rt.eval.upsampler_calibration import calibrate_upsampler, forward_start

        if not rows:
            _, imgs = eval_images(calib_data, min_side=128)
            calibrated, rows = calibrate_upsampler(jscc, [t for _, t in imgs], seed=seed)
        starts[f"upsampler-{kind}"] = calibrated if kind == "calibrated" else forward_start(rows)
    return starts, rows


def diffusion_markdown(rows: Sequence[dict]) -> str:
    lines = ["| receiver | steps | start | eta | SNR error (dB) | SNR (dB) | PSNR (dB) | MS-SSIM | FLIP | LPIPS | "
             "p50 ms/img |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    f = lambda v, d: "n/a" if v is None else f"{v:.{d}f}"  # noqa: E731
    for r in rows:
        lines.append(f"| {r['receiver']} | {r['steps']} | {r['start']} | {r.get('eta', 0.0):g} | "
                     f"{r.get('snr_error_db', 0.0):+g} | "
                     f"{r['snr_db']:g} | {f(r['psnr'], 2)} | "
                     f"{f(r['ms_ssim'], 4)} | {f(r.get('flip'), 4)} | {f(r['lpips'], 4)} | {r['latency_ms']:.0f} |")
    return "\n".join(lines)
