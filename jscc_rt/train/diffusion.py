"""Train the latent denoiser (DDPM epsilon objective) and distill the consistency student.

Training data are clean latents of the frozen, SNR-adaptive JSCC encoder: random ``crop x crop`` image crops,
each encoded at a random channel SNR in ``[snr_min_db, snr_max_db]``, power-normalized over the crop and mapped
to the diffusion domain (unit variance per real component). Steps are drawn up to the start step ``u(snr)`` the
channel itself reaches (with probability ``1 - p_full_range``) or over the whole schedule (for the pure-noise
start baseline).
"""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from jscc_rt._progress import progress
from jscc_rt._validate import JsccInputError
from jscc_rt.channel import power_normalize, to_symbols
from jscc_rt.data import RandomCropSampler
from jscc_rt.diffusion.consistency import ConsistencyModel
from jscc_rt.diffusion.denoiser import DenoiserConfig, LatentDenoiser
from jscc_rt.diffusion.schedule import NoiseSchedule, to_diffusion
from jscc_rt.models import load_model, save_model
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.models.checkpoint import check_denoiser_pairing, file_sha256
from jscc_rt.train.data import training_images
from jscc_rt.train.config import begin_run, check_run_fields
from jscc_rt.train.precision import autocast, resolve_cpu_training, to_layout
from jscc_rt.train.runlog import RunLog, StepTimer
from jscc_rt.train.state import capture_rng, restore_rng, save_state
from jscc_rt.train.stop import GracefulStop, run_stoppable

if TYPE_CHECKING:
    from jscc_rt.train.receiver_tune import ReceiverTuneConfig

_CPU = torch.device("cpu")


@dataclass(frozen=True)
class DiffusionTrainConfig:
    """Denoiser training (``steps``) then consistency distillation (``cd_steps``; 0 skips it).

    ``precision``/``channels_last`` as for ``jscc-rt train`` (:mod:`jscc_rt.train.precision`); the latent set is
    encoded in float32 and validation runs in float32.
    """

    jscc: str = ""
    data: str | None = None
    crop: int = 256
    n_latents: int = 3000
    latent_crop: int = 16
    batch_size: int = 32
    steps: int = 5000
    lr: float = 3e-4
    width: int = 64
    schedule: str = "linear"
    snr_min_db: float = -5.0
    snr_max_db: float = 20.0
    p_full_range: float = 0.2
    cd_steps: int = 1500
    cd_grid: int = 40
    cd_ema: float = 0.95
    cd_lr: float = 5e-5
    seed: int = 0
    threads: int = 0
    precision: str = "fp32"  # "fp32", "bf16" or "auto" (the CLI default; recorded resolved)
    channels_last: bool | None = False  # None = on with bf16
    ckpt_every: int = 500  # steps (either phase) between resumable checkpoints (train_state.pt)
    teacher: str | None = None  # start from this trained denoiser (same JSCC model and width); steps may be 0

    def __post_init__(self) -> None:
        check_run_fields(self, positive=("lr", "cd_lr"), counts=("crop", "n_latents", "latent_crop", "batch_size",
                                                                  "ckpt_every"))
        if not isinstance(self.steps, int) or self.steps < (0 if self.teacher else 1):
            raise JsccInputError(f"steps must be an int >= 1 (>= 0 with a teacher denoiser), got {self.steps!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def build_latent_set(jscc, images: list[torch.Tensor], n: int, crop: int, snr_range: tuple[float, float],
                     seed: int, show_progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x0 (n, c, crop/s, crop/s) float32 diffusion domain, snr_db (n,))`` from random crops."""
    sampler = RandomCropSampler(images, crop, 16, seed=seed)
    g = torch.Generator().manual_seed(seed + 7)
    xs, ss = [], []
    for _ in progress(range(-(-n // 16)), total=-(-n // 16), desc="encode latents", disable=not show_progress):
        x = sampler.sample()
        snr = snr_range[0] + (snr_range[1] - snr_range[0]) * torch.rand(x.shape[0], generator=g)
        z, _ = jscc.encode_latent(x, snr)
        s = power_normalize(to_symbols(z), validate=False)
        xs.append(to_diffusion(s).reshape(z.shape))
        ss.append(snr)
    return torch.cat(xs)[:n], torch.cat(ss)[:n]


LatentSet = tuple[torch.Tensor, torch.Tensor]  # latents (n, c, h, w) float32 diffusion domain, their SNRs (n,) dB


def latent_sets(jscc, cfg: DiffusionTrainConfig | ReceiverTuneConfig,
                show_progress: bool = True) -> tuple[str, LatentSet, LatentSet]:
    """The latents a diffusion run trains and validates on: ``cfg.n_latents`` random ``cfg.crop`` crops of the
    training photos (``cfg.data``), each encoded by ``jscc`` at a random SNR in ``[snr_min_db, snr_max_db]``
    (:func:`build_latent_set`, seeded by ``cfg.seed``). Returns ``(data_name, (x0, snr) training, (xv, sv)
    held out)``: the first ``min(max(16, n / 20), n / 2)`` latents, cut to their top-left ``latent_crop`` window,
    are held out."""
    data_name, imgs = training_images(cfg.data, crop=cfg.crop)
    x0, snr = build_latent_set(jscc, imgs, cfg.n_latents, cfg.crop, (cfg.snr_min_db, cfg.snr_max_db), cfg.seed,
                               show_progress)
    if cfg.n_latents < 4:
        raise ValueError(f"n_latents must be >= 4 (training + validation latents), got {cfg.n_latents}")
    n_val = min(max(16, cfg.n_latents // 20), cfg.n_latents // 2)
    held_out = (x0[:n_val, :, : cfg.latent_crop, : cfg.latent_crop], snr[:n_val])
    return data_name, (x0[n_val:], snr[n_val:]), held_out


def latent_batch(x0: torch.Tensor, snr: torch.Tensor, bs: int, lc: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``bs`` random latents of the set ``x0`` ``(n, c, h, w)``, one random ``lc x lc`` window for the batch, and
    their SNRs ``(bs,)`` (dB)."""
    idx = torch.randint(x0.shape[0], (bs,), generator=g)
    h, w = x0.shape[-2:]
    i = int(torch.randint(h - lc + 1, (1,), generator=g))
    j = int(torch.randint(w - lc + 1, (1,), generator=g))
    return x0[idx, :, i : i + lc, j : j + lc], snr[idx]


