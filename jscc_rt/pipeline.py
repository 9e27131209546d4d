"""End-to-end link: transmitter (JSCC encoder + power normalization) -> channel -> receiver.

``Link(model, channel)(images, snr_db)`` pads images to the model stride, encodes, runs the fused
power-normalize -> fading -> AWGN -> equalize op (:func:`jscc_rt.kernels.tx_channel_rx`: Triton on CUDA at
inference, the differentiable PyTorch reference otherwise), decodes conditioned on the per-sample effective SNR
and crops back. Training and evaluation use this one path.

With a :class:`~jscc_rt.diffusion.DiffusionReceiver`, the fused op instead writes the received latent in the
diffusion domain at the SNR-matched step ``u`` (``alpha_bar_u = 1/(1 + sigma^2)``); the receiver denoises it in
``steps`` sampler steps and the JSCC decoder decodes the estimate. On a compressed link (``vae-x2``/``-x4``) the
receiver runs after the upsampler, on the base model's latent, from the start step its ``upsampler_start`` gives
(:mod:`jscc_rt.diffusion.upsampler_start`), and the base decoder decodes the estimate.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import torch

from jscc_rt._validate import JsccInputError, check_block_len, check_snr_db
from jscc_rt.models.checkpoint import check_denoiser_pairing
from jscc_rt.channel import Channel, ChannelConfig
from jscc_rt.channel.fading import draw_rayleigh_blocks
from jscc_rt.data.crops import crop_back, pad_to_multiple
from jscc_rt.diffusion.receiver import DiffusionReceiver, check_decoder_conditioning
from jscc_rt.diffusion.schedule import from_diffusion, to_diffusion
from jscc_rt.diffusion.upsampler_start import UpsamplerStart, upsampler_start
from jscc_rt.kernels.dispatch import TxRxOutput, tx_channel_rx
from jscc_rt.models.compress import is_compressed_link
from jscc_rt.models.jscc import JSCCModel, check_image_batch
from jscc_rt.models.rate import budget_channels, pad_latent


@dataclass
class LinkResult:
    """Output of one link pass.

    Attributes:
        images: ``(B, 3, H, W)`` reconstructions in [0, 1] (cropped to the input size).
        received: ``(B, k, 2)`` equalized symbols the decoder saw; with a diffusion receiver, the received latent in
            the diffusion domain at the matched step (``sqrt(alpha_bar_u) * sqrt(2/P) * y``) that denoising started from.
        snr_eff_db: ``(B,)`` post-equalization SNR in dB (the decoder's conditioning).
        h: ``(B, NB, 2)`` fading coefficient per block (None for AWGN).
        kl: ``(B,)`` VAE KL term in nats (None for Deep JSCC).
    """

    images: torch.Tensor
    received: torch.Tensor
    snr_eff_db: torch.Tensor
    h: torch.Tensor | None
    kl: torch.Tensor | None


def _believed(res: TxRxOutput, err_db: float, power: float, *, to_diffusion_domain: bool) -> TxRxOutput:
    """The fused op's output as a receiver that estimates the effective SNR ``err_db`` dB off sees it: the same
    equalized symbols, the estimate as ``snr_eff_db``, its ``alpha_bar = 1 / (1 + 10^(-snr/10))`` and, for a
    diffusion receiver, the symbols mapped to the diffusion domain at that level (``sqrt(alpha_bar) * sqrt(2/P) y``,
    as ``output="diffusion"`` does with the true SNR)."""
    snr_eff = res.snr_eff_db + err_db
    lin = torch.pow(10.0, snr_eff / 10.0)
    ab = lin / (1.0 + lin)
    out = res.out
    if to_diffusion_domain:
        out = to_diffusion(out, power) * torch.sqrt(ab).to(out.dtype).view(-1, 1)
    return TxRxOutput(out, snr_eff, ab, None)


class Link:
    """Transmitter -> channel -> JSCC decoder. Use under ``torch.no_grad()`` for evaluation."""

    def __init__(
        self,
        model: JSCCModel,
        channel: ChannelConfig | Channel | None = None,
        *,
        receiver: DiffusionReceiver | None = None,
        decoder_snr_db: float | None = None,
        impl: str | None = None,
        snr_error_db: float = 0.0,
        upsampler_start: UpsamplerStart | None = None,
    ) -> None:
        """``decoder_snr_db``: SNR the decoder is conditioned on after diffusion denoising (None: the effective
        channel SNR, as without denoising). ``snr_error_db``: the receiver's SNR estimate minus the true SNR (dB):
        noise is drawn at the true SNR, while the decoder's conditioning, the diffusion start step and scaling use
        the estimate (SNR-mismatch studies). ``upsampler_start``: with a diffusion receiver on a compressed link,
        how its upsampler's output becomes the start state (required there). Bad arguments raise
        :class:`~jscc_rt.JsccInputError` naming the value."""
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
            raise JsccInputError(f"model must be a JSCC model (jscc_rt.load_model(...)), got {type(model).__name__}")
        if channel is not None and not isinstance(channel, (Channel, ChannelConfig)):
            raise JsccInputError(f"channel must be a ChannelConfig or Channel, got {type(channel).__name__}; "
                                 "e.g. ChannelConfig('rayleigh', block_len=64)")
        self.model = model
        self.channel = channel.config if isinstance(channel, Channel) else (channel or ChannelConfig())
        self.receiver = receiver
        self.decoder_snr_db = (None if decoder_snr_db is None
                               else float(check_snr_db(decoder_snr_db, 1, name="decoder_snr_db")[0]))
        self.impl = impl
        err = float(check_snr_db(snr_error_db, 1, name="snr_error_db")[0]) if snr_error_db else 0.0
        if abs(err) > 20:
            raise JsccInputError(f"snr_error_db {snr_error_db} is outside [-20, 20] dB")
        self.snr_error_db = err
        if err and receiver is not None and self.channel.equalizer == "mmse":
            raise JsccInputError("snr_error_db with a diffusion receiver needs the ZF equalizer (the MMSE output is "
                                 "biased by its gain); use ChannelConfig(..., equalizer='zf')")
        self.compressed = is_compressed_link(model)
        if receiver is not None:
            check_denoiser_pairing(model, None, receiver.model, None, check_hash=False)
            check_decoder_conditioning(model, self.decoder_snr_db)
            if self.compressed and not isinstance(upsampler_start, UpsamplerStart):
                raise JsccInputError(f"a diffusion receiver on the compressed link {model.config.model} needs "
                                     "upsampler_start=UpsamplerStart(...) (where diffusion starts after the upsampler; "
                                     "jscc_rt.diffusion.upsampler_start)")
        self.upsampler_start = upsampler_start

    def __call__(
        self,
        images: torch.Tensor,
        snr_db: float | torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        sample_latent: bool = False,
        ratio: Fraction | str | float | None = None,
    ) -> LinkResult:
        """Send ``images`` ``(B, 3, H, W)`` in [0, 1] at ``snr_db`` (scalar or ``(B,)``, dB).

        ``ratio``: the bandwidth ratio k/n to send at (a rate-adaptive model sends the first
        ``ratio * 6 s^2`` latent channels, :mod:`jscc_rt.models.rate`; None = the model's largest ratio; a fixed-rate
        model accepts only its own)."""
        m = self.model
        check_image_batch(images, 1)
        if images.shape[0] == 0 or images.shape[-2] == 0 or images.shape[-1] == 0:
            raise JsccInputError(f"images must hold at least one image of at least 1x1 pixels, got shape "
                                 f"{tuple(images.shape)}")
        snr = check_snr_db(snr_db, images.shape[0], device=images.device)
        x, hw = pad_to_multiple(images, m.stride)
        sent = budget_channels(m.config, ratio)
        z, kl = m.encode_latent(x, snr, sample=sample_latent, generator=generator)
        adaptive = getattr(m.config, "rate_adaptive", False)
        if adaptive:
            if self.receiver is not None:
                raise JsccInputError("a diffusion receiver on a rate-adaptive model is not supported; decode with the "
                                     "model's own decoder (receiver=None)")
            z = z[:, :sent]
        cfg = self.channel
        flat = z.reshape(z.shape[0], -1)
        h = h_hat = None
        block_len = check_block_len(cfg.block_len, flat.shape[1] // 2)  # a block longer than the frame is one block
        if cfg.kind == "rayleigh":
            d = draw_rayleigh_blocks(z.shape[0], flat.shape[1] // 2, block_len=block_len,
                                     csi_err_var=cfg.csi_err_var, generator=generator, device=z.device, dtype=z.dtype)
            h, h_hat = d.h, d.h_hat
        rx = self.receiver
        latent_rx = rx is not None and not self.compressed  # the receiver denoises the received latent itself
        res = tx_channel_rx(flat, snr, power=cfg.power, h=h, h_hat=h_hat, block_len=block_len,
                            csi_err_var=cfg.csi_err_var, equalizer=cfg.equalizer, generator=generator, impl=self.impl,
                            output="diffusion" if latent_rx and not self.snr_error_db else "equalized")
        if self.snr_error_db:  # the receiver believes the SNR is off by snr_error_db
            res = _believed(res, self.snr_error_db, cfg.power, to_diffusion_domain=latent_rx)
            snr = snr + self.snr_error_db
        if rx is None and adaptive:
            c = torch.full_like(res.snr_eff_db, sent)
            rec = m.decoder(pad_latent(res.out.reshape(z.shape), m.config.latent_channels), res.snr_eff_db, channels=c)
        elif rx is None:
            rec = m.decoder(res.out.reshape(z.shape), res.snr_eff_db)
        elif self.compressed:  # diffusion after the upsampler, on the base latent, then the base decoder
            mu, logvar = m.decoder.posterior(res.out.reshape(z.shape), res.snr_eff_db)
            x_u, ab = upsampler_start(mu, logvar, res.snr_eff_db, self.upsampler_start, cfg.power)  # type: ignore[arg-type]
            x0 = rx.denoise(x_u, ab, snr, generator=generator)
            cond = res.snr_eff_db if self.decoder_snr_db is None else torch.full_like(res.snr_eff_db, self.decoder_snr_db)
            rec = m.decoder.base(from_diffusion(x0, cfg.power), cond)
        else:
            x0 = rx.denoise(res.out.reshape(z.shape), res.alpha_bar, snr, generator=generator)
            cond = res.snr_eff_db if self.decoder_snr_db is None else torch.full_like(res.snr_eff_db, self.decoder_snr_db)
            rec = m.decoder(from_diffusion(x0, cfg.power), cond)
        return LinkResult(crop_back(rec, hw), res.out.reshape(z.shape[0], -1, 2), res.snr_eff_db, h, kl)
