"""Training configuration (frozen, saved as ``train_config.json`` beside the checkpoint)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from jscc_rt._validate import SNR_DB_MAX, SNR_DB_MIN, JsccInputError


@dataclass(frozen=True)
class TrainConfig:
    """JSCC training run. SNRs in dB; ``lr`` is Adam's peak learning rate (cosine decay to ``lr_min``)."""

    model: str = "deepjscc"
    ratio: str = "1/16"
    width: int = 96
    downsample: int = 8
    data: str | None = None  # training photos folder; None -> $JSCC_DATA/photos, else embedded samples
    val_data: str | None = None  # Kodak folder; None -> $JSCC_DATA/kodak, else embedded samples
    crop: int = 96
    batch_size: int = 16
    steps: int = 4000
    lr: float = 5e-4
    lr_min: float = 1e-5
    warmup: int = 100
    snr_min_db: float = -5.0
    snr_max_db: float = 20.0
    channel: str = "awgn"
    beta_kl: float = 1e-3
    seed: int = 0
    val_every: int = 500
    val_images: int = 4
    val_snr_db: float = 10.0
    ckpt_every: int = 250
    threads: int = 0  # torch intra-op threads; 0 = torch default
    unroll_iters: int = 5  # model "unrolled" only
    init: str | None = None  # start from these weights (same architecture), e.g. to continue a shipped model
    arch: str = "gdn"  # deepjscc/vae: "gdn" or "res" (JSCCConfig.arch)
    upsample: str = "deconv"  # decoder upsampling: "deconv" or "subpixel" (JSCCConfig.upsample)
    scale: float = 1.0  # training photos are resized by this factor once (0.6 frames them like Kodak's 768x512)

    def __post_init__(self) -> None:
        if not (SNR_DB_MIN <= self.snr_min_db <= self.snr_max_db <= SNR_DB_MAX):
            raise JsccInputError(
                f"training SNR range [{self.snr_min_db}, {self.snr_max_db}] dB must be ordered and inside "
                f"[{SNR_DB_MIN}, {SNR_DB_MAX}]"
            )
        for name in ("crop", "batch_size", "steps", "val_every", "ckpt_every"):
            if getattr(self, name) < 1:
                raise JsccInputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.05 <= self.scale <= 1.0:
            raise JsccInputError(f"scale {self.scale} must be in [0.05, 1] (a downscale factor for the training photos)")
        if self.crop % self.downsample:
            raise JsccInputError(f"crop {self.crop} must be a multiple of downsample {self.downsample}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def start_run(out: str | Path, threads: int, seed: int) -> Path:
    """Common start of every training run: create ``out``, set torch's thread count (0 = default) and seed."""
    p = Path(out)
    p.mkdir(parents=True, exist_ok=True)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return p
