"""Training loop for Deep JSCC / VAE-JSCC: random crops, random SNR per sample, resumable, validated on Kodak.

Writes into ``out``: ``model.pt`` + ``model.json`` (weights and config), ``train_config.json``,
``train_state.pt`` (optimizer, step, RNG states; for ``resume=True``) and ``log.jsonl`` (one line per validation).
"""
from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from jscc_rt._progress import progress
from jscc_rt.channel import ChannelConfig
from jscc_rt.data import RandomCropSampler, eval_images, resolve_data_dir
from jscc_rt.data.images import ImageFolder
from jscc_rt.data.samples import sample_images
from jscc_rt.eval.evaluate import evaluate, summarize
from jscc_rt.models import JSCCConfig, JSCCModel, save_model
from jscc_rt.pipeline import Link
from jscc_rt.train.config import TrainConfig, start_run


def _training_images(cfg: TrainConfig) -> tuple[str, list[torch.Tensor]]:
    """The training photos (or the embedded samples), resized once by ``cfg.scale`` (antialiased bilinear)."""
    folder = resolve_data_dir(cfg.data, "photos")
    if folder is None:
        name, imgs = "embedded", [img for _, img in sample_images("auto")]
    else:
        ds = ImageFolder(folder)
        name, imgs = str(folder), [ds[i] for i in range(len(ds))]
    if cfg.scale != 1.0:
        imgs = [F.interpolate(im[None], scale_factor=cfg.scale, mode="bilinear", antialias=True, align_corners=False,
                              recompute_scale_factor=False)[0].clamp(0, 1) for im in imgs]
    return name, imgs


def _val_images(cfg: TrainConfig) -> tuple[str, list[tuple[str, torch.Tensor]]]:
    name, imgs = eval_images(cfg.val_data)
    return name, imgs[: cfg.val_images]


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up then cosine decay from ``lr`` to ``lr_min``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * min(1.0, t)))


def train(
    cfg: TrainConfig, out: str | Path, *, resume: bool = False, show_progress: bool = True, stop_after: int | None = None
) -> dict:
    """Train a JSCC model per ``cfg`` into ``out``; returns the last validation summary.

    ``stop_after`` ends the run after that many total steps (with a checkpoint), to be continued with
    ``resume=True``; the learning-rate schedule still follows ``cfg.steps``.
    """
    out = start_run(out, cfg.threads, cfg.seed)
    mcfg = JSCCConfig.for_ratio(cfg.ratio, cfg.model, width=cfg.width, downsample=cfg.downsample,
                                unroll_iters=cfg.unroll_iters, arch=cfg.arch, upsample=cfg.upsample)
    model = JSCCModel(mcfg)
    if cfg.init:
        from jscc_rt.models import load_model

        src = load_model(cfg.init)
        if src.config != mcfg:
            raise ValueError(f"--init {cfg.init} has config {src.config}, this run needs {mcfg}")
        model.load_state_dict(src.state_dict())
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    data_name, train_imgs = _training_images(cfg)
    sampler = RandomCropSampler(train_imgs, cfg.crop, cfg.batch_size, seed=cfg.seed)
    val_name, val_imgs = _val_images(cfg)
    link = Link(model, ChannelConfig(kind=cfg.channel))
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    step, elapsed = 0, 0.0
    state_path = out / "train_state.pt"
    if resume and state_path.is_file():
        st = torch.load(state_path, map_location="cpu", weights_only=False)
        if st["config"] != cfg.to_dict():
            raise ValueError(f"cannot resume {out}: its train_config differs from this run's; use a new --out")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sampler.load_state_dict(st["sampler"])
        gen.set_state(st["gen"])
        step, elapsed = st["step"], st["elapsed_s"]
    (out / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    n_src = 3 * cfg.crop * cfg.crop
    last_val: dict = {}

    def validate() -> dict:
        model.eval()
        rows = evaluate(model, val_imgs, [cfg.val_snr_db], ChannelConfig("awgn"), seed=123, metrics=("psnr",))
        model.train()
        return summarize(rows, ("psnr",))[0]

    def checkpoint(final: bool) -> None:
        meta = {"train_config": cfg.to_dict(), "step": step, "wall_time_s": round(elapsed, 1),
                "train_data": data_name, "val_set": val_name, "val": last_val,
                "torch": str(torch.__version__), "machine": platform.machine(), "threads": torch.get_num_threads(),
                "final": final}
        save_model(model, out / "model.pt", meta=meta)
        torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "opt": opt.state_dict(),
                    "sampler": sampler.state_dict(), "gen": gen.get_state(), "step": step, "elapsed_s": elapsed},
                   state_path)

    model.train()
    log = (out / "log.jsonl").open("a")
    t_start, loss_ema = time.time() - elapsed, None
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    for step in progress(range(step, end), total=cfg.steps, desc=f"train {cfg.model} {cfg.ratio}",
                         disable=not show_progress):
        for grp in opt.param_groups:
            grp["lr"] = lr_at(cfg, step)
        x = sampler.sample()
        snr = cfg.snr_min_db + (cfg.snr_max_db - cfg.snr_min_db) * torch.rand(x.shape[0], generator=gen)
        res = link(x, snr, generator=gen, sample_latent=cfg.model == "vae")
        mse = (res.images - x).square().mean()
        loss = mse + (cfg.beta_kl * res.kl.mean() / n_src if res.kl is not None else 0.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        m = float(mse.detach())
        loss_ema = m if loss_ema is None else 0.98 * loss_ema + 0.02 * m
        step += 1
        elapsed = time.time() - t_start
        if step % cfg.val_every == 0 or step == cfg.steps:
            last_val = validate()
            rec = {"step": step, "wall_s": round(elapsed, 1), "train_psnr_ema": -10 * math.log10(loss_ema),
                   "val_set": val_name, f"val_psnr_{cfg.val_snr_db:g}dB": last_val["psnr"], "lr": lr_at(cfg, step - 1)}
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if step % cfg.ckpt_every == 0 or step == end:
            checkpoint(final=step == cfg.steps)
    log.close()
    if not last_val:  # resumed a finished run
        last_val = validate()
    return last_val
