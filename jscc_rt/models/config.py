"""Model configuration: a frozen dataclass saved next to every checkpoint and engine."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from typing import Literal

from jscc_rt._validate import JsccInputError

def parse_ratio(ratio: Fraction | str | float) -> Fraction:
    """A bandwidth ratio k/n in (0, 1] as a Fraction (``"1/16"``, ``Fraction(1, 6)``, ``0.0625``)."""
    try:
        r = Fraction(ratio) if not isinstance(ratio, float) else Fraction(ratio).limit_denominator(1 << 16)
    except (TypeError, ValueError, ZeroDivisionError) as e:
        raise JsccInputError(f"bandwidth ratio must be a fraction k/n such as 1/16, got {ratio!r} ({e})") from e
    if not 0 < r <= 1:
        raise JsccInputError(f"bandwidth ratio must lie in (0, 1], got {ratio!r}; e.g. 1/16 (one channel use per 16 "
                             "source values)")
    return r


def channels_for(ratio: Fraction | str | float, downsample: int = 8) -> int:
    """Real latent channels ``c = ratio * 6 * downsample^2`` that send ``ratio`` exactly (an even integer)."""
    r = parse_ratio(ratio)
    c = r * 6 * downsample**2
    if c.denominator != 1 or c.numerator % 2:
        raise JsccInputError(
            f"ratio {r} needs {c} latent channels at downsample {downsample}, not an even integer; "
            f"pick a ratio c/{6 * downsample**2} with even c (e.g. 1/64, 1/32, 1/16, 1/12, 1/8, 1/6, 1/4 at "
            "downsample 8)"
        )
    return int(c)


ModelName = Literal["deepjscc", "vae", "unrolled"]
MODEL_NAMES: tuple[str, ...] = ("deepjscc", "vae", "unrolled")
ArchName = Literal["gdn", "res"]
ARCH_NAMES: tuple[str, ...] = ("gdn", "res")
UpsampleName = Literal["deconv", "subpixel"]
UPSAMPLE_NAMES: tuple[str, ...] = ("deconv", "subpixel")


@dataclass(frozen=True)
class JSCCConfig:
    """Architecture of a JSCC encoder/decoder pair.

    Attributes:
        model: ``"deepjscc"`` (deterministic latent), ``"vae"`` (mu / log-variance + reparameterization) or
            ``"unrolled"`` (compact encoder + model-based unrolled receiver, :mod:`jscc_rt.models.unrolled`).
        latent_channels: real latent channels ``c``; complex uses per image ``k = c * (H/s) * (W/s) / 2``.
        width: feature channels ``N`` of the inner layers (the first layer uses ``N/2``).
        downsample: spatial stride ``s`` of the encoder (power of two, 3 stages of 2 for s=8).
        unroll_iters: ``"unrolled"`` only: receiver iterations ``K``.
        arch: ``"deepjscc"`` / ``"vae"`` only: ``"gdn"`` (Bourtsoulatze conv + GDN + ADJSCC attention,
            :mod:`jscc_rt.models.jscc`) or ``"res"`` (PReLU conv stages, residual blocks at the latent
            resolution, transposed-conv decoder, :mod:`jscc_rt.models.resjscc`; downsample 8).
        upsample: the decoder's 2x upsampling layers: ``"deconv"`` (transposed convolutions) or ``"subpixel"``
            (convolution + PixelShuffle, the same function class; runs in bf16/fp16/int8 on every backend,
            :mod:`jscc_rt.models.upsample`).
        min_latent_channels: 0 for a fixed-rate model; otherwise the model is rate-adaptive
            (:mod:`jscc_rt.models.rate`): it sends the first ``c`` of its ``latent_channels`` channels for any even
            ``c`` in ``[min_latent_channels, latent_channels]``, chosen at run time (``"unrolled"`` only).
        decoder_blocks: ``"unrolled"`` only: residual blocks (conv-PReLU-conv at ``width`` features) in the
            synthesis network at H/4, after its first upsampling; 0 = the compact three-layer synthesis.
    """

    model: ModelName = "deepjscc"
    latent_channels: int = 24
    width: int = 96
    downsample: int = 8
    unroll_iters: int = 5
    arch: ArchName = "gdn"
    upsample: UpsampleName = "deconv"
    min_latent_channels: int = 0
    decoder_blocks: int = 0

    def __post_init__(self) -> None:
        if self.model not in MODEL_NAMES:
            raise JsccInputError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        if self.latent_channels < 2 or self.latent_channels % 2:
            raise JsccInputError(f"latent_channels must be an even int >= 2, got {self.latent_channels}")
        if self.downsample not in (4, 8, 16):
            raise JsccInputError(f"downsample must be 4, 8 or 16, got {self.downsample}")
        if self.width < 8:
            raise JsccInputError(f"width must be >= 8, got {self.width}")
        if self.arch not in ARCH_NAMES:
            raise JsccInputError(f"unknown arch {self.arch!r}; choose one of {', '.join(ARCH_NAMES)}")
        if self.upsample not in UPSAMPLE_NAMES:
            raise JsccInputError(f"unknown upsample {self.upsample!r}; choose one of {', '.join(UPSAMPLE_NAMES)}")
        if self.arch == "res" and (self.model == "unrolled" or self.downsample != 8 or self.width % 4):
            raise JsccInputError(f"arch 'res' is for deepjscc/vae with downsample 8 and width a multiple of 4, got "
                                 f"model {self.model!r}, downsample {self.downsample}, width {self.width}")
        if self.model == "unrolled" and (self.downsample != 8 or not 1 <= self.unroll_iters <= 32):
            raise JsccInputError(f"the unrolled model needs downsample 8 and 1..32 iterations, got "
                                 f"downsample {self.downsample}, unroll_iters {self.unroll_iters}")
        if self.decoder_blocks and (self.model != "unrolled" or not 0 <= self.decoder_blocks <= 8):
            raise JsccInputError(f"decoder_blocks must be 0..8 on the unrolled model, got {self.decoder_blocks} "
                                 f"(model {self.model!r})")
        if self.min_latent_channels and (self.model != "unrolled" or self.min_latent_channels % 2
                                         or not 2 <= self.min_latent_channels <= self.latent_channels):
            raise JsccInputError(f"min_latent_channels must be 0 (fixed rate) or an even int in [2, latent_channels="
                                 f"{self.latent_channels}] on the unrolled model, got {self.min_latent_channels} "
                                 f"(model {self.model!r})")

    @property
    def ratio(self) -> Fraction:
        """Bandwidth ratio k/n = c / (6 s^2) (complex uses per source value); the largest one of a rate-adaptive
        model."""
        return Fraction(self.latent_channels, 6 * self.downsample**2)

    @property
    def rate_adaptive(self) -> bool:
        """True when the number of sent channels is chosen at run time (:mod:`jscc_rt.models.rate`)."""
        return self.min_latent_channels > 0

    @property
    def min_ratio(self) -> Fraction:
        """Smallest bandwidth ratio the model sends (``ratio`` for a fixed-rate model)."""
        return Fraction(self.min_latent_channels or self.latent_channels, 6 * self.downsample**2)

    @classmethod
    def for_ratio(cls, ratio: Fraction | str, model: str = "deepjscc", *, width: int = 96, downsample: int = 8,
                  unroll_iters: int = 5, arch: str = "gdn", upsample: str = "deconv",
                  min_ratio: Fraction | str | None = None, decoder_blocks: int = 0) -> "JSCCConfig":
        """Config whose bandwidth ratio equals ``ratio`` exactly (e.g. ``"1/16"``, ``"1/6"``); with ``min_ratio``, a
        rate-adaptive model sending any ratio from ``min_ratio`` to ``ratio``."""
        c = channels_for(ratio, downsample)
        c_min = 0 if min_ratio is None else channels_for(min_ratio, downsample)
        if c_min > c:
            raise JsccInputError(f"min ratio {parse_ratio(min_ratio)} is above the ratio {parse_ratio(ratio)}; "
                                 "a rate-adaptive model needs min_ratio <= ratio")
        return cls(model=model, latent_channels=c, width=width, downsample=downsample,  # type: ignore[arg-type]
                   unroll_iters=unroll_iters, arch=arch, upsample=upsample,  # type: ignore[arg-type]
                   min_latent_channels=c_min, decoder_blocks=decoder_blocks)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "JSCCConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise JsccInputError(f"unknown JSCCConfig keys {sorted(unknown)}; the checkpoint is from another version")
        return cls(**d)
