"""Uncoded link simulation against closed-form theory (what ``jscc-rt simulate`` prints)."""
from __future__ import annotations

from typing import Sequence

import torch

from jscc_rt.channel import Channel, ChannelConfig, average_power, cmul, ber_theory, demodulate_hard, modulate, power_normalize


def simulate_link(
    channel: str,
    snrs_db: Sequence[float],
    n_symbols: int,
    *,
    block_len: int | None = None,
    csi_err_var: float = 0.0,
    equalizer: str = "zf",
    seed: int = 0,
    batch: int = 256,
) -> list[dict]:
    """Per SNR: measured SNR (dB), mean post-equalization SNR (dB), BPSK/QPSK BER and their closed forms.

    ``n_symbols`` complex symbols per SNR are split over ``batch`` samples, so block fading with one
    coefficient per sample averages over ``batch`` fading draws. Closed forms assume perfect CSI.
    """
    cfg = ChannelConfig(kind=channel, block_len=block_len, csi_err_var=csi_err_var, equalizer=equalizer)  # type: ignore[arg-type]
    ch = Channel(cfg)
    g = torch.Generator().manual_seed(seed)
    per = max(1, n_symbols // batch)
    rows = []
    for snr in snrs_db:
        x = power_normalize(torch.randn(batch, per, 2, generator=g))
        out = ch(x, snr, generator=g)
        hx = cmul(out.h, x)  # received = h x + n
        measured = 10 * torch.log10(average_power(hx).mean() / average_power(out.received - hx).mean())
        row = {"snr_db": float(snr), "measured_snr_db": float(measured),
               "post_eq_snr_db": float(out.effective_snr_db().mean())}
        for scheme in ("bpsk", "qpsk"):
            bits = torch.randint(0, 2, (batch, per if scheme == "bpsk" else 2 * per), generator=g)
            y = ch(modulate(bits, scheme), snr, generator=g).y
            row[f"ber_{scheme}"] = float((demodulate_hard(y, scheme) != bits).float().mean())
            row[f"ber_{scheme}_theory"] = ber_theory(scheme, float(snr), channel)
        rows.append(row)
    return rows
