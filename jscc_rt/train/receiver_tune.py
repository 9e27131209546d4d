"""Tune a consistency student on the receiver's own plan, so that more sampler steps give a better latent.

Consistency distillation (:func:`jscc_rt.train.diffusion.distill_consistency`) teaches the student one thing: map
any point of the teacher's ODE trajectory to its end. The receiver then uses it differently: it starts at the
SNR-matched step ``u`` of the received latent and takes ``k`` steps (:class:`~jscc_rt.diffusion.ConsistencySampler`,
re-noising to each planned level). This stage trains exactly that: for clean latents ``x0`` of the training photos
at random SNRs, ``x_u = sqrt(ab_u) x0 + sqrt(1 - ab_u) eps`` (the channel is this forward step), and the loss is
the mean over ``k`` in ``plan_steps`` of ``|sample_k(x_u) - x0|^2``, with gradients through every step of every
plan. The student keeps its consistency parameterization (boundary condition ``f(x, -1) = x``); the schedule and
sampler are the receiver's (one implementation: :mod:`jscc_rt.diffusion.samplers`).

Writes ``consistency.pt`` (same format and pairing meta as the student it started from, plus ``receiver_tune``),
``tune_config.json``, ``log.jsonl`` (latent MSE per plan on held-out latents) and ``train_state.pt`` (resumable
bit for bit, as every trainer here).
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
from jscc_rt.diffusion.consistency import ConsistencyModel
from jscc_rt.diffusion.samplers import ConsistencySampler
from jscc_rt.models import load_model, save_model
from jscc_rt.models.checkpoint import check_denoiser_pairing
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.train.config import begin_run, check_run_fields
from jscc_rt.train.diffusion import diffuse, latent_batch, latent_sets
from jscc_rt.train.precision import autocast, to_layout
from jscc_rt.train.runlog import RunLog, StepTimer
from jscc_rt.train.state import capture_rng, restore_rng, save_state
from jscc_rt.train.stop import GracefulStop, run_stoppable

_CPU = torch.device("cpu")


@dataclass(frozen=True)
class ReceiverTuneConfig:
    """``student``: the consistency checkpoint to tune (paired with ``jscc``); ``plan_steps``: the sampler step
    counts trained together, comma-separated (``"1,2,4"``); ``eta``: the sampler's re-noising (0 deterministic);
    ``lr``: Adam's, cosine-decayed to 0 over ``steps`` after ``min(100, steps / 10)`` warm-up steps."""

    jscc: str = ""
    student: str = ""
    data: str | None = None
    crop: int = 256
    n_latents: int = 4000
    latent_crop: int = 16
    batch_size: int = 16
    steps: int = 2000
    lr: float = 2e-5
    plan_steps: str = "1,2,4"
    eta: float = 0.0
    snr_min_db: float = -5.0
    snr_max_db: float = 20.0
    seed: int = 0
    threads: int = 0
    precision: str = "fp32"
    channels_last: bool | None = False
    ckpt_every: int = 250
    val_every: int = 250

    def __post_init__(self) -> None:
        check_run_fields(self, positive=("lr",), counts=("crop", "n_latents", "latent_crop", "batch_size", "steps",
                                                         "ckpt_every", "val_every"))
        self.plans()
        if not 0.0 <= self.eta <= 1.0:
            raise JsccInputError(f"eta must lie in [0, 1], got {self.eta}")

    def plans(self) -> list[int]:
        """``plan_steps`` as a list of step counts (each >= 1)."""
        try:
            ks = [int(v) for v in str(self.plan_steps).split(",")]
        except ValueError:
            ks = []
        if not ks or min(ks) < 1:
            raise JsccInputError(f"plan_steps must be comma-separated step counts >= 1 (e.g. '1,2,4'), got "
                                 f"{self.plan_steps!r}")
        return ks

    def to_dict(self) -> dict:
        return asdict(self)


