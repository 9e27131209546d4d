"""Block error rate of a coded-modulation pair over AWGN, its waterfall threshold, and the finite-length limit.

* :func:`simulate_bler`: random payloads -> code -> Gray QAM -> AWGN -> exact LLRs -> decoder; counts true block
  errors (decoded payload != sent) and CRC-undetected ones.
* :func:`threshold_db`: the SNR where the BLER crosses ``target`` (bisection on a monotone waterfall).
* :func:`normal_approx_threshold_db`: the SNR at which the normal approximation to the finite-blocklength limit
  (Polyanskiy, Poor, Verdu 2010: ``k = nC - sqrt(nV) Q^-1(eps) + log2(n)/2``) allows ``k`` bits in ``n`` binary-input
  AWGN uses at error ``eps``; QPSK with Gray labels is two such uses per symbol. No code of that length can do
  better, so it bounds a correct chain from below.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from jscc_rt.baselines.codes import BlockCode
from jscc_rt.baselines.qam import bits_per_symbol, qam_llr, qam_map
from jscc_rt.channel import Channel, ChannelConfig


@dataclass(frozen=True)
class BlerPoint:
    snr_db: float
    blocks: int
    errors: int
    undetected: int

    @property
    def bler(self) -> float:
        return self.errors / self.blocks


def simulate_bler(code: BlockCode, order: int, snr_db: float, blocks: int, *, batch: int = 100,
                  generator: torch.Generator | None = None) -> BlerPoint:
    """Monte-Carlo BLER of ``code`` with ``order``-QAM over AWGN at ``snr_db`` (Es/N0, dB) over ``blocks`` blocks."""
    g = generator or torch.Generator().manual_seed(0)
    ch = Channel(ChannelConfig("awgn"))
    errors = undetected = done = 0
    while done < blocks:
        b = min(batch, blocks - done)
        u = torch.randint(0, 2, (b, code.k), generator=g)
        c = code.encode(u)
        x = qam_map(c.round().long().reshape(1, -1), order)
        out = ch(x, snr_db, generator=g, per_sample_power=False)  # QAM: unit energy on average
        llr = qam_llr(out.y, out.noise_var, order).reshape(b, code.n)
        u_hat, ok = code.decode(llr)
        wrong = (u_hat != u.to(torch.uint8)).any(1)
        errors += int(wrong.sum())
        undetected += int((wrong & ok).sum())
        done += b
    return BlerPoint(float(snr_db), blocks, errors, undetected)


def _bler_above(code: BlockCode, order: int, snr_db: float, target: float, blocks: int, seed: int) -> bool:
    """Whether the BLER at ``snr_db`` exceeds ``target``, simulating in batches of 25 and stopping early once the
    answer is clear (>= 5 errors at >= 3x the target rate, or no error in >= 3/target blocks)."""
    g = torch.Generator().manual_seed(seed)
    done = errors = 0
    while done < blocks:
        p = simulate_bler(code, order, snr_db, min(25, blocks - done), generator=g)
        done, errors = done + p.blocks, errors + p.errors
        if errors >= 5 and errors >= 3 * target * done:
            return True
        if errors == 0 and done >= 3 / target:
            return False
    return errors > target * done


def threshold_db(code: BlockCode, order: int, *, target: float = 0.1, lo: float = -10.0, hi: float = 30.0,
                 tol: float = 0.05, blocks: int = 200, seed: int = 0) -> float:
    """SNR (dB) where the simulated BLER crosses ``target``, by bisection to ``tol`` dB (at most ``blocks`` blocks
    per probe)."""
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _bler_above(code, order, mid, target, blocks, seed) else (lo, mid)
    return 0.5 * (lo + hi)


def _biawgn_cv(snr_lin: float) -> tuple[float, float]:
    """Capacity (bits) and dispersion (bits^2) of the binary-input AWGN channel with ``E/sigma^2 = snr_lin``."""
    z, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    s2 = 1.0 / snr_lin
    y = 1.0 + math.sqrt(s2) * z  # x = +1 by symmetry
    i = 1.0 - np.logaddexp(0.0, -2.0 * y / s2) / math.log(2.0)
    c = float((w * i).sum())
    return c, float((w * (i - c) ** 2).sum())


def normal_approx_threshold_db(n_bits: int, k_bits: int, order: int = 4, eps: float = 0.1) -> float:
    """Lowest Es/N0 (dB) at which ``k_bits`` can be sent in ``n_bits`` coded bits with block error ``eps`` on
    Gray QPSK (each symbol = two BPSK uses at Es/N0), by the normal approximation."""
    if bits_per_symbol(order) != 2:
        raise ValueError("the normal-approximation reference is implemented for QPSK (two BI-AWGN uses per symbol)")
    from statistics import NormalDist

    qinv = NormalDist().inv_cdf(1.0 - eps)

    def rate_gap(snr_db: float) -> float:
        c, v = _biawgn_cv(10.0 ** (snr_db / 10.0))
        return n_bits * c - math.sqrt(n_bits * v) * qinv + 0.5 * math.log2(n_bits) - k_bits

    lo, hi = -15.0, 30.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if rate_gap(mid) < 0 else (lo, mid)
    return 0.5 * (lo + hi)
