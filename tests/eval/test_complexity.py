"""MAC and parameter counts against hand-computed layer formulas, and on a shipped model."""
from __future__ import annotations

import torch
from torch import nn

from jscc_rt.eval.complexity import count_macs, count_params


def test_layer_formulas() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=2),
                        nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1), nn.Flatten(), nn.Linear(4 * 32 * 32, 10))
    x = torch.rand(2, 3, 16, 16)
    conv1 = 2 * 8 * 16 * 16 * (3 * 9)
    conv2 = 2 * 8 * 16 * 16 * (4 * 9)
    deconv = (2 * 8 * 16 * 16) * 4 * 16
    lin = 2 * 10 * 4 * 32 * 32
    assert count_macs(net, x) == conv1 + conv2 + deconv + lin
    assert count_params(net) == sum(p.numel() for p in net.parameters()) > 0


def test_shipped_decoder_macs_scale_with_pixels() -> None:
    from jscc_rt.models import load_model
    from jscc_rt.models.registry import FLAGSHIP_1_16, resolve_checkpoint

    m = load_model(resolve_checkpoint(FLAGSHIP_1_16)).eval()
    c = m.config.latent_channels
    snr = torch.tensor([10.0])
    small, large = (count_macs(m.decoder, torch.randn(1, c, h, w), snr) for h, w in ((4, 6), (8, 12)))
    assert small > 0 and abs(large / small - 4) < 1e-3  # convolutions scale with pixels (SNR attention MLPs do not)
