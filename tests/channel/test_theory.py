"""The channel package against closed-form theory (issue 2): measured SNR, E|h|^2 and uncoded BER."""
from __future__ import annotations

import math

import pytest
import torch

from jscc_rt.channel import (
    Channel,
    ChannelConfig,
    average_power,
    ber_theory,
    demodulate_hard,
    draw_rayleigh,
    modulate,
    power_normalize,
)
from jscc_rt.channel.complex_ops import abs2

N_SYMBOLS = 1 << 20  # >= 1e6 symbols per check


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 20.0])
def test_awgn_measured_snr_within_0p05_db(snr_db: float) -> None:
    g = torch.Generator().manual_seed(1)
    x = power_normalize(torch.randn(4, N_SYMBOLS // 4, 2, generator=g))
    out = Channel(ChannelConfig("awgn"))(x, snr_db, generator=g)
    noise = out.received - x
    measured = 10 * math.log10(float(average_power(x).mean()) / float(average_power(noise).mean()))
    assert abs(measured - snr_db) < 0.05, f"measured SNR {measured:.4f} dB vs requested {snr_db} dB"


def test_per_sample_snr_tensor_sets_each_sample() -> None:
    g = torch.Generator().manual_seed(2)
    snrs = torch.tensor([-10.0, 0.0, 15.0, 30.0])
    x = power_normalize(torch.randn(4, N_SYMBOLS // 4, 2, generator=g))
    out = Channel()(x, snrs, generator=g)
    measured = 10 * torch.log10(average_power(x) / average_power(out.received - x))
    assert torch.allclose(measured, snrs, atol=0.05), measured


@pytest.mark.parametrize("block_len", [None, 1, 64])
def test_rayleigh_unit_average_gain(block_len: int | None) -> None:
    g = torch.Generator().manual_seed(3)
    # One h per sample needs many samples; per-symbol/per-block fading gets its statistics from k.
    batch, k = (N_SYMBOLS, 4) if block_len is None else (16, N_SYMBOLS // 16)
    draw = draw_rayleigh(batch, k, block_len=block_len, generator=g)
    n_indep = batch if block_len is None else batch * (k // block_len)
    tol = 4.0 / math.sqrt(n_indep)  # 4 sigma of the sample mean of an Exp(1) variable
    assert abs(float(abs2(draw.h).mean()) - 1.0) < tol


def test_block_fading_is_constant_within_blocks() -> None:
    draw = draw_rayleigh(3, 100, block_len=32, generator=torch.Generator().manual_seed(4))
    h = draw.h
    for start in range(0, 100, 32):
        blk = h[:, start : start + 32]
        assert torch.equal(blk, blk[:, :1].expand_as(blk))
    assert not torch.equal(h[:, 0], h[:, 32])


def test_noisy_csi_keeps_unit_gain_and_error_variance() -> None:
    draw = draw_rayleigh(8, N_SYMBOLS // 8, block_len=1, csi_err_var=0.1, generator=torch.Generator().manual_seed(5))
    assert abs(float(abs2(draw.h).mean()) - 1.0) < 0.01
    assert abs(float(abs2(draw.h - draw.h_hat).mean()) - 0.1) < 0.002


def _ber(scheme: str, channel: str, snr_db: float, n_bits: int, seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (4, n_bits // 4), generator=g)
    x = modulate(bits, scheme)
    cfg = ChannelConfig(kind=channel, block_len=1) if channel == "rayleigh" else ChannelConfig()
    y = Channel(cfg)(x, snr_db, generator=g).y
    return float((demodulate_hard(y, scheme) != bits).float().mean())


@pytest.mark.parametrize("scheme", ["bpsk", "qpsk"])
@pytest.mark.parametrize(
    ("channel", "snrs"), [("awgn", (0.0, 4.0, 7.0)), ("rayleigh", (5.0, 10.0, 15.0))]
)
def test_uncoded_ber_matches_closed_form_within_5pct(scheme: str, channel: str, snrs: tuple[float, ...]) -> None:
    for i, snr_db in enumerate(snrs):
        theory = ber_theory(scheme, snr_db, channel)
        n_bits = max(1 << 21, int(3000 / theory))  # >= ~3000 errors: relative std <= 1.8 %
        measured = _ber(scheme, channel, snr_db, n_bits - n_bits % 8, seed=10 + i)
        assert abs(measured / theory - 1.0) < 0.05, f"{scheme}/{channel} @ {snr_db} dB: {measured:.3e} vs {theory:.3e}"
