"""Training configuration (frozen, saved as ``train_config.json`` beside the checkpoint)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch

from jscc_rt._validate import SNR_DB_MAX, SNR_DB_MIN, JsccInputError, check_int, check_positive
from jscc_rt.train.precision import resolve_cpu_training
from jscc_rt.train.state import check_same_config, load_state

#: Training precisions (``"auto"``: bf16 where the CPU/GPU supports it, else fp32; see :mod:`jscc_rt.train.precision`).
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: Training channels: ``"mixed"`` draws AWGN or Rayleigh block fading (one coefficient per image, perfect CSI, ZF)
#: per step.
CHANNELS = ("awgn", "rayleigh", "mixed")
#: Training distortion: the batch MSE, or its logarithm (each step weighs by its relative error).
LOSSES = ("mse", "log-mse")
#: Training devices (``"auto"``: CUDA when available).
DEVICES = ("auto", "cpu", "cuda")


def check_run_fields(cfg: object, *, positive: tuple[str, ...] = (), counts: tuple[str, ...] = ()) -> None:
    """Raise :class:`JsccInputError` when a field named in ``positive`` is not a finite number > 0 (learning rates)
    or one named in ``counts`` is below 1 (steps, batch sizes): shared by every trainer's config."""
    for name in positive:
        check_positive(getattr(cfg, name), name)
    for name in counts:
        check_int(getattr(cfg, name), name, minimum=1)


