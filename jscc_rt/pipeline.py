"""End-to-end link: transmitter (JSCC encoder + power normalization) -> channel -> receiver.

``Link(model, channel)(images, snr_db)`` pads images to the model stride, transmits, passes the symbols through
the channel, decodes (conditioned on the per-sample effective SNR) and crops back. Differentiable; training and
evaluation use this one path.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from jscc_rt._validate import check_snr_db
from jscc_rt.channel import Channel, ChannelConfig, ChannelOutput, power_normalize, to_symbols
from jscc_rt.data.crops import crop_back, pad_to_multiple
from jscc_rt.models.jscc import JSCCModel, check_image_batch


@dataclass
class LinkResult:
    """Output of one link pass.

    Attributes:
        images: ``(B, 3, H, W)`` reconstructions in [0, 1] (cropped to the input size).
        symbols: ``(B, k, 2)`` transmitted, power-normalized symbols.
        channel: the :class:`ChannelOutput` (equalized symbols, effective noise variance per symbol).
        kl: ``(B,)`` VAE KL term in nats (None for Deep JSCC).
    """

    images: torch.Tensor
    symbols: torch.Tensor
    channel: ChannelOutput
    kl: torch.Tensor | None


class Link:
    """Transmitter -> channel -> JSCC decoder. Use under ``torch.no_grad()`` for evaluation."""

    def __init__(self, model: JSCCModel, channel: ChannelConfig | Channel | None = None) -> None:
        self.model = model
        self.channel = channel if isinstance(channel, Channel) else Channel(channel)

    def __call__(
        self,
        images: torch.Tensor,
        snr_db: float | torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        sample_latent: bool = False,
    ) -> LinkResult:
        """Send ``images`` ``(B, 3, H, W)`` in [0, 1] at ``snr_db`` (scalar or ``(B,)``, dB)."""
        m = self.model
        check_image_batch(images, 1)
        snr = check_snr_db(snr_db, images.shape[0], device=images.device)
        x, hw = pad_to_multiple(images, m.stride)
        z, kl = m.encode_latent(x, snr, sample=sample_latent, generator=generator)
        s = power_normalize(to_symbols(z), self.channel.config.power, validate=False)
        out = self.channel(s, snr, generator=generator)
        rec = m.receive(out.y, out.effective_snr_db(self.channel.config.power), tuple(x.shape[-2:]))
        return LinkResult(crop_back(rec, hw), s, out, kl)
