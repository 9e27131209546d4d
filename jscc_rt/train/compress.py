"""Train the VAE bandwidth-compression modules on a frozen VAE-JSCC (hybrid loss of Guo et al. 2024).

``loss = lambda_mse * MSE(image) + gamma_kl * mean KL(q_up(z | y) || q_enc(z | x))`` over random crops at random
SNRs: the first term is the VAE reconstruction, the second guides the receiver's Gaussian latent toward the
uncompressed encoder's posterior. Only the down/upsampler train; the VAE-JSCC stays frozen.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from jscc_rt._progress import progress
from jscc_rt.channel import ChannelConfig
from jscc_rt.data import RandomCropSampler
from jscc_rt.eval.evaluate import evaluate, summarize
from jscc_rt.models import load_model, save_model
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.models.checkpoint import file_sha256
from jscc_rt.models.compress import CompressConfig, CompressedJSCC, gaussian_kl
from jscc_rt.pipeline import Link
from jscc_rt.train.config import begin_run, check_run_fields
from jscc_rt.train.precision import autocast, to_layout
from jscc_rt.train.runlog import StepTimer
from jscc_rt.train.data import training_images, validation_images


@dataclass(frozen=True)
class CompressTrainConfig:
    """Compression-module training; ``precision``/``channels_last`` as for ``jscc-rt train`` (validation in fp32)."""

    base: str = ""
    factor: int = 2
    width: int = 96
    data: str | None = None
    val_data: str | None = None
    crop: int = 96
    batch_size: int = 8
    steps: int = 2000
    lr: float = 5e-4
    lambda_mse: float = 1.0
    gamma_kl: float = 1e-4
    snr_min_db: float = -5.0
    snr_max_db: float = 20.0
    seed: int = 0
    val_every: int = 500
    val_images: int = 4
    threads: int = 0
    precision: str = "fp32"  # "fp32", "bf16" or "auto" (the CLI default; recorded resolved)
    channels_last: bool | None = False  # None = on with bf16

    def __post_init__(self) -> None:
        check_run_fields(self, positive=("lr",), counts=("crop", "batch_size", "steps", "val_every", "val_images"))

    def to_dict(self) -> dict:
        return asdict(self)


def train_compress(cfg: CompressTrainConfig, out: str | Path, *, show_progress: bool = True) -> dict:
    """Train ``model.pt`` (a self-contained :class:`CompressedJSCC`) into ``out``; returns the last validation."""
    cfg, out, _, _ = begin_run(cfg, out)
    prec, cl = cfg.precision, cfg.channels_last
    t0 = time.time()
    base = load_model(resolve_checkpoint(cfg.base), expect="JSCCConfig")
    model = CompressedJSCC(CompressConfig(base.config, cfg.factor, cfg.width), base)
    for p in model.base.parameters():
        p.requires_grad_(False)
    if cl:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    data_name, imgs = training_images(cfg.data, crop=cfg.crop)
    val_name, val_imgs = validation_images(cfg.val_data, cfg.val_images)
    sampler = RandomCropSampler(imgs, cfg.crop, cfg.batch_size, seed=cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    link = Link(model, ChannelConfig("awgn"))
    log = (out / "log.jsonl").open("a")
    (out / "compress_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    last: dict = {}
    timer = StepTimer()
    model.train()
    model.base.eval()
    for step in progress(range(cfg.steps), total=cfg.steps, desc=f"train compress x{cfg.factor}",
                         disable=not show_progress):
        for grp in opt.param_groups:
            grp["lr"] = cfg.lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        timer.start()
        x = to_layout(sampler.sample(), cl)
        snr = cfg.snr_min_db + (cfg.snr_max_db - cfg.snr_min_db) * torch.rand(x.shape[0], generator=g)
        model.decoder.sample, model.decoder.generator = True, g
        with autocast(prec, torch.device("cpu")):
            res = link(x, snr, generator=g)
            mu_e, lv_e = (t.float() for t in model.base_posterior(x, snr))
            mu_u, lv_u = (t.float() for t in model.decoder.posterior(
                res.received.reshape(x.shape[0], -1, *mu_e.shape[-2:]), res.snr_eff_db))
            loss = cfg.lambda_mse * (res.images.float() - x).square().mean() + \
                cfg.gamma_kl * gaussian_kl(mu_u, lv_u, mu_e, lv_e).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        timer.stop()
        if (step + 1) % cfg.val_every == 0 or step + 1 == cfg.steps:
            model.eval()
            model.decoder.sample = False
            last = summarize(evaluate(model, val_imgs, [10.0], ChannelConfig("awgn"), seed=123, metrics=("psnr",)),
                             ("psnr",))[0]
            model.train()
            model.base.eval()
            log.write(json.dumps({"step": step + 1, "loss": float(loss.detach()), "val_set": val_name,
                                  "val_psnr_10dB": last["psnr"], "wall_s": round(time.time() - t0, 1),
                                  "precision": prec, "steps_per_s": timer.window()}) + "\n")
            log.flush()
    model.eval().to(memory_format=torch.contiguous_format)
    model.decoder.sample = False
    last = {**last, "precision": prec, "steps_per_s": timer.steps_per_s()}
    save_model(model, out / "model.pt", meta={"train_config": cfg.to_dict(), "base_sha256": file_sha256(cfg.base),
                                              "train_data": data_name, "val": last, "steps": cfg.steps,
                                              "wall_time_s": round(time.time() - t0, 1), "torch": str(torch.__version__)})
    log.close()
    return last
