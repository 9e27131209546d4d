"""Equalization, effective noise variance, power normalization, symbols and gradients."""
from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from jscc_rt.channel import (
    Channel,
    ChannelConfig,
    average_power,
    bandwidth_ratio,
    from_symbols,
    power_normalize,
    snr_db_to_noise_var,
    to_symbols,
)


def test_symbols_roundtrip_and_ratio() -> None:
    z = torch.randn(2, 12, 8, 8)
    s = to_symbols(z)
    assert s.shape == (2, 12 * 64 // 2, 2)
    assert torch.equal(from_symbols(s, (12, 8, 8)), z)
    assert bandwidth_ratio((12, 8, 8), (3, 64, 64)) == Fraction(12 * 64, 2 * 3 * 64 * 64)
    assert bandwidth_ratio((24, 16, 16), (3, 128, 128)) == Fraction(1, 16)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_power_normalize_sets_power_per_sample(dtype: torch.dtype) -> None:
    x = torch.randn(5, 333, 2).to(dtype) * torch.arange(1, 6).view(5, 1, 1)
    y = power_normalize(x, power=2.0)
    assert y.dtype == dtype
    tol = 2e-2 if dtype == torch.bfloat16 else 1e-5
    torch.testing.assert_close(average_power(y), torch.full((5,), 2.0, dtype=average_power(y).dtype), rtol=tol, atol=tol)


@pytest.mark.parametrize("equalizer", ["zf", "mmse"])
@pytest.mark.parametrize("csi_err_var", [0.0, 0.05])
def test_effective_noise_variance_matches_measured(equalizer: str, csi_err_var: float) -> None:
    """Post-equalization error x_hat - gain*x has the returned per-symbol variance (checked on weighted average)."""
    g = torch.Generator().manual_seed(7)
    x = power_normalize(torch.randn(8, 1 << 17, 2, generator=g))
    cfg = ChannelConfig("rayleigh", block_len=1, csi_err_var=csi_err_var, equalizer=equalizer)
    out = Channel(cfg)(x, 10.0, generator=g)
    err = out.y - out.gain.unsqueeze(-1) * x
    # E[|err|^2 / var] = 1 when var is the conditional variance of each symbol's error
    ratio = (err.square().sum(-1) / out.noise_var).mean()
    assert abs(float(ratio) - 1.0) < 0.02, float(ratio)
    if equalizer == "zf":
        assert torch.equal(out.gain, torch.ones_like(out.gain))


def test_awgn_effective_noise_and_unbiased_form() -> None:
    x = power_normalize(torch.randn(3, 100, 2))
    out = Channel()(x, torch.tensor([0.0, 10.0, 20.0]))
    expect = snr_db_to_noise_var(torch.tensor([0.0, 10.0, 20.0])).float()
    torch.testing.assert_close(out.noise_var[:, 0], expect)
    y, nv = out.unbiased()
    assert torch.equal(y, out.y) and torch.equal(nv, out.noise_var)


def test_explicit_noise_and_channel_are_deterministic() -> None:
    x = power_normalize(torch.randn(2, 50, 2))
    noise, h = torch.randn(2, 50, 2), torch.randn(2, 50, 2)
    ch = Channel(ChannelConfig("rayleigh", equalizer="mmse"))
    a, b = ch(x, 5.0, noise=noise, h=h), ch(x, 5.0, noise=noise, h=h)
    assert torch.equal(a.y, b.y)
    # y = h x + sqrt(nv/2) * noise, by construction
    nv = float(snr_db_to_noise_var(5.0))
    hx = torch.stack((h[..., 0] * x[..., 0] - h[..., 1] * x[..., 1], h[..., 0] * x[..., 1] + h[..., 1] * x[..., 0]), -1)
    torch.testing.assert_close(a.received, hx + (nv / 2) ** 0.5 * noise)


def test_seeded_generators_reproduce() -> None:
    x = power_normalize(torch.randn(2, 64, 2))
    ch = Channel(ChannelConfig("rayleigh", block_len=8, csi_err_var=0.01))
    a = ch(x, 3.0, generator=torch.Generator().manual_seed(11))
    b = ch(x, 3.0, generator=torch.Generator().manual_seed(11))
    c = ch(x, 3.0, generator=torch.Generator().manual_seed(12))
    assert torch.equal(a.y, b.y) and not torch.equal(a.y, c.y)


@pytest.mark.parametrize("kind", ["awgn", "rayleigh"])
def test_channel_is_differentiable(kind: str) -> None:
    z = torch.randn(2, 4, 4, 4, requires_grad=True)
    x = power_normalize(to_symbols(z))
    out = Channel(ChannelConfig(kind, equalizer="mmse"))(x, 5.0, generator=torch.Generator().manual_seed(0))
    out.y.square().sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
