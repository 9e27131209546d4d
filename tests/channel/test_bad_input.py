"""Bad input to the channel gets a clear error naming the value (issue 2)."""
from __future__ import annotations

import pytest
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.channel import Channel, ChannelConfig, from_symbols, power_normalize, to_symbols


@pytest.mark.parametrize("snr", [-25.0, 45.0, float("nan"), [0.0, 50.0]])
def test_snr_out_of_range(snr: object) -> None:
    x = power_normalize(torch.randn(2, 8, 2))
    with pytest.raises(JsccInputError, match="snr_db"):
        Channel()(x, snr)


def test_wrong_shapes_and_dtypes() -> None:
    with pytest.raises(JsccInputError, match="last dimension 2"):
        Channel()(torch.randn(2, 8, 3), 0.0)
    with pytest.raises(JsccInputError, match="3 dimensions"):
        Channel()(torch.randn(8, 2), 0.0)
    with pytest.raises(JsccInputError, match="floating-point"):
        power_normalize(torch.ones(2, 8, 2, dtype=torch.int64))
    with pytest.raises(JsccInputError, match="odd"):
        to_symbols(torch.randn(2, 3, 1, 1))
    with pytest.raises(JsccInputError, match="latent shape"):
        from_symbols(torch.randn(2, 8, 2), (3, 2, 2))
    with pytest.raises(JsccInputError, match=r"shape \(2,\)"):
        Channel()(torch.randn(2, 8, 2), torch.zeros(3))


def test_non_finite_and_zero_power() -> None:
    x = torch.randn(2, 8, 2)
    x[1, 3, 0] = float("nan")
    with pytest.raises(JsccInputError, match="non-finite"):
        power_normalize(x)
    z = torch.randn(3, 8, 2)
    z[2] = 0
    with pytest.raises(JsccInputError, match=r"samples \[2\] have zero power"):
        power_normalize(z)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"kind": "rician"}, "kind"), ({"block_len": 0}, "block_len"), ({"csi_err_var": 1.0}, "csi_err_var"),
     ({"equalizer": "ml"}, "equalizer"), ({"power": 0.0}, "power")],
)
def test_bad_config(kwargs: dict, match: str) -> None:
    with pytest.raises(JsccInputError, match=match):
        ChannelConfig(**kwargs)


@pytest.mark.parametrize("snr", ["10", None, b"10", True, ["a"]])
def test_snr_of_the_wrong_type(snr: object) -> None:
    x = power_normalize(torch.randn(2, 8, 2))
    with pytest.raises(JsccInputError, match=r"snr_db must be a number in dB.*pass e.g. snr_db=10.0"):
        Channel()(x, snr)


def test_zero_power_and_unnormalized_input_rejected() -> None:
    with pytest.raises(JsccInputError, match=r"samples \[0, 1\] have zero power"):
        Channel()(torch.zeros(2, 8, 2), 5.0)
    x = power_normalize(torch.randn(3, 8, 2))
    x[1] *= 10
    with pytest.raises(JsccInputError, match=r"samples \[1\] have average power 100 .*P = 1 .*power_normalize"):
        Channel()(x, 5.0)
    with pytest.raises(JsccInputError, match=r"P = 2"):
        Channel(ChannelConfig(power=2.0))(power_normalize(torch.randn(2, 8, 2)), 5.0)
    Channel(ChannelConfig(power=2.0))(power_normalize(torch.randn(2, 8, 2), power=2.0), 5.0)  # accepted
    Channel()(power_normalize(torch.randn(2, 8, 2)).bfloat16(), 5.0)  # bf16 rounding stays within tolerance


def test_power_normalize_is_scale_safe() -> None:
    base = torch.randn(2, 16, 2)
    ref = power_normalize(base)
    for scale in (1e30, 1e-30, 1e19, 1e37):
        y = power_normalize(base * scale)
        assert torch.isfinite(y).all(), scale
        torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-6)
    half = power_normalize((base / base.abs().max() * 6e4).half())  # near float16's max (6.5e4)
    torch.testing.assert_close(half.float(), ref, rtol=2e-3, atol=2e-3)
    g = base.clone().requires_grad_(True)  # gradient unchanged by the max-abs rescaling
    (power_normalize(g) * torch.arange(32.0).view(1, 16, 2)).sum().backward()
    g2 = base.clone().requires_grad_(True)
    (g2 * torch.sqrt(16 / g2.square().sum(dim=(1, 2), keepdim=True)) * torch.arange(32.0).view(1, 16, 2)).sum().backward()
    torch.testing.assert_close(g.grad, g2.grad)


def test_nan_in_h_noise_rejected() -> None:
    x = power_normalize(torch.randn(2, 8, 2))
    h = torch.randn(2, 8, 2)
    h[0, 1, 0] = float("nan")
    ray = Channel(ChannelConfig("rayleigh"))
    with pytest.raises(JsccInputError, match="h contains 1 non-finite"):
        ray(x, 5.0, h=h)
    with pytest.raises(JsccInputError, match="h_hat contains 1 non-finite"):
        ray(x, 5.0, h=torch.randn(2, 8, 2), h_hat=h)
    noise = torch.randn(2, 8, 2)
    noise[1, 0, 1] = float("inf")
    with pytest.raises(JsccInputError, match="noise contains 1 non-finite"):
        Channel()(x, 5.0, noise=noise)


@pytest.mark.parametrize(("block_len", "match"), [(0, "block_len must be >= 1, got 0"),
                                                  (-1, "block_len must be >= 1, got -1"),
                                                  (2.0, "block_len must be an integer, got float"),
                                                  (True, "block_len must be an integer, got bool")])
def test_bad_block_len(block_len: object, match: str) -> None:
    with pytest.raises(JsccInputError, match=match):
        ChannelConfig("rayleigh", block_len=block_len)  # type: ignore[arg-type]


@pytest.mark.parametrize("v", [-10.0, float("nan"), 1.0, "0.1", None])
def test_bad_csi_err_var(v: object) -> None:
    with pytest.raises(JsccInputError, match=r"csi_err_var must lie in \[0, 1\).*use 0 for perfect CSI"):
        ChannelConfig("rayleigh", csi_err_var=v)  # type: ignore[arg-type]


def test_block_len_longer_than_the_frame_is_one_block() -> None:
    from jscc_rt.channel import draw_rayleigh
    from jscc_rt.kernels.tx_channel_rx import expand_blocks

    g = torch.Generator().manual_seed(0)  # unbounded, each of these would allocate 2 * 1e9 * 2 floats (16 GB)
    d = draw_rayleigh(2, 512, block_len=10**9, generator=g)
    e = expand_blocks(torch.randn(2, 1, 2), 512, 10**9)
    out = Channel(ChannelConfig("rayleigh", block_len=10**9))(power_normalize(torch.randn(2, 512, 2)), 5.0)
    assert d.h.shape == e.shape == out.y.shape == (2, 512, 2)
    assert torch.equal(d.h, d.h[:, :1].expand_as(d.h))  # constant over the frame, like block_len=None
    with pytest.raises(JsccInputError, match="block_len must be >= 1, got 0"):
        expand_blocks(torch.randn(2, 1, 2), 512, 0)
    with pytest.raises(JsccInputError, match=r"need \(B, 4, 2\)"):
        expand_blocks(torch.randn(2, 1, 2), 512, 128)
