"""Rate adaptation: one model, a channel-use budget chosen at run time.

A rate-adaptive model (:attr:`JSCCConfig.rate_adaptive`) encodes ``C = latent_channels`` real latent channels
ordered by importance (training sends a random prefix, so the first channels learn to carry the most) and sends
the first ``c`` of them, ``c`` any even number in ``[min_latent_channels, C]``: ``k = c * h * w / 2`` complex
symbols, k/n = ``c / (6 s^2)``. The transmitter power-normalizes the sent prefix only. The receiver puts the
received prefix back into a ``(B, C, h, w)`` latent with zeros after it (:func:`pad_latent`) and tells the decoder
``c`` (:func:`budget_mask`); the unrolled decoder gives the missing channels zero likelihood weight, so its learned
proximal steps fill them from the prior.

Training draws one budget per step (:func:`sample_channels`): a ladder ratio (:data:`RATE_LADDER`) with
probability :data:`LADDER_PROB`, else any even channel count in range.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Sequence

import torch
from torch import nn

from jscc_rt._validate import JsccInputError
from jscc_rt.models.config import JSCCConfig, channels_for, parse_ratio

#: Bandwidth ratios a rate-adaptive model is trained and reported at (those inside its range).
RATE_LADDER: tuple[Fraction, ...] = tuple(Fraction(1, d) for d in (64, 32, 16, 12, 8, 6, 4))
#: Probability that a training step uses a ladder ratio rather than any even channel count.
LADDER_PROB = 0.75


def budget_channels(cfg: JSCCConfig, ratio: Fraction | str | float | None) -> int:
    """Sent latent channels for ``ratio`` (None: the model's largest); a clear error outside the model's range or
    off its granularity (two channels, i.e. k/n steps of ``1 / (3 s^2)``)."""
    if ratio is None:
        return cfg.latent_channels
    r = parse_ratio(ratio)
    adaptive = getattr(cfg, "rate_adaptive", False)  # other model configs (compression modules) are fixed-rate
    lo, hi = (cfg.min_ratio if adaptive else cfg.ratio), cfg.ratio
    if not adaptive and r != hi:
        raise JsccInputError(f"this model is fixed-rate at k/n = {hi}, got ratio {r}; load a rate-adaptive model "
                             "for other budgets")
    if not lo <= r <= hi:
        raise JsccInputError(f"ratio {r} is outside the model's trained range [{lo}, {hi}]")
    try:
        return channels_for(r, cfg.downsample) if adaptive else cfg.latent_channels
    except JsccInputError as e:
        raise JsccInputError(f"ratio {r} is not representable by this model: {e}") from None


def ladder_between(lo: Fraction, hi: Fraction) -> list[Fraction]:
    """The :data:`RATE_LADDER` ratios in ``[lo, hi]`` plus both ends, ascending (a rate-adaptive range's ladder)."""
    return sorted({r for r in RATE_LADDER if lo <= r <= hi} | {lo, hi})


def ladder(cfg: JSCCConfig) -> list[Fraction]:
    """The :data:`RATE_LADDER` ratios inside the model's range plus both ends of the range, ascending (its own
    ratio for a fixed-rate model)."""
    if not cfg.rate_adaptive:
        return [cfg.ratio]
    return ladder_between(cfg.min_ratio, cfg.ratio)


def check_ladder_weights(weights: Sequence[float], ratios: Sequence[Fraction]) -> None:
    """Raise :class:`JsccInputError` unless ``weights`` are one finite weight >= 0 per ladder ratio of ``ratios``
    (ascending), not all zero: the one check behind ``TrainConfig.ladder_weights`` and :func:`sample_channels`."""
    w = list(weights)
    if len(w) != len(ratios) or not all(math.isfinite(x) and x >= 0 for x in w) or not sum(w) > 0:
        raise JsccInputError(f"ladder_weights {w} must be {len(ratios)} finite weights >= 0, not all zero, one per "
                             f"ladder ratio {', '.join(map(str, ratios))} (ascending)")


def sample_channels(cfg: JSCCConfig, generator: torch.Generator,
                    weights: tuple[float, ...] | None = None) -> int:
    """One training budget (sent channels) drawn with ``generator``: a ladder ratio with probability
    :data:`LADDER_PROB` (each equally likely, or in proportion to ``weights``, one per :func:`ladder` ratio,
    ascending), else a uniform even count in ``[min_latent_channels, latent_channels]``. Two uniform draws
    either way, so a weighted run consumes the generator like an unweighted one."""
    ratios = ladder(cfg)
    lad = [channels_for(r, cfg.downsample) for r in ratios]
    if weights is not None:
        check_ladder_weights(weights, ratios)
    u = torch.rand(2, generator=generator)
    if lad and float(u[0]) < LADDER_PROB:
        if weights is None:
            return lad[min(int(float(u[1]) * len(lad)), len(lad) - 1)]
        target, acc = float(u[1]) * sum(weights), 0.0
        for c, w in zip(lad, weights):
            acc += w
            if target < acc:
                return c
        return lad[-1]
    n = (cfg.latent_channels - cfg.min_latent_channels) // 2 + 1
    return cfg.min_latent_channels + 2 * min(int(float(u[1]) * n), n - 1)


def budget_mask(channels: torch.Tensor, total: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``channels`` ``(B,)`` (sent channel counts, any numeric dtype) -> mask ``(B, total, 1, 1)`` with ones on
    the sent prefix. Export-safe (no host sync)."""
    idx = torch.arange(total, device=channels.device, dtype=torch.float32)
    return (idx[None, :] < channels.to(torch.float32)[:, None]).to(dtype)[..., None, None]


def pad_latent(y: torch.Tensor, total: int) -> torch.Tensor:
    """Received prefix ``(B, c, h, w)`` -> ``(B, total, h, w)`` with zeros in the channels not sent."""
    if y.shape[1] > total:
        raise JsccInputError(f"received latent has {y.shape[1]} channels, more than the model's {total}")
    if y.shape[1] == total:
        return y
    return torch.cat((y, y.new_zeros(y.shape[0], total - y.shape[1], *y.shape[2:])), 1)


def resize_from(dst: nn.Module, src: nn.Module) -> list[str]:
    """Initialize ``dst`` from the fixed-rate ``src`` of the same architecture with another number of latent
    channels (``dst`` rate-adaptive or fixed-rate): equal-shaped tensors are copied; a tensor whose latent-channel
    dimension differs gets the overlapping leading slice. Grown decoder tensors are zero outside it (new latent
    channels are not read, the prox does not write them, the FiLM ignores the rate), so a wider ``dst`` sending
    ``src``'s channel count computes what ``src`` computes; the encoder's new output channels keep their random
    initialization (gradients reach them once the decoder reads them). A narrower ``dst`` is ``src`` restricted to
    its first channels. Returns the names of the resized tensors.

    Raises :class:`JsccInputError` when the architectures differ in anything but the latent channels."""
    dc, sc = dst.config, src.config  # type: ignore[union-attr]
    same = {k: v for k, v in dc.to_dict().items() if k not in ("latent_channels", "min_latent_channels")}
    other = {k: v for k, v in sc.to_dict().items() if k not in ("latent_channels", "min_latent_channels")}
    if same != other or sc.rate_adaptive:
        raise JsccInputError(f"cannot initialize {dc} from {sc}: only a fixed-rate model of the same architecture "
                             "(differing in latent channels only) can seed another")
    d_sd, resized = dst.state_dict(), []
    with torch.no_grad():
        for name, t in src.state_dict().items():
            if name not in d_sd:
                raise JsccInputError(f"cannot initialize from {name} of the source: no counterpart")
            d = d_sd[name]
            if d.shape == t.shape:
                d.copy_(t)
                continue
            if d.ndim != t.ndim:
                raise JsccInputError(f"cannot resize {name}: {tuple(t.shape)} vs {tuple(d.shape)}")
            if name.startswith("decoder."):
                d.zero_()
            common = tuple(slice(0, min(a, b)) for a, b in zip(d.shape, t.shape))
            d[common].copy_(t[common])
            resized.append(name)
    dst.load_state_dict(d_sd)
    return resized