def sample_steps(sched: NoiseSchedule, snr: torch.Tensor, p_full: float, g: torch.Generator) -> torch.Tensor:
    """Continuous steps: up to the channel's start step u(snr), or anywhere with probability ``p_full``."""
    u = sched.step_for_snr_db(snr, "interp").clamp(min=0).float()
    t = torch.rand(snr.shape, generator=g) * u
    full = torch.rand(snr.shape, generator=g) < p_full
    return torch.where(full, torch.rand(snr.shape, generator=g) * (sched.num_steps - 1), t)


def diffuse(sched: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The forward process: ``sqrt(ab_t) x0 + sqrt(1 - ab_t) eps`` for steps ``t`` ``(B,)`` (float32)."""
    ab = sched.alpha_bar_at(t).float().view(-1, 1, 1, 1)
    return torch.sqrt(ab) * x0 + torch.sqrt(1 - ab) * eps


@torch.no_grad()
def _val_mse(model, sched: NoiseSchedule, x0: torch.Tensor, snr: torch.Tensor, consistency: bool) -> dict:
    """Latent MSE of the one-shot x0 estimate at the SNR-matched step vs the raw equalized latent."""
    g = torch.Generator().manual_seed(99)
    u = sched.step_for_snr_db(snr, "interp").float()
    eps = torch.randn(x0.shape, generator=g)
    xu = diffuse(sched, x0, u, eps)
    ab = sched.alpha_bar_at(u).float().view(-1, 1, 1, 1)
    raw = xu / torch.sqrt(ab)
    if consistency:
        est = model(xu, u, snr)
    else:
        est = (xu - torch.sqrt(1 - ab) * model(xu, u, snr)) / torch.sqrt(ab)
    return {"mse_raw": float((raw - x0).square().mean()), "mse_denoised": float((est - x0).square().mean())}


def train_diffusion(cfg: DiffusionTrainConfig, out: str | Path, *, show_progress: bool = True, resume: bool = False,
                    stop_after: int | None = None) -> dict:
    """Train ``denoiser.pt`` (epsilon) and, if ``cd_steps``, ``consistency.pt`` into ``out``.

    Resumable: ``out/train_state.pt`` (every ``ckpt_every`` steps and at the end of each phase) holds the phase, its
    step, the networks, the optimizers and every RNG state; ``resume=True`` continues from it bit for bit (same
    machine and threads; the latent set is rebuilt from the seed). ``stop_after`` N ends the run after N steps in all
    (denoiser steps, then distillation steps) with a checkpoint. Resuming with another config is refused, naming the
    differing fields. Returns the validation summary (``{"stopped_at": N}`` when stopped early). SIGTERM or Ctrl-C
    (:class:`~jscc_rt.train.stop.GracefulStop`) stops after the current step with a checkpoint and adds
    ``"stopped": "SIGTERM"`` (or ``"SIGINT"``)."""
    return run_stoppable(_train_diffusion, cfg, out, show_progress, resume, stop_after)


def _train_diffusion(cfg: DiffusionTrainConfig, out: str | Path, show_progress: bool, resume: bool,
                     stop_after: int | None, stop: GracefulStop) -> dict:
    cfg, out, state_path, st = begin_run(cfg, out, resume=resume)
    prec, cl = cfg.precision, cfg.channels_last
    t0 = time.time() - (st["elapsed_s"] if st else 0.0)
    jscc_path = resolve_checkpoint(cfg.jscc)
    jscc = load_model(jscc_path)
    for p in jscc.parameters():
        p.requires_grad_(False)
    if cfg.crop % jscc.stride:
        raise JsccInputError(f"crop {cfg.crop} must be a multiple of the JSCC model's downsampling {jscc.stride}")
    data_name, (x0, snr), (xv, sv) = latent_sets(jscc, cfg, show_progress)
    sched = NoiseSchedule(kind=cfg.schedule)  # type: ignore[arg-type]
    net = LatentDenoiser(DenoiserConfig(latent_channels=jscc.config.latent_channels, width=cfg.width))
    if cfg.teacher:  # a trained denoiser to go on from (or, with steps 0, only to distill)
        tpath = resolve_checkpoint(cfg.teacher)
        teacher = load_model(tpath, expect="DenoiserConfig")
        check_denoiser_pairing(jscc, jscc_path, teacher, tpath)
        if isinstance(teacher, ConsistencyModel) or teacher.config != net.config:
            raise JsccInputError(f"teacher {cfg.teacher} must be an epsilon denoiser with config {net.config}, got "
                                 f"{type(teacher).__name__} {teacher.config}")
        net.load_state_dict(teacher.state_dict())
    if cl:
        net.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    step, ema_loss = 0, None
    if st is not None:
        net.load_state_dict(st["net"])
        if st["phase"] == "denoiser":
            opt.load_state_dict(st["opt"])
            g.set_state(st["rng"]["g"])
            restore_rng(st["rng"], {})
            step, ema_loss = st["step"], st["ema_loss"]
        else:
            step = cfg.steps
    log = RunLog(out, keep_until=None if st is None else _log_position(st, cfg))
    (out / "diffusion_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    latent_mean = [round(float(v), 6) for v in x0.mean(dim=(0, 2, 3))]  # per channel: the mean-latent baseline
    base_meta = {"train_config": cfg.to_dict(), "schedule": sched.to_dict(), "jscc": str(cfg.jscc),
                 "latent_mean": latent_mean,
                 "jscc_sha256": file_sha256(jscc_path), "jscc_config": jscc.config.to_dict(), "train_data": data_name,
                 "torch": str(torch.__version__)}
    limit = cfg.steps + cfg.cd_steps if stop_after is None else min(stop_after, cfg.steps + cfg.cd_steps)

    def checkpoint_denoiser(at: int) -> None:
        save_state({"config": cfg.to_dict(), "phase": "denoiser", "step": at, "net": net.state_dict(),
                    "opt": opt.state_dict(), "rng": capture_rng({"g": g}), "ema_loss": ema_loss,
                    "elapsed_s": time.time() - t0}, state_path)

    net.train()
    timer = StepTimer()
    end = max(step, min(cfg.steps, limit))  # a resume never goes back
    for step in progress(range(step, end), total=cfg.steps, desc="train denoiser", disable=not show_progress):
        timer.start()
        lr = cfg.lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for grp in opt.param_groups:
            grp["lr"] = lr
        xb, sb = latent_batch(x0, snr, cfg.batch_size, cfg.latent_crop, g)
        t = sample_steps(sched, sb, cfg.p_full_range, g)
        eps = torch.randn(xb.shape, generator=g)
        with autocast(prec, _CPU):
            loss = (net(to_layout(diffuse(sched, xb, t, eps), cl), t, sb).float() - eps).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        timer.stop()
        ema_loss = float(loss.detach()) if ema_loss is None else 0.98 * ema_loss + 0.02 * float(loss.detach())
        if (step + 1) % max(1, cfg.steps // 10) == 0 or step + 1 == cfg.steps:
            net.eval()
            log.write({"phase": "denoiser", "step": step + 1, "loss_ema": ema_loss, "wall_s": round(time.time() - t0, 1),
                       "precision": prec, "steps_per_s": timer.window(), **_val_mse(net, sched, xv, sv, False)})
            net.train()
        if (step + 1) % cfg.ckpt_every == 0 and step + 1 < cfg.steps:
            checkpoint_denoiser(step + 1)
        if stop.now():  # checkpointed below (or, after the phase's last step, as denoiser.pt)
            end = step + 1
            break
    if end < cfg.steps:  # stopped inside the denoiser phase
        if end > (st["step"] if st is not None else 0):
            checkpoint_denoiser(end)
        return {"stopped_at": end}
    net.eval().to(memory_format=torch.contiguous_format)  # saved (and distilled from) in the default layout
    summary: dict = {"denoiser": _val_mse(net, sched, xv, sv, False), "precision": prec,
                     "steps_per_s": {"denoiser": timer.steps_per_s()}}
    if st is None or st["phase"] == "denoiser":
        save_model(net, out / "denoiser.pt", meta={**base_meta, "parameterization": "epsilon", "steps": cfg.steps,
                                                    "wall_time_s": round(time.time() - t0, 1),
                                                    "val": summary["denoiser"]})
    if cfg.cd_steps > 0:
        res = distill_consistency(net, sched, x0, snr, xv, sv, cfg, log, t0, show_progress, state_path=state_path,
                                  state=st if st is not None and st["phase"] == "consistency" else None,
                                  stop_at=limit - cfg.steps, stop=stop)
        if isinstance(res, int):
            return {"stopped_at": cfg.steps + res}
        student, sps = res
        summary["consistency"] = _val_mse(student, sched, xv, sv, True)
        summary["steps_per_s"]["consistency"] = sps
        save_model(student.net, out / "consistency.pt",
                   meta={**base_meta, "parameterization": "consistency", "teacher": "denoiser.pt",
                         "cd_steps": cfg.cd_steps, "wall_time_s": round(time.time() - t0, 1),
                         "val": summary["consistency"]})
    return summary


def _log_position(st: dict, cfg: DiffusionTrainConfig) -> int:
    """Log lines to keep on resume: those written up to the checkpoint (denoiser steps count first)."""
    return st["step"] if st["phase"] == "denoiser" else cfg.steps + st["step"]


def distill_consistency(teacher: LatentDenoiser, sched: NoiseSchedule, x0: torch.Tensor, snr: torch.Tensor,
                        xv: torch.Tensor, sv: torch.Tensor, cfg: DiffusionTrainConfig, log: RunLog, t0: float,
                        show_progress: bool, *, state_path: Path, state: dict | None = None,
                        stop_at: int | None = None,
                        stop: GracefulStop | None = None) -> tuple[ConsistencyModel, float] | int:
    """Consistency distillation (Song et al. 2023, Alg. 2) with a one-step DDIM teacher solver on a ``cd_grid`` grid.

    Checkpoints into ``state_path`` every ``cfg.ckpt_every`` steps; ``state``: a consistency-phase state to resume
    from; ``stop_at``: stop (with a checkpoint) after that many distillation steps; ``stop``: a stop request ends
    the phase after the current step, also with a checkpoint. A stopped phase returns its step count (int), a
    finished one the student (float32, default layout) and the training steps per second."""
    prec, cl = resolve_cpu_training(cfg.precision, cfg.channels_last)
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = ConsistencyModel.from_teacher(teacher, sched)
    if cl:
        teacher.to(memory_format=torch.channels_last)
        student.to(memory_format=torch.channels_last)
    for p in student.parameters():
        p.requires_grad_(True)
    target = copy.deepcopy(student)
    for p in target.parameters():
        p.requires_grad_(False)
    student.train()
    opt = torch.optim.Adam(student.parameters(), lr=cfg.cd_lr)
    g = torch.Generator().manual_seed(cfg.seed + 2)
    first = 0
    if state is not None:
        student.load_state_dict(state["student"])
        target.load_state_dict(state["target"])
        opt.load_state_dict(state["opt"])
        g.set_state(state["rng"]["g"])
        restore_rng(state["rng"], {})
        first = state["step"]
    grid = torch.linspace(0, sched.num_steps - 1, cfg.cd_grid + 1)
    timer = StepTimer()

    def checkpoint(at: int) -> None:
        save_state({"config": cfg.to_dict(), "phase": "consistency", "step": at, "net": teacher.state_dict(),
                    "student": student.state_dict(), "target": target.state_dict(), "opt": opt.state_dict(),
                    "rng": capture_rng({"g": g}), "elapsed_s": time.time() - t0}, state_path)

    end = cfg.cd_steps if stop_at is None else max(first, min(cfg.cd_steps, stop_at))
    if state is None:
        checkpoint(0)  # the denoiser phase is done: a resume starts distilling
    if stop is not None and stop.now():  # the request came in the denoiser phase's last step
        end = first
    for step in progress(range(first, end), total=cfg.cd_steps, desc="consistency distill",
                         disable=not show_progress):
        timer.start()
        xb, sb = latent_batch(x0, snr, cfg.batch_size, cfg.latent_crop, g)
        t_hi = sample_steps(sched, sb, cfg.p_full_range, g)
        n = torch.bucketize(t_hi, grid).clamp(1, cfg.cd_grid)  # t_hi in (grid[n-1], grid[n]]
        t_hi, t_lo = grid[n], grid[n - 1]
        eps = torch.randn(xb.shape, generator=g)
        x_hi = to_layout(diffuse(sched, xb, t_hi, eps), cl)
        with torch.no_grad(), autocast(prec, _CPU):
            ab_hi = sched.alpha_bar_at(t_hi).float().view(-1, 1, 1, 1)
            ab_lo = sched.alpha_bar_at(t_lo).float().view(-1, 1, 1, 1)
            e_hat = teacher(x_hi, t_hi, sb).float()
            x0_hat = (x_hi - torch.sqrt(1 - ab_hi) * e_hat) / torch.sqrt(ab_hi)
            x_lo = torch.sqrt(ab_lo) * x0_hat + torch.sqrt(1 - ab_lo) * e_hat  # DDIM step t_hi -> t_lo
            tgt = target(x_lo, t_lo, sb).float()
        with autocast(prec, _CPU):
            loss = (student(x_hi, t_hi, sb).float() - tgt).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pt, ps in zip(target.parameters(), student.parameters()):
                pt.mul_(cfg.cd_ema).add_(ps.detach(), alpha=1 - cfg.cd_ema)
        timer.stop()
        if (step + 1) % max(1, cfg.cd_steps // 5) == 0 or step + 1 == cfg.cd_steps:
            student.eval()
            log.write({"phase": "consistency", "step": cfg.steps + step + 1, "cd_step": step + 1,
                       "loss": float(loss.detach()), "wall_s": round(time.time() - t0, 1), "precision": prec,
                       "steps_per_s": timer.window(), **_val_mse(student, sched, xv, sv, True)})
            student.train()
        halt = stop is not None and stop.now()
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == end or halt:
            checkpoint(step + 1)
        if halt:
            end = step + 1
            break
    if end < cfg.cd_steps:
        return end
    student.eval().to(memory_format=torch.contiguous_format)
    teacher.to(memory_format=torch.contiguous_format)
    return student, timer.steps_per_s()
