"""Measure a compressed link's upsampler error per SNR: the table a calibrated diffusion start reads.

For each SNR, random crops of calibration images (the training photos, never the evaluation set) go through the
compressed link; the upsampler's mean ``mu'`` in the diffusion domain, ``m = to_diffusion(mu')``, is compared with
the base link's clean latent ``x0 = to_diffusion(power-normalized base latent)`` (what the base model's denoiser was
trained on). ``v(snr) = mean((m - x0)^2)`` per real component is the noise variance a calibrated
:class:`~jscc_rt.diffusion.upsampler_start.UpsamplerStart` starts from; the mean of ``exp(logvar') * 2 / P`` is
reported beside it (what the ``"upsampler"`` start would use). The same crops fit the upsampler as a forward channel
``m = c * x0 + w`` (``c = Cov(m, x0) / Var(x0)``, ``Var(w) = Var(m) - c^2 Var(x0)``, over all components): the
``"forward"`` start (:func:`forward_start`) divides by ``c`` and starts from ``v_forward = Var(w) / c^2``.
"""
from __future__ import annotations

from typing import Sequence

import torch

from jscc_rt._validate import JsccInputError, check_snr_db
from jscc_rt.channel import ChannelConfig
from jscc_rt.data.crops import RandomCropSampler
from jscc_rt.diffusion.schedule import to_diffusion
from jscc_rt.diffusion.upsampler_start import UpsamplerStart
from jscc_rt.models.compress import is_compressed_link
from jscc_rt.pipeline import Link

#: SNRs (dB) of the default calibration table: the denoisers' training range in 5 dB steps.
CALIBRATION_SNRS_DB: tuple[float, ...] = (-5.0, 0.0, 5.0, 10.0, 15.0, 20.0)


@torch.no_grad()
def calibrate_upsampler(model: torch.nn.Module, images: Sequence[torch.Tensor], *,
                        snrs_db: Sequence[float] = CALIBRATION_SNRS_DB, crop: int = 128, n_crops: int = 32,
                        batch_size: int = 8, seed: int = 0, power: float = 1.0) -> tuple[UpsamplerStart, list[dict]]:
    """``(UpsamplerStart("calibrated", table), rows)`` for the compressed link ``model`` (a ``vae-x2``/``-x4``
    :class:`~jscc_rt.models.compress.CompressedJSCC`), from ``n_crops`` random ``crop``-pixel crops of ``images``
    ``(3, H, W)`` in [0, 1] per SNR (seeded; AWGN). ``rows``: ``{"snr_db", "v", "v_upsampler", "gain", "v_forward"}``
    per SNR (:func:`forward_start` builds the forward start from them)."""
    if not is_compressed_link(model):
        raise JsccInputError(f"upsampler calibration needs a compressed link (vae-x2 / vae-x4), got "
                             f"{getattr(getattr(model, 'config', None), 'model', type(model).__name__)!r}")
    snrs = [float(s) for s in check_snr_db(list(snrs_db), len(snrs_db), name="snrs_db")]
    if sorted(set(snrs)) != snrs:
        raise JsccInputError(f"calibration SNRs must be strictly ascending, got {snrs}")
    if crop % model.stride:  # type: ignore[operator]
        raise JsccInputError(f"crop {crop} must be a multiple of the model's downsampling {model.stride}")
    link = Link(model, ChannelConfig("awgn"))  # type: ignore[arg-type]
    model.eval()
    rows = []
    for snr in snrs:
        sampler = RandomCropSampler(list(images), crop, batch_size, seed=seed)
        g = torch.Generator().manual_seed(seed + 1)
        err = var_up = n = 0.0
        sums = torch.zeros(5, dtype=torch.float64)  # m, x0, m^2, x0^2, m * x0
        done = 0
        while done < n_crops:
            x = sampler.sample()[: n_crops - done]
            s = torch.full((x.shape[0],), snr)
            res = link(x, s, generator=g)
            y = res.received.reshape(x.shape[0], -1, *_latent_grid(model, x))
            mu, logvar = model.decoder.posterior(y, res.snr_eff_db)  # type: ignore[union-attr,operator]
            x0 = to_diffusion(model.base.transmit_latent(x, s, power), power)  # type: ignore[union-attr,operator]
            m = to_diffusion(mu, power)
            err += float((m - x0).double().square().sum())
            var_up += float(logvar.double().exp().sum()) * 2.0 / power
            md, xd = m.double(), x0.double()
            sums += torch.stack([md.sum(), xd.sum(), md.square().sum(), xd.square().sum(), (md * xd).sum()])
            n += m.numel()
            done += x.shape[0]
        mean_m, mean_x = float(sums[0]) / n, float(sums[1]) / n
        var_m, var_x = float(sums[2]) / n - mean_m ** 2, float(sums[3]) / n - mean_x ** 2
        cov = float(sums[4]) / n - mean_m * mean_x
        gain = cov / var_x
        rows.append({"snr_db": snr, "v": err / n, "v_upsampler": var_up / n, "gain": gain,
                     "v_forward": (var_m - gain * cov) / gain ** 2})
    return UpsamplerStart("calibrated", tuple((r["snr_db"], r["v"]) for r in rows)), rows


def forward_start(rows: Sequence[dict]) -> UpsamplerStart:
    """The ``"forward"`` start from :func:`calibrate_upsampler`'s rows (their ``gain`` and ``v_forward``)."""
    bad = [r for r in rows if not r["gain"] > 0]
    if bad:
        raise JsccInputError(f"the upsampler's output is not positively correlated with the clean latent at "
                             f"{[r['snr_db'] for r in bad]} dB (gains {[r['gain'] for r in bad]}): no forward start")
    return UpsamplerStart("forward", tuple((r["snr_db"], r["v_forward"]) for r in rows),
                          tuple((r["snr_db"], r["gain"]) for r in rows))


def _latent_grid(model: torch.nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """``(H/s, W/s)``: the latent grid of images ``x`` ``(B, 3, H, W)`` (multiples of the stride)."""
    s = model.stride  # type: ignore[attr-defined]
    return x.shape[-2] // s, x.shape[-1] // s