@dataclass(frozen=True)
class TrainConfig:
    """JSCC training run. SNRs in dB; ``lr`` is Adam's peak learning rate (cosine decay to ``lr_min``).

    ``batch_size`` is the global batch: under ``torchrun`` each of the N processes takes ``batch_size / N`` crops.
    """

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
    # Defaults below keep configs written before these fields existed reproducible; `jscc-rt train` passes "auto",
    # 0.999 and None, and train_config.json records the resolved values.
    precision: str = "fp32"  # "fp32", "bf16" (autocast, fp32 master weights), "fp16" (CUDA, GradScaler) or "auto"
    channels_last: bool | None = False  # NHWC activations/weights; None = on with bf16/fp16
    ema: float = 0.0  # EMA decay of the weights for validation and model.pt; 0 = off (raw weights)
    device: str = "cpu"  # "cpu", "cuda" or "auto" (CUDA when available)
    min_ratio: str | None = None  # rate-adaptive model sending min_ratio..ratio (jscc_rt.models.rate); None = fixed
    # decoder fine-tuning behind a diffusion receiver (needs --init): the encoder is frozen, the decoder learns on
    # what `denoise_steps` steps of this denoiser (or consistency student) output, conditioned as the receiver does
    denoiser: str | None = None
    denoise_steps: int = 1
    # the control of a --denoiser run: the --init model's decoder fine-tuned on the received latent itself, encoder
    # frozen (None = train everything; None, not False, so configs written before the field resume unchanged)
    freeze_encoder: bool | None = None
    # the SNR (dB) that decoder is conditioned on behind the receiver; None = the channel's effective SNR (the decoder
    # learns what denoised latents at each SNR look like); 20 (the eager receiver's default) for runs before the field
    decoder_snr_db: float | None = 20.0
    # "mse": the batch's image MSE; "log-mse": ln(batch MSE), so each step weighs by its relative error and the
    # small budgets of a rate-adaptive run (or the Rayleigh steps of a mixed one) no longer dominate the gradient
    loss: str = "mse"
    # unrolled model: residual synthesis blocks (JSCCConfig.decoder_blocks); None = 0 (configs written before it)
    decoder_blocks: int | None = None
    # channel "mixed": the share of steps over Rayleigh block fading (the rest AWGN); None = 0.5 (configs before it)
    rayleigh_share: float | None = None
    # rate-adaptive: the relative frequency of each ladder ratio (models.rate.ladder_between(min_ratio, ratio),
    # ascending) among the ladder draws; None = equal (configs before it)
    ladder_weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not (SNR_DB_MIN <= self.snr_min_db <= self.snr_max_db <= SNR_DB_MAX):
            raise JsccInputError(
                f"training SNR range [{self.snr_min_db}, {self.snr_max_db}] dB must be ordered and inside "
                f"[{SNR_DB_MIN}, {SNR_DB_MAX}]"
            )
        check_run_fields(self, positive=("lr",), counts=("crop", "batch_size", "steps", "val_every", "ckpt_every"))
        if not 0.05 <= self.scale <= 1.0:
            raise JsccInputError(f"scale {self.scale} must be in [0.05, 1] (a downscale factor for the training photos)")
        if self.precision not in PRECISIONS:
            raise JsccInputError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.device not in DEVICES:
            raise JsccInputError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if not 0.0 <= self.ema < 1.0:
            raise JsccInputError(f"ema decay {self.ema} must be in [0, 1) (0 = off; e.g. 0.999)")
        check_positive(self.lr_min, "lr_min", allow_zero=True)
        if self.decoder_snr_db is not None and not SNR_DB_MIN <= self.decoder_snr_db <= SNR_DB_MAX:
            raise JsccInputError(f"decoder_snr_db {self.decoder_snr_db} must be None (the effective SNR) or in "
                                 f"[{SNR_DB_MIN}, {SNR_DB_MAX}] dB")
        if self.denoiser is not None and (not self.init or self.min_ratio is not None or self.denoise_steps < 1):
            raise JsccInputError("--denoiser fine-tunes the decoder of an --init model behind that denoiser (fixed "
                                 f"rate, --denoise-steps >= 1); got init={self.init!r}, min_ratio={self.min_ratio!r}, "
                                 f"denoise_steps={self.denoise_steps}")
        if self.freeze_encoder and (not self.init or self.min_ratio is not None or self.denoiser is not None):
            raise JsccInputError("--freeze-encoder fine-tunes the decoder of an --init model on the received latent "
                                 f"(fixed rate, no --denoiser, which freezes the encoder itself); got init={self.init!r}, "
                                 f"min_ratio={self.min_ratio!r}, denoiser={self.denoiser!r}")
        if self.loss not in LOSSES:
            raise JsccInputError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.loss == "log-mse" and self.model == "vae":
            raise JsccInputError("--loss log-mse has no rate term to weigh against VAE-JSCC's KL; use --loss mse "
                                 "with --model vae")
        if self.channel not in CHANNELS:
            raise JsccInputError(f"training channel must be one of {', '.join(CHANNELS)}, got {self.channel!r}")
        if self.rayleigh_share is not None and (self.channel != "mixed" or not 0.0 < self.rayleigh_share < 1.0):
            raise JsccInputError(f"rayleigh_share {self.rayleigh_share} needs --channel mixed (got {self.channel!r}) "
                                 "and a value strictly between 0 and 1 (the share of Rayleigh steps; 0.5 by default)")
        if self.ladder_weights is not None:
            object.__setattr__(self, "ladder_weights", tuple(float(x) for x in self.ladder_weights))  # JSON lists
            self._check_ladder_weights()
        if self.crop % self.downsample:
            raise JsccInputError(f"crop {self.crop} must be a multiple of downsample {self.downsample}")

    def _check_ladder_weights(self) -> None:
        from jscc_rt.models.config import parse_ratio
        from jscc_rt.models.rate import check_ladder_weights, ladder_between

        w = self.ladder_weights
        if self.min_ratio is None:
            raise JsccInputError(f"ladder_weights {list(w)} need a rate-adaptive run (--min-ratio)")
        check_ladder_weights(w, ladder_between(parse_ratio(self.min_ratio), parse_ratio(self.ratio)))

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


def begin_run(cfg: Any, out: str | Path, *, resume: bool = False) -> tuple[Any, Path, Path, dict | None]:
    """The start every trainer shares: ``cfg`` (a frozen config with ``precision``, ``channels_last``, ``threads``,
    ``seed`` and ``to_dict()``) with its precision and layout resolved for this CPU, the run folder made with threads
    and seed set (:func:`start_run`), the path of its ``train_state.pt``, and that state when ``resume`` and the file
    exists (refused, naming the fields, when it was saved under another config), else None."""
    prec, cl = resolve_cpu_training(cfg.precision, cfg.channels_last)
    cfg = replace(cfg, precision=prec, channels_last=cl)
    folder = start_run(out, cfg.threads, cfg.seed)
    state_path = folder / "train_state.pt"
    st = load_state(state_path) if resume and state_path.is_file() else None
    if st is not None:
        check_same_config(st["config"], cfg.to_dict(), folder)
    return cfg, folder, state_path, st
