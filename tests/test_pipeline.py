"""The Link pipeline: padding, channel kinds, effective-SNR conditioning, reproducibility."""
from __future__ import annotations

import pytest
import torch

from jscc_rt import ChannelConfig, JsccInputError, JSCCConfig, JSCCModel, Link


def test_link_pads_and_crops_arbitrary_sizes() -> None:
    link = Link(JSCCModel(JSCCConfig(width=16)).eval())
    x = torch.rand(2, 3, 50, 77)
    with torch.no_grad():
        res = link(x, 5.0, generator=torch.Generator().manual_seed(0))
    assert res.images.shape == x.shape
    assert res.received.shape == (2, 24 * 7 * 10 // 2, 2)  # padded to 56x80 -> latent 7x10


def test_link_reproducible_and_rayleigh_effective_snr() -> None:
    link = Link(JSCCModel(JSCCConfig(width=16)).eval(), ChannelConfig("rayleigh"))
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        a = link(x, 10.0, generator=torch.Generator().manual_seed(1))
        b = link(x, 10.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.images, b.images)
    assert a.h is not None and a.h.shape == (3, 1, 2)  # one coefficient per sample (block fading)
    h2 = a.h[:, 0].square().sum(-1)
    torch.testing.assert_close(a.snr_eff_db, 10.0 + 10 * torch.log10(h2), rtol=0, atol=1e-4)


def test_snr_error_changes_only_what_the_receiver_believes() -> None:
    """``snr_error_db``: noise at the true SNR; the decoder is conditioned on the estimate; a diffusion receiver's
    scaling to and from the diffusion domain at the believed level cancels (steps = 0 leaves the symbols as sent)."""
    from jscc_rt.diffusion import DiffusionReceiver, LatentDenoiser, NoiseSchedule, ReceiverConfig
    from jscc_rt.diffusion.denoiser import DenoiserConfig

    torch.manual_seed(0)
    model = JSCCModel(JSCCConfig("unrolled", latent_channels=8, width=16)).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        true = Link(model)(x, 5.0, generator=torch.Generator().manual_seed(4))
        off = Link(model, snr_error_db=3.0)(x, 5.0, generator=torch.Generator().manual_seed(4))
        want = model.decoder(true.received.reshape(2, 8, 4, 4), torch.full((2,), 8.0))
        torch.testing.assert_close(off.received, true.received, rtol=0, atol=0)  # same noise: the true SNR
        torch.testing.assert_close(off.snr_eff_db, torch.full((2,), 8.0), rtol=0, atol=1e-5)
        torch.testing.assert_close(off.images, want, rtol=0, atol=1e-6)  # images (2, 3, 32, 32)
        den = LatentDenoiser(DenoiserConfig(latent_channels=8, width=16))
        rx = DiffusionReceiver(den, NoiseSchedule(), ReceiverConfig(steps=0))
        d = Link(model, receiver=rx, decoder_snr_db=20.0, snr_error_db=-3.0)(x, 5.0,
                                                                            generator=torch.Generator().manual_seed(4))
        torch.testing.assert_close(d.images, model.decoder(true.received.reshape(2, 8, 4, 4), torch.full((2,), 20.0)),
                                   rtol=0, atol=1e-5)
    with pytest.raises(JsccInputError, match="snr_error_db"):
        Link(model, snr_error_db=25.0)
