"""Training loop for Deep JSCC / VAE-JSCC: random crops, random SNR per sample, resumable, validated on Kodak.

Writes into ``out``: ``model.pt`` + ``model.json`` (float32 weights, the EMA average when ``cfg.ema > 0``, and
config), ``train_config.json`` (the resolved config), ``train_state.pt`` (raw weights, EMA, optimizer, step, every
RNG state; see :mod:`jscc_rt.train.state`), ``log.jsonl`` (one line per validation) and ``val_curve.png``.

Precision (:mod:`jscc_rt.train.precision`): bf16/fp16 autocast around the forward pass and loss with float32 master
weights; the channel simulation computes in float32 (the reference ``tx_channel_rx`` promotes to float32). Runs
data-parallel under ``torchrun`` (:mod:`jscc_rt.train.dist`). A run stopped at step N (``stop_after``, or killed
after a checkpoint) and resumed equals the uninterrupted run bit for bit on the same machine, thread count and
number of processes. ``allow_precision_change`` lets a resume continue under another ``precision`` /
``channels_last`` (a bf16 run on a CPU without bf16); each precision's first step is kept in ``precision_segments``
(train state and ``model.json``), so a run's arithmetic history stays on record.
"""
from __future__ import annotations

import copy
import json
import math
import platform
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import torch
from torch import nn

from jscc_rt._progress import progress
from jscc_rt._validate import JsccInputError
from jscc_rt.channel import ChannelConfig
from jscc_rt.data import RandomCropSampler
from jscc_rt.diffusion.receiver import DECODER_SNR_AFTER_DENOISING_DB, DiffusionReceiver
from jscc_rt.eval.evaluate import evaluate, summarize
from jscc_rt.models import JSCCConfig, JSCCModel, save_model
from jscc_rt.models.rate import ladder, sample_channels, resize_from
from jscc_rt.pipeline import Link
from jscc_rt.runtime.runners import cpu_name
from jscc_rt.train import dist as D
from jscc_rt.train.behind import cond_text, freeze_encoder, frozen_receiver
from jscc_rt.train.config import TrainConfig, start_run
from jscc_rt.train.data import training_images, validation_images
from jscc_rt.train.ema import EMA
from jscc_rt.train.precision import (autocast, grad_scaler, resolve_channels_last, resolve_device, resolve_precision,
                                     to_layout)
from jscc_rt.train.runlog import CpuClock, RunLog, StepTimer
from jscc_rt.train.state import capture_rng, check_same_config, load_state, save_state
from jscc_rt.train.stop import GracefulStop


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up then cosine decay from ``lr`` to ``lr_min``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * min(1.0, t)))


def resolve_config(cfg: TrainConfig, local_rank: int = 0) -> tuple[TrainConfig, torch.device]:
    """Resolve ``"auto"`` device / precision and the channels-last default; the result is what gets recorded."""
    device = resolve_device(cfg.device, local_rank)
    precision = resolve_precision(cfg.precision, device)
    cl = resolve_channels_last(cfg.channels_last, precision)
    return replace(cfg, device=device.type, precision=precision, channels_last=cl), device