def sample_plan(student: ConsistencyModel, x_u: torch.Tensor, u: torch.Tensor, snr_db: torch.Tensor, k: int,
                eta: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """The receiver's ``k``-step consistency sampler from ``x_u`` ``(B, c, h, w)`` at start steps ``u`` ``(B,)``:
    the clean-latent estimate (diffusion domain), differentiable (what
    :meth:`~jscc_rt.diffusion.DiffusionReceiver.denoise` computes under ``no_grad``)."""
    s = ConsistencySampler(student.schedule, eta=eta)
    s.set_timesteps(k, u)
    x = x_u
    for i in range(s.num_steps):
        t = s.timesteps[i]  # type: ignore[index]
        x = s.step(student(x, t.to(x.dtype), snr_db).float(), t, x, generator=generator).prev_sample
    return x


@torch.no_grad()
def plan_mse(student: ConsistencyModel, x0: torch.Tensor, snr_db: torch.Tensor, plans: list[int],
             eta: float = 0.0) -> dict[str, float]:
    """Held-out latent MSE ``{"mse_raw", "mse_k1", ...}`` from the SNR-matched start (fixed noise, seed 99):
    ``mse_raw`` is the equalized latent itself (the decoder alone's input)."""
    g = torch.Generator().manual_seed(99)
    sched = student.schedule
    u = sched.step_for_snr_db(snr_db, "interp")
    x_u = diffuse(sched, x0, u, torch.randn(x0.shape, generator=g))
    ab = sched.alpha_bar_at(u).float().view(-1, 1, 1, 1)
    out = {"mse_raw": float((x_u / torch.sqrt(ab) - x0).square().mean())}
    for k in plans:
        out[f"mse_k{k}"] = float((sample_plan(student, x_u, u, snr_db, k, eta, g) - x0).square().mean())
    return out


def tune_receiver(cfg: ReceiverTuneConfig, out: str | Path, *, show_progress: bool = True, resume: bool = False,
                  stop_after: int | None = None) -> dict:
    """Tune ``cfg.student`` into ``out/consistency.pt``; returns the last held-out MSEs (``{"stopped_at": N}`` when
    stopped early by ``stop_after``; continue with ``resume=True``). SIGTERM or Ctrl-C stops after the current step
    with a checkpoint and adds ``"stopped"`` (the signal's name)."""
    return run_stoppable(_tune, cfg, out, show_progress, resume, stop_after)


def _tune(cfg: ReceiverTuneConfig, out: str | Path, show_progress: bool, resume: bool, stop_after: int | None,
          stop: GracefulStop) -> dict:
    cfg, out, state_path, st = begin_run(cfg, out, resume=resume)
    prec, cl = cfg.precision, cfg.channels_last
    plans = cfg.plans()
    jpath, spath = resolve_checkpoint(cfg.jscc), resolve_checkpoint(cfg.student)
    jscc = load_model(jpath)
    student = load_model(spath, expect="DenoiserConfig")
    if not isinstance(student, ConsistencyModel):
        raise JsccInputError(f"--student {cfg.student} is an epsilon denoiser; tune a consistency student "
                             "(jscc-rt train diffusion --cd-steps N writes consistency.pt)")
    check_denoiser_pairing(jscc, jpath, student, spath)
    for p in jscc.parameters():
        p.requires_grad_(False)
    data_name, (x0, snr), (xv, sv) = latent_sets(jscc, cfg, show_progress)
    sched = student.schedule
    meta = dict(student.meta)  # type: ignore[attr-defined]
    student.train()
    if cl:
        student.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(student.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(cfg.seed + 3)
    step, t0 = 0, time.time()
    if st is not None:
        student.load_state_dict(st["student"])
        opt.load_state_dict(st["opt"])
        g.set_state(st["rng"]["g"])
        restore_rng(st["rng"], {})
        step, t0 = st["step"], time.time() - st["elapsed_s"]
    log = RunLog(out, keep_until=None if st is None else step)
    (out / "tune_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    if st is None:
        student.eval()
        log.write({"step": 0, "wall_s": 0.0, **plan_mse(student, xv, sv, plans, cfg.eta)})
        student.train()
    end = cfg.steps if stop_after is None else max(step, min(cfg.steps, stop_after))
    timer, last, warmup = StepTimer(), {}, min(100, max(1, cfg.steps // 10))
    for step in progress(range(step, end), total=cfg.steps, desc="tune receiver", disable=not show_progress):
        timer.start()
        lr = cfg.lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for grp in opt.param_groups:
            grp["lr"] = lr
        xb, sb = latent_batch(x0, snr, cfg.batch_size, cfg.latent_crop, g)
        u = sched.step_for_snr_db(sb, "interp")
        x_u = to_layout(diffuse(sched, xb, u, torch.randn(xb.shape, generator=g)), cl)
        with autocast(prec, _CPU):
            errs = [(sample_plan(student, x_u, u, sb, k, cfg.eta, g) - xb).square().mean() for k in plans]
            loss = sum(errs) / len(plans)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        timer.stop()
        if (step + 1) % cfg.val_every == 0 or step + 1 == cfg.steps:
            student.eval()
            last = plan_mse(student, xv, sv, plans, cfg.eta)
            log.write({"step": step + 1, "loss": float(loss.detach()), "lr": lr,
                       "wall_s": round(time.time() - t0, 1), "precision": prec, "steps_per_s": timer.window(), **last})
            student.train()
        halt = stop.now()
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == end or halt:
            save_state({"config": cfg.to_dict(), "step": step + 1, "student": student.state_dict(),
                        "opt": opt.state_dict(), "rng": capture_rng({"g": g}), "elapsed_s": time.time() - t0},
                       state_path)
        if halt:
            end = step + 1
            break
    if end < cfg.steps:
        return {"stopped_at": end}
    student.eval().to(memory_format=torch.contiguous_format)
    if not last:
        last = plan_mse(student, xv, sv, plans, cfg.eta)
    save_model(student.net, out / "consistency.pt", meta={
        **meta, "receiver_tune": {**cfg.to_dict(), "started_from": str(cfg.student), "train_data": data_name,
                                  "wall_time_s": round(time.time() - t0, 1), "val": last}})
    return last
