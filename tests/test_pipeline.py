"""The Link pipeline: padding, channel kinds, effective-SNR conditioning, reproducibility."""
from __future__ import annotations

import torch

from jscc_rt import ChannelConfig, JSCCConfig, JSCCModel, Link


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