class LinkObjective(nn.Module):
    """The training loss as one module (so DistributedDataParallel sees the whole forward pass).

    ``forward(x (B, 3, H, W), snr_db (B,), generator) -> (mse, loss)``: float32 scalars, ``mse`` the image MSE
    averaged over the batch (pixels in [0, 1]) and ``loss = mse + beta_kl * mean KL / (3 H W)`` for VAE-JSCC;
    with ``loss="log-mse"``, ``loss = ln(mse)``: each step's gradient is divided by its own MSE, so steps of every
    budget (rate-adaptive runs) and channel kind (``mixed``) weigh by their relative error.
    """

    def __init__(self, model: JSCCModel, channel: str, beta_kl: float, receiver: DiffusionReceiver | None = None,
                 loss: str = "mse", decoder_snr_db: float | None = DECODER_SNR_AFTER_DENOISING_DB) -> None:
        """``receiver``: a frozen diffusion receiver the decoder is fine-tuned behind (its output is detached), the
        decoder conditioned on ``decoder_snr_db`` (None: the effective SNR); ``loss``: ``"mse"`` or ``"log-mse"``
        (:data:`~jscc_rt.train.config.LOSSES`)."""
        super().__init__()
        self.loss = loss
        self.model = model
        kinds = ("awgn", "rayleigh") if channel == "mixed" else (channel,)
        kw = {} if receiver is None else {"receiver": receiver, "decoder_snr_db": decoder_snr_db}
        self.links = {k: Link(model, ChannelConfig(kind=k), **kw) for k in kinds}  # type: ignore[arg-type]
        self.beta_kl = beta_kl

    def forward(self, x: torch.Tensor, snr: torch.Tensor, generator: torch.Generator, channel: str = "awgn",
                ratio: Fraction | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        res = self.links[channel](x, snr, generator=generator, sample_latent=self.model.config.model == "vae",
                                  ratio=ratio)
        mse = (res.images.float() - x.float()).square().mean()
        if self.loss == "log-mse":  # the clamp keeps a perfect reconstruction (MSE 0) finite
            return mse.detach(), mse.clamp_min(1e-10).log()
        n_src = x.shape[1] * x.shape[2] * x.shape[3]
        return mse, mse + (self.beta_kl * res.kl.float().mean() / n_src if res.kl is not None else 0.0)


def draw_channel(cfg: TrainConfig, generator: torch.Generator) -> str:
    """One training step's channel kind: ``cfg.channel``, or for ``"mixed"`` Rayleigh with probability
    ``cfg.rayleigh_share`` (None: 0.5) and AWGN otherwise (one draw from ``generator``)."""
    if cfg.channel != "mixed":
        return cfg.channel
    share = 0.5 if cfg.rayleigh_share is None else cfg.rayleigh_share
    return ("awgn", "rayleigh")[int(torch.rand(1, generator=generator) < share)]


def _resize_then_deepen(model: JSCCModel, src: JSCCModel) -> None:
    """Seed ``model`` from the fixed-rate ``src`` that differs in latent channels and possibly in fewer synthesis
    blocks: :func:`resize_from` into ``src``'s depth, then :func:`deepen_from` (added blocks start as the identity).
    Raises :class:`JsccInputError` when anything else differs."""
    if model.config.decoder_blocks == src.config.decoder_blocks:
        resize_from(model, src)
        return
    from jscc_rt.models.unrolled import deepen_from

    mid = JSCCModel(replace(model.config, decoder_blocks=src.config.decoder_blocks))
    resize_from(mid, src)
    deepen_from(model, mid)


def train(
    cfg: TrainConfig, out: str | Path, *, resume: bool = False, show_progress: bool = True, stop_after: int | None = None,
    allow_precision_change: bool = False,
) -> dict:
    """Train a JSCC model per ``cfg`` into ``out``; returns the last validation summary (``snr_db``, ``n``,
    ``psnr``) plus ``step``, ``steps_per_s`` (training steps per second of this invocation, leaving out its first 5
    steps and the validations, :class:`~jscc_rt.train.runlog.StepTimer`), ``cpu_time_s`` (the run's CPU seconds: every
    process of every invocation, set-up, validations and checkpoints included, :class:`~jscc_rt.train.runlog.CpuClock`;
    also in model.json's meta, and in each log line as ``cpu_s`` for single-process runs; a state saved before it
    was recorded adds ``cpu_time_from_step``), ``precision``,
    ``channels_last``, ``ema``, ``world_size``.

    ``stop_after`` ends the run after that many total steps (with a checkpoint), to be continued with
    ``resume=True``; the learning-rate schedule still follows ``cfg.steps``. Under ``torchrun`` only rank 0
    validates; the other ranks return ``{"rank", "step", "steps_per_s"}``. ``allow_precision_change`` (with
    ``resume``): the saved state may have been trained under another ``precision`` / ``channels_last``; every other
    field must still match. The switch is recorded (``precision_segments``), and the run is no longer bit-exact with
    an uninterrupted one.
    """
    dev_type = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    info = D.init_distributed(dev_type)
    try:
        return _train(cfg, Path(out), info, resume, show_progress, stop_after, allow_precision_change)
    finally:
        D.shutdown(info)


#: Fields a resume may change with ``allow_precision_change``: how the steps compute, not what they train.
ARITHMETIC_FIELDS = ("precision", "channels_last")


def _train(cfg: TrainConfig, out: Path, info: D.DistInfo, resume: bool, show_progress: bool,
           stop_after: int | None, allow_precision_change: bool = False) -> dict:
    cpu = CpuClock()  # this process's share of this invocation, set-up included
    cfg, device = resolve_config(cfg, info.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    D.local_batch(cfg.batch_size, info)  # the world size must divide the global batch
    out = start_run(out, cfg.threads, cfg.seed)
    state_path = out / "train_state.pt"
    st = load_state(state_path) if resume and state_path.is_file() else None
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    segments = [{"from_step": 0, "precision": cfg.precision, "channels_last": cfg.channels_last, "device": where}]
    if st is not None:  # refuse before anything in `out` is touched
        old = TrainConfig.from_dict(st["config"]).to_dict()
        segments = list(st.get("precision_segments") or [{"from_step": 0, **{k: old[k] for k in ARITHMETIC_FIELDS},
                                                          "device": None}])  # states before segments: unrecorded
        if allow_precision_change:
            old = {**old, **{k: cfg.to_dict()[k] for k in ARITHMETIC_FIELDS}}
        check_same_config(old, cfg.to_dict(), out, switchable=ARITHMETIC_FIELDS)
        if st["world_size"] != info.world_size:
            raise JsccInputError(f"cannot resume {str(out)!r}: it was trained by {st['world_size']} process(es), this "
                                 f"run has {info.world_size}; use torchrun --nproc_per_node {st['world_size']}")
    data_name, train_imgs = training_images(cfg.data, scale=cfg.scale, crop=cfg.crop)
    val_name, val_imgs = validation_images(cfg.val_data, cfg.val_images) if info.main else ("", [])
    mcfg = JSCCConfig.for_ratio(cfg.ratio, cfg.model, width=cfg.width, downsample=cfg.downsample,
                                unroll_iters=cfg.unroll_iters, arch=cfg.arch, upsample=cfg.upsample,
                                min_ratio=cfg.min_ratio, decoder_blocks=cfg.decoder_blocks or 0)
    model = JSCCModel(mcfg)
    if cfg.init:
        from jscc_rt.models import load_model
        from jscc_rt.models.registry import resolve_checkpoint

        src = load_model(resolve_checkpoint(cfg.init))
        if src.config == mcfg:
            model.load_state_dict(src.state_dict())
        elif replace(src.config, decoder_blocks=mcfg.decoder_blocks) == mcfg:  # more synthesis blocks
            from jscc_rt.models.unrolled import deepen_from

            deepen_from(model, src)
        else:  # a fixed-rate model seeds one with other latent channels (exact at its own ratio when wider)
            try:
                _resize_then_deepen(model, src)
            except JsccInputError:
                raise JsccInputError(f"--init {cfg.init} has config {src.config}, this run needs {mcfg}; only a "
                                     "fixed-rate model differing in latent channels (and fewer synthesis blocks) "
                                     "can seed it") from None
    receiver, src_sha = frozen_receiver(cfg, model) if cfg.denoiser else (None, None)
    decoder_only = receiver is not None or bool(cfg.freeze_encoder)
    if cfg.freeze_encoder:
        src_sha = freeze_encoder(cfg, model)
    eval_model = copy.deepcopy(model).to(device).eval()  # float32, contiguous: validation and model.pt
    model.to(device)
    if receiver is not None:
        receiver.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.decoder.parameters() if decoder_only else model.parameters(), lr=cfg.lr)
    ema = EMA(model, cfg.ema) if cfg.ema > 0 else None
    scaler = grad_scaler(cfg.precision, device)
    sampler = RandomCropSampler(train_imgs, cfg.crop, cfg.batch_size, seed=cfg.seed)  # the global batch
    gen = torch.Generator().manual_seed(cfg.seed + 1)  # SNRs (same on every rank)
    noise_gen = gen if not info.enabled and device.type == "cpu" else \
        torch.Generator(device=device).manual_seed(cfg.seed + 1 + 1_000_003 * (info.rank + 1))
    step, elapsed, loss_ema, last_val = 0, 0.0, None, {}
    # CPU seconds of earlier invocations (all ranks); a state saved before CPU time was recorded: counted from its step
    cpu_from_step, cpu_spent = 0, 0.0
    if st is not None:
        try:
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["opt"])
            if ema is not None:
                ema.load_state_dict(st["ema"])
            if scaler is not None and st.get("scaler") is not None:  # a switch to fp16 starts a fresh scaler
                scaler.load_state_dict(st["scaler"])
            rng = st["rng"]
            sampler.gen.set_state(rng["sampler"])
            gen.set_state(rng["snr"])
            if noise_gen is not gen:
                noise_gen.set_state(rng["noise"][info.rank].clone())  # a row view would be misread
            torch.set_rng_state(rng["torch"][info.rank].clone())
            if rng.get("cuda") is not None and device.type == "cuda":
                torch.cuda.set_rng_state(rng["cuda"][info.rank].clone(), device)
            step, elapsed, loss_ema, last_val = st["step"], st["elapsed_s"], st["loss_ema"], st["last_val"]
            cpu_from_step, cpu_spent = st.get("cpu_from_step", step), st.get("cpu_s", 0.0)
            if any(segments[-1][k] != getattr(cfg, k) for k in ARITHMETIC_FIELDS):
                segments.append({"from_step": step, **{k: getattr(cfg, k) for k in ARITHMETIC_FIELDS},
                                 "device": where})
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as e:
            raise JsccInputError(f"cannot resume from {str(state_path)!r}: its contents do not fit this run "
                                 f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); the file was "
                                 "edited or damaged; delete it to start over, or use a new --out") from e
    objective = LinkObjective(model, cfg.channel, cfg.beta_kl, receiver, loss=cfg.loss, decoder_snr_db=cfg.decoder_snr_db)
    net: nn.Module = objective
    if info.enabled:
        net = torch.nn.parallel.DistributedDataParallel(objective, device_ids=[device.index] if device.index is not None
                                                        else None)
    if info.main:
        (out / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    log = RunLog(out, enabled=info.main, keep_until=step if st is not None else None)
    weights = "ema" if ema is not None else "raw"

    def sync_eval() -> None:
        eval_model.load_state_dict(ema.shadow if ema is not None else model.state_dict())

    val_ratios = ladder(mcfg) if mcfg.rate_adaptive else [None]
    main_ratio = Fraction(1, 16) if Fraction(1, 16) in val_ratios else val_ratios[-1]

    def validate() -> dict:
        """AWGN at ``val_snr_db``; a rate-adaptive model at every ladder ratio (``psnr`` is the 1/16 one, or its
        largest ratio's, and ``psnr_by_ratio`` holds all)."""
        sync_eval()
        by_ratio = {}
        for r in val_ratios:
            rows = evaluate(eval_model, val_imgs, [cfg.val_snr_db], ChannelConfig("awgn"), seed=123,
                            metrics=("psnr",), ratio=r, receiver=receiver, decoder_snr_db=cfg.decoder_snr_db)
            by_ratio[str(r)] = summarize(rows, ("psnr",))[0]
        res = dict(by_ratio[str(main_ratio)])
        if mcfg.rate_adaptive:
            res["psnr_by_ratio"] = {k: v["psnr"] for k, v in by_ratio.items()}
        return res

    def checkpoint(final: bool) -> None:
        """Every rank joins (RNG states and weight digests are gathered); rank 0 writes."""
        own = capture_rng({"noise": noise_gen if noise_gen is not gen else None})
        rng = {"sampler": sampler.gen.get_state(), "snr": gen.get_state(),
               **{k: (D.gather_rows(v, info, device) if v is not None else None)
                  for k, v in own.items()}}
        digests = D.replica_digests(model, info, device)
        nonlocal cpu_total
        cpu_total = cpu_spent + float(D.gather_rows(torch.tensor([cpu.seconds()], dtype=torch.float64), info,
                                                    device).sum())  # every rank's share
        if not info.main:
            return
        sync_eval()
        meta = {"train_config": cfg.to_dict(), "step": step, "wall_time_s": round(elapsed, 1),
                "cpu_time_s": round(cpu_total, 1),
                **({} if not cpu_from_step else {"cpu_time_from_step": cpu_from_step}),
                "weights": weights,
                "train_data": data_name, "val_set": val_name, "val": last_val, "world_size": info.world_size,
                "torch": str(torch.__version__), "machine": platform.machine(), "threads": torch.get_num_threads(),
                "final": final, **({} if len(segments) == 1 else {"precision_segments": segments}),
                **({} if not cfg.freeze_encoder else {
                    "encoder_of_sha256": src_sha, "decoder_input": "the received latent (encoder frozen)"}),
                **({} if receiver is None else {
                    "encoder_of_sha256": src_sha, "decoder_snr_db": cfg.decoder_snr_db,
                    "decoder_input": f"{cfg.denoiser} x{cfg.denoise_steps} ({receiver.cfg.sampler}), decoder conditioned "
                    f"on {cond_text(cfg.decoder_snr_db)}"})}
        save_model(eval_model, out / "model.pt", meta=meta)
        save_state({"config": cfg.to_dict(), "model": model.state_dict(), "opt": opt.state_dict(),
                    "ema": ema.state_dict() if ema is not None else None,
                    "scaler": scaler.state_dict() if scaler is not None else None, "rng": rng, "step": step,
                    "elapsed_s": elapsed, "loss_ema": loss_ema, "last_val": last_val,
                    "world_size": info.world_size, "replica_digests": digests, "precision_segments": segments,
                    "cpu_s": cpu_total, "cpu_from_step": cpu_from_step},
                   state_path)

    model.train()
    t_start = time.time() - elapsed
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    timer = StepTimer()
    cpu_total = cpu_spent  # the run's CPU seconds as of the last checkpoint (all ranks)
    with GracefulStop() as stop:
        for step in progress(range(step, end), total=cfg.steps, desc=f"train {cfg.model} {cfg.ratio} {cfg.precision}",
                             disable=not (show_progress and info.main)):
            timer.start()
            for grp in opt.param_groups:
                grp["lr"] = lr_at(cfg, step)
            x = sampler.sample()
            snr = cfg.snr_min_db + (cfg.snr_max_db - cfg.snr_min_db) * torch.rand(x.shape[0], generator=gen)
            # one channel kind and one budget per step, the same on every rank (drawn only when they vary)
            kind = draw_channel(cfg, gen)
            ratio = (Fraction(sample_channels(mcfg, gen, cfg.ladder_weights), 6 * mcfg.downsample**2)
                     if mcfg.rate_adaptive else None)
            x = to_layout(D.shard(x, info).to(device), bool(cfg.channels_last))
            snr = D.shard(snr, info).to(device)
            with autocast(cfg.precision, device):
                mse, loss = net(x, snr, noise_gen, kind, ratio)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
            if ema is not None:
                ema.update(model)
            m = float(mse.detach())
            loss_ema = m if loss_ema is None else 0.98 * loss_ema + 0.02 * m
            step += 1
            timer.stop()
            elapsed = time.time() - t_start
            if info.main and (step % cfg.val_every == 0 or step == cfg.steps):
                last_val = validate()
                by_ratio = {f"val_psnr_{cfg.val_snr_db:g}dB@{k}": v
                            for k, v in last_val.get("psnr_by_ratio", {}).items()}
                # single process: CPU seconds so far (under torchrun, summed over ranks at checkpoints only)
                cpu_now = {} if info.enabled else {"cpu_s": round(cpu_spent + cpu.seconds(), 1)}
                log.write({"step": step, "wall_s": round(elapsed, 1), **cpu_now,
                           "train_psnr_ema": -10 * math.log10(loss_ema), "val_set": val_name,
                           f"val_psnr_{cfg.val_snr_db:g}dB": last_val["psnr"], **by_ratio, "weights": weights,
                           "lr": lr_at(cfg, step - 1), "precision": cfg.precision, "channels_last": cfg.channels_last,
                           "world_size": info.world_size, "steps_per_s": timer.window()})
            halt = stop.now(info, device)  # SIGTERM / Ctrl-C: checkpoint this step and return
            if step % cfg.ckpt_every == 0 or step == end or halt:
                checkpoint(final=step == cfg.steps)
            if halt:
                break
    D.barrier(info, device)  # the final checkpoint is on disk before any rank returns (a resume may follow)
    run = {"step": step, "steps_per_s": timer.steps_per_s(), "cpu_time_s": round(cpu_total, 1),
           "precision": cfg.precision, "channels_last": cfg.channels_last, "ema": cfg.ema, "world_size": info.world_size}
    if stop.signal:
        run["stopped"] = stop.signal
    if not info.main:
        return {"rank": info.rank, **run}
    if not last_val and not stop.signal:  # no validation in this run (stop_after before the first one)
        last_val = validate()
    return {**last_val, **run}
