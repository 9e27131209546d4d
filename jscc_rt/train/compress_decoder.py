"""Fine-tune a compressed link's base decoder on what its receiver really feeds it (#16 3a).

A compressed link (``vae-1_16-x2`` / ``-x4``, :mod:`jscc_rt.models.compress`) decodes its upsampler's output with the
frozen base VAE-JSCC decoder, which was trained on the base link's own noisy latents, never on an upsampler's
output and never on a denoiser's. This trainer keeps the encoder, the downsampler, the upsampler and the denoiser
frozen and trains only the base decoder on images decoded from:

* ``denoiser`` set: the diffusion receiver's estimate after ``denoise_steps`` steps from the upsampler start
  ``start`` (:mod:`jscc_rt.diffusion.upsampler_start`; ``calibrated`` / ``forward`` measured first on
  ``calib_data``), the decoder conditioned on ``decoder_snr_db`` (None = the channel's effective SNR);
* ``denoiser`` None: the upsampler's output itself, the decoder conditioned on the effective SNR as the link does
  (the control: what fine-tuning alone buys, without a prior).

Loss: image MSE over random crops at SNRs uniform in ``[snr_min_db, snr_max_db]`` (AWGN); Adam with linear warm-up
and cosine decay to ``lr_min``; bf16 autocast + channels_last on CPU as every trainer here; an EMA of the decoder's
weights is validated and saved. Writes ``model.pt`` (the whole compressed link with the new base decoder;
``meta["base_sha256"]`` still names the base checkpoint, whose encoder and latents are unchanged, so the base
model's denoiser pairs with it), ``tune_config.json``, ``log.jsonl`` and ``train_state.pt`` (resumable).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from jscc_rt._progress import progress
from jscc_rt._validate import JsccInputError
from jscc_rt.channel import ChannelConfig
from jscc_rt.data import RandomCropSampler
from jscc_rt.diffusion import DiffusionReceiver, NoiseSchedule, ReceiverConfig
from jscc_rt.diffusion.upsampler_start import START_VARIANCES, UpsamplerStart
from jscc_rt.models import load_model, save_model
from jscc_rt.models.checkpoint import check_denoiser_pairing, file_sha256
from jscc_rt.models.compress import is_compressed_link
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.pipeline import Link
from jscc_rt.train.config import begin_run, check_run_fields
from jscc_rt.train.data import training_images, validation_images
from jscc_rt.train.ema import EMA
from jscc_rt.train.precision import autocast, to_layout
from jscc_rt.train.runlog import RunLog, StepTimer
from jscc_rt.train.state import capture_rng, restore_rng, save_state
from jscc_rt.train.stop import GracefulStop, run_stoppable

_CPU = torch.device("cpu")


@dataclass(frozen=True)
class CompressDecoderTuneConfig:
    """``link``: the compressed link checkpoint; ``denoiser``: the base model's denoiser (None: the control without
    a prior); ``start``: the upsampler start (``calibrated``, ``forward`` or ``upsampler``); ``calib_data``: the
    photos the calibrated / forward start is measured on; ``val_snr_db``: the validation SNR (dB)."""

    link: str = ""
    denoiser: str | None = None
    denoise_steps: int = 1
    start: str = "calibrated"
    calib_data: str | None = None
    decoder_snr_db: float | None = None
    data: str | None = None
    val_data: str | None = None
    crop: int = 128
    batch_size: int = 16
    steps: int = 4000
    lr: float = 1e-4
    lr_min: float = 1e-5
    warmup: int = 100
    snr_min_db: float = -5.0
    snr_max_db: float = 20.0
    ema: float = 0.999
    seed: int = 0
    val_every: int = 1000
    val_images: int = 4
    val_snr_db: float = 0.0
    ckpt_every: int = 250
    threads: int = 0
    precision: str = "fp32"
    channels_last: bool | None = False

    def __post_init__(self) -> None:
        check_run_fields(self, positive=("lr", "lr_min"), counts=("crop", "batch_size", "steps", "val_every",
                                                                  "val_images", "ckpt_every", "denoise_steps"))
        if self.start not in START_VARIANCES:
            raise JsccInputError(f"start must be one of {', '.join(START_VARIANCES)}, got {self.start!r}")
        if self.denoiser and self.start != "upsampler" and not self.calib_data:
            raise JsccInputError(f"the {self.start} start is measured on training photos: pass --calib-data "
                                 "(e.g. ../shared/data/photos), or --start upsampler")
        if not 0.0 < self.ema < 1.0:
            raise JsccInputError(f"ema must lie in (0, 1), got {self.ema}")
        if self.snr_min_db > self.snr_max_db:
            raise JsccInputError(f"snr_min_db {self.snr_min_db} > snr_max_db {self.snr_max_db}")

    def to_dict(self) -> dict:
        return asdict(self)


def _receiver_link(cfg: CompressDecoderTuneConfig, model: torch.nn.Module, link_path: Path) -> tuple[Link, list]:
    """The link the decoder trains behind, and the upsampler calibration rows (empty without one)."""
    if not cfg.denoiser:
        return Link(model, ChannelConfig("awgn")), []  # type: ignore[arg-type]
    dpath = resolve_checkpoint(cfg.denoiser)
    den = load_model(dpath, expect="DenoiserConfig").eval()
    check_denoiser_pairing(model, link_path, den, dpath)
    for p in den.parameters():
        p.requires_grad_(False)
    sched = NoiseSchedule(**den.meta["schedule"])  # type: ignore[attr-defined]
    sampler = "consistency" if den.meta.get("parameterization") == "consistency" else "ddim"  # type: ignore[attr-defined]
    rx = DiffusionReceiver(den, sched, ReceiverConfig(sampler=sampler, steps=cfg.denoise_steps))  # type: ignore[arg-type]
    rows: list = []
    if cfg.start == "upsampler":
        start = UpsamplerStart("upsampler")
    else:
        from jscc_rt.eval.upsampler_calibration import calibrate_upsampler, forward_start

        _, imgs = training_images(cfg.calib_data, crop=128)
        calibrated, rows = calibrate_upsampler(model, imgs, seed=cfg.seed)
        start = calibrated if cfg.start == "calibrated" else forward_start(rows)
    return Link(model, ChannelConfig("awgn"), receiver=rx, decoder_snr_db=cfg.decoder_snr_db,  # type: ignore[arg-type]
                upsampler_start=start), rows


@torch.no_grad()
def _validate(link: Link, images: list, snr_db: float) -> float:
    """Mean PSNR (dB) of ``images`` ``[(name, (3, H, W))]`` through ``link`` at ``snr_db`` (seed 123, one at a time;
    the link pads and crops back)."""
    from jscc_rt.eval.metrics import psnr

    g = torch.Generator().manual_seed(123)
    vals = []
    for _, img in images:
        rec = link(img[None], torch.tensor([snr_db]), generator=g).images
        vals.append(float(psnr(rec.clamp(0, 1), img[None])[0]))
    return sum(vals) / len(vals)


def tune_compress_decoder(cfg: CompressDecoderTuneConfig, out: str | Path, *, show_progress: bool = True,
                          resume: bool = False, stop_after: int | None = None) -> dict:
    """Train into ``out`` (module docstring); returns the last validation ``{"val_psnr", ...}``, or
    ``{"stopped_at": N}`` when stopped early by ``stop_after`` (continue with ``resume=True``). SIGTERM or Ctrl-C
    stops after the current step with a checkpoint and adds ``"stopped"`` (the signal's name)."""
    return run_stoppable(_tune, cfg, out, show_progress, resume, stop_after)


def _tune(cfg: CompressDecoderTuneConfig, out: str | Path, show_progress: bool, resume: bool, stop_after: int | None,
          stop: GracefulStop) -> dict:
    cfg, out, state_path, st = begin_run(cfg, out, resume=resume)
    prec, cl = cfg.precision, cfg.channels_last
    link_path = resolve_checkpoint(cfg.link)
    model = load_model(link_path)
    if not is_compressed_link(model):
        raise JsccInputError(f"--link {cfg.link} is not a compressed link (vae-x2 / vae-x4); fine-tune a plain "
                             "model's decoder with `jscc-rt train --init M --denoiser D`")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    dec = model.base.decoder  # type: ignore[union-attr]
    for p in dec.parameters():
        p.requires_grad_(True)
    link, calibration = _receiver_link(cfg, model, link_path)
    data_name, imgs = training_images(cfg.data, crop=cfg.crop)
    val_name, val_imgs = validation_images(cfg.val_data, cfg.val_images)
    if cl:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(dec.parameters(), lr=cfg.lr)
    ema = EMA(dec, cfg.ema)
    sampler = RandomCropSampler(imgs, cfg.crop, cfg.batch_size, seed=cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    step, t0 = 0, time.time()
    if st is not None:
        dec.load_state_dict(st["decoder"])
        opt.load_state_dict(st["opt"])
        ema.load_state_dict(st["ema"])
        sampler.load_state_dict(st["sampler"])
        restore_rng(st["rng"], {"g": g})
        step, t0 = st["step"], time.time() - st["elapsed_s"]
    log = RunLog(out, keep_until=None if st is None else step)
    (out / "tune_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    end = cfg.steps if stop_after is None else max(step, min(cfg.steps, stop_after))
    timer, last = StepTimer(), {}

    def validate() -> dict:
        raw = {k: v.clone() for k, v in dec.state_dict().items()}
        dec.load_state_dict(ema.shadow)
        dec.eval()
        psnr = _validate(link, val_imgs, cfg.val_snr_db)
        dec.load_state_dict(raw)
        dec.train()
        return {"val_set": val_name, "val_snr_db": cfg.val_snr_db, "val_psnr": psnr, "weights": "ema"}

    if st is None:
        log.write({"step": 0, "wall_s": 0.0, **validate()})
    dec.train()
    for step in progress(range(step, end), total=cfg.steps, desc="tune compressed-link decoder",
                         disable=not show_progress):
        timer.start()
        w = min(1.0, (step + 1) / max(1, cfg.warmup))
        lr = cfg.lr_min + (cfg.lr - cfg.lr_min) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for grp in opt.param_groups:
            grp["lr"] = lr * w
        x = to_layout(sampler.sample(), cl)
        snr = cfg.snr_min_db + (cfg.snr_max_db - cfg.snr_min_db) * torch.rand(x.shape[0], generator=g)
        with autocast(prec, _CPU):
            loss = (link(x, snr, generator=g).images.float() - x).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dec.parameters(), 1.0)
        opt.step()
        ema.update(dec)
        timer.stop()
        if (step + 1) % cfg.val_every == 0 or step + 1 == cfg.steps:
            last = validate()
            log.write({"step": step + 1, "loss": float(loss.detach()), "lr": lr * w,
                       "wall_s": round(time.time() - t0, 1), "precision": prec, "steps_per_s": timer.window(), **last})
        halt = stop.now()
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == end or halt:
            save_state({"config": cfg.to_dict(), "step": step + 1, "decoder": dec.state_dict(), "opt": opt.state_dict(),
                        "ema": ema.state_dict(), "sampler": sampler.state_dict(), "rng": capture_rng({"g": g}),
                        "elapsed_s": time.time() - t0}, state_path)
        if halt:
            end = step + 1
            break
    if end < cfg.steps:
        return {"stopped_at": end}
    dec.load_state_dict(ema.shadow)
    model.eval().to(memory_format=torch.contiguous_format)
    meta = dict(getattr(model, "meta", {}) or {})
    save_model(model, out / "model.pt", meta={
        **meta, "base_sha256": meta.get("base_sha256"), "decoder_tune": {**cfg.to_dict(), "train_data": data_name},
        "link_sha256": file_sha256(link_path), "decoder_snr_db": cfg.decoder_snr_db if cfg.denoiser else None,
        "decoder_input": (f"{cfg.denoiser} x{cfg.denoise_steps} from the {cfg.start} upsampler start" if cfg.denoiser
                          else "the upsampler's output"), "upsampler_calibration": calibration,
        "wall_time_s": round(time.time() - t0, 1), "val": last, "torch": str(torch.__version__)})
    return last
