"""Train a two-user NOMA student from a single-user teacher, with or without knowledge distillation.

``loss = sum_u [ MSE(img_u, rec_u) + kd_feature * FM_u + kd_output * MSE(rec_u, teacher_u) ]`` over pairs of random
crops (one per user), random SNR and random power split ``a1``; ``kd_feature = kd_output = 0`` trains the same
student without distillation (the ablation). Both users start from the teacher's weights; the teacher is frozen.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from jscc_rt._progress import progress
from jscc_rt.data import RandomCropSampler
from jscc_rt.eval.noma_metrics import noma_psnr
from jscc_rt.models import load_model, save_model
from jscc_rt.models.checkpoint import file_sha256
from jscc_rt.models.noma import TwoUserNOMA, distillation_loss, teacher_pass
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.train.config import begin_run, check_run_fields
from jscc_rt.train.precision import autocast, to_layout
from jscc_rt.train.runlog import StepTimer
from jscc_rt.train.data import training_images, validation_images


@dataclass(frozen=True)
class NOMATrainConfig:
    """NOMA student training; ``precision``/``channels_last`` as for ``jscc-rt train`` (validation in fp32)."""

    teacher: str = "unrolled-1_16"
    sic: bool = True
    data: str | None = None
    val_data: str | None = None
    crop: int = 96
    batch_size: int = 8
    steps: int = 3000
    lr: float = 2e-4
    kd_feature: float = 0.01  # relative feature error is ~0.2-1 vs image MSE ~0.01: this weighs them alike
    kd_output: float = 0.5
    snr_min_db: float = 0.0
    snr_max_db: float = 20.0
    a1_min: float = 0.6
    a1_max: float = 0.9
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


def train_noma(cfg: NOMATrainConfig, out: str | Path, *, show_progress: bool = True) -> dict:
    """Train ``model.pt`` (a :class:`TwoUserNOMA`) into ``out``; returns the last validation."""
    cfg, out, _, _ = begin_run(cfg, out)
    prec, cl = cfg.precision, cfg.channels_last
    t0 = time.time()
    teacher_path = resolve_checkpoint(cfg.teacher)
    teacher = load_model(teacher_path, expect="JSCCConfig")
    for p in teacher.parameters():
        p.requires_grad_(False)
    model = TwoUserNOMA.from_teacher(teacher, cfg.sic)
    if cl:
        model.to(memory_format=torch.channels_last)
        teacher.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    data_name, imgs = training_images(cfg.data, crop=cfg.crop)
    val_name, val_imgs = validation_images(cfg.val_data, cfg.val_images)
    s1 = RandomCropSampler(imgs, cfg.crop, cfg.batch_size, seed=cfg.seed)
    s2 = RandomCropSampler(imgs, cfg.crop, cfg.batch_size, seed=cfg.seed + 1000)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    kd = cfg.kd_feature > 0 or cfg.kd_output > 0
    log = (out / "log.jsonl").open("a")
    (out / "noma_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    last: dict = {}
    timer = StepTimer()
    model.train()
    for step in progress(range(cfg.steps), total=cfg.steps, desc="train noma", disable=not show_progress):
        for grp in opt.param_groups:
            grp["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        timer.start()
        x1, x2 = to_layout(s1.sample(), cl), to_layout(s2.sample(), cl)
        snr = cfg.snr_min_db + (cfg.snr_max_db - cfg.snr_min_db) * torch.rand(x1.shape[0], generator=g)
        a1 = cfg.a1_min + (cfg.a1_max - cfg.a1_min) * float(torch.rand((), generator=g))
        with autocast(prec, torch.device("cpu")):
            res = model(x1, x2, snr, a1, generator=g, collect=kd)
            loss = sum((rec.float() - x).square().mean() for rec, x in zip(res.images, (x1, x2)))
            if kd:
                for x, rec, feats, sinr in zip((x1, x2), res.images, res.features, res.sinr_db):
                    t_img, t_feats = teacher_pass(teacher, x, sinr, generator=g)
                    fm, o = distillation_loss([f.float() for f in feats], [f.float() for f in t_feats], rec.float(),
                                              t_img.float())
                    loss = loss + cfg.kd_feature * fm + cfg.kd_output * o
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        timer.stop()
        if (step + 1) % cfg.val_every == 0 or step + 1 == cfg.steps:
            model.eval()
            v1, v2 = noma_psnr(model, [im for _, im in val_imgs], 10.0, 0.8, seed=123)
            model.train()
            last = {"step": step + 1, "loss": float(loss.detach()), "val_set": val_name,
                    "val_psnr_user1_10dB_a0.8": v1, "val_psnr_user2_10dB_a0.8": v2,
                    "wall_s": round(time.time() - t0, 1), "precision": prec, "steps_per_s": timer.window()}
            log.write(json.dumps(last) + "\n")
            log.flush()
    model.eval().to(memory_format=torch.contiguous_format)
    last = {**last, "steps_per_s": timer.steps_per_s()}
    save_model(model, out / "model.pt", meta={"train_config": cfg.to_dict(), "teacher_sha256": file_sha256(teacher_path),
                                              "train_data": data_name, "val": last, "steps": cfg.steps,
                                              "wall_time_s": round(time.time() - t0, 1), "torch": str(torch.__version__)})
    log.close()
    return last
