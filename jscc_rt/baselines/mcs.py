"""Modulation-and-coding choice per SNR, as the Deep JSCC papers set up their digital baselines.

The candidates are the 15 entries of the 5G NR 4-bit CQI table (3GPP TS 38.214 Table 5.2.2.1-2: QPSK to 64-QAM,
code rate x 1024 from 78 to 948). For each code and MCS the AWGN waterfall threshold (BLER = 10 % per block) is
simulated once (:func:`mcs_thresholds`). :func:`select_mcs` then picks, for a channel and SNR, the MCS with the
highest *predicted* mean PSNR: the codec PSNR at that MCS's payload times the predicted probability that every
block of the image decodes, plus the concealment PSNR otherwise. For AWGN the prediction is a step at the
threshold (+ ``margin_db``); for Rayleigh block fading (one ``h`` per image, no CSI at the transmitter) it is the
outage probability ``P(SNR |h|^2 >= threshold) = exp(-threshold / SNR)``. The reported numbers then come from
running the real chain with the chosen MCS, never from the prediction.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

from jscc_rt.baselines.chain import MCS

#: 5G NR CQI table 1 (38.214 Table 5.2.2.1-2): (QAM order, code rate x 1024), CQI 1..15.
CQI_TABLE: tuple[tuple[int, int], ...] = (
    (4, 78), (4, 120), (4, 193), (4, 308), (4, 449), (4, 602), (16, 378), (16, 490), (16, 616),
    (64, 466), (64, 567), (64, 666), (64, 772), (64, 873), (64, 948),
)


def cqi_mcs(code: str, n: int) -> list[MCS]:
    """The 15 CQI-table MCS for ``code`` blocks of ``n`` coded bits, lowest spectral efficiency first."""
    return [MCS(code, order, r / 1024.0, n) for order, r in CQI_TABLE]


def mcs_thresholds(mcs_list: Sequence[MCS], *, blocks: int = 100, tol: float = 0.1,
                   progress: Callable[[str], None] | None = None) -> dict[str, float]:
    """``label -> AWGN SNR (dB)`` at which each MCS's block error rate crosses 10 % (simulated)."""
    from jscc_rt.baselines.codes import BlockCode
    from jscc_rt.baselines.waterfall import threshold_db

    out = {}
    for m in mcs_list:
        shannon = 10.0 * math.log10(2.0 ** m.spectral_efficiency - 1.0)
        if progress:
            progress(f"waterfall {m.label()}")
        out[m.label()] = threshold_db(BlockCode(m.code_config()), m.order, lo=shannon - 0.5, hi=shannon + 5.9,
                                      tol=tol, blocks=blocks)
    return out


def success_probability(threshold_db: float, snr_db: float, channel: str, margin_db: float = 0.5) -> float:
    """Predicted probability that a whole image decodes (see the module docstring)."""
    if channel == "awgn":
        return 1.0 if snr_db >= threshold_db + margin_db else 0.0
    return math.exp(-(10.0 ** ((threshold_db + margin_db - snr_db) / 10.0)))


def select_mcs(mcs_list: Sequence[MCS], thresholds: dict[str, float], codec_psnr: dict[str, float],
               conceal_psnr: float, snr_db: float, channel: str) -> MCS | None:
    """The MCS maximizing the predicted mean PSNR; ``codec_psnr[label]`` is the mean PSNR of the source encoding at
    that MCS's payload (``nan`` if the budget fits no encoding). ``None`` if no MCS beats concealment."""
    best, best_val = None, conceal_psnr
    for m in mcs_list:
        q = codec_psnr.get(m.label(), float("nan"))
        if math.isnan(q):
            continue
        p = success_probability(thresholds[m.label()], snr_db, channel)
        val = p * q + (1.0 - p) * conceal_psnr
        if val > best_val:
            best, best_val = m, val
    return best
