"""Triton ``tx_channel_rx``: power-normalize -> fading -> AWGN (Philox) -> ZF/MMSE equalize -> diffusion scaling.

Two launches, because the per-sample reductions (transmit energy for power normalization and the mean channel
gain for the effective SNR) must finish before any element can be scaled:

* ``_stats_kernel`` (grid ``B``): one program per sample reduces ``z`` and ``|h_hat|^2``, then writes the scale,
  noise variance, effective SNR, ``alpha_bar`` and the nearest schedule step.
* ``_apply_kernel`` (grid ``(ceil(k / BLOCK), B)``): one complex symbol per lane, all math in float32 registers,
  one read of ``z`` (+ ``h``, ``h_hat``, explicit noise when given) and one write of the output.

Semantics are those of :func:`jscc_rt.kernels.tx_channel_rx.naive.tx_channel_rx_naive`.
"""
from __future__ import annotations


import torch
import triton
import triton.language as tl

from jscc_rt.kernels.dispatch import TX_OUTPUTS
from jscc_rt.kernels.tx_channel_rx.naive import TxRxOutput, n_blocks



@triton.jit
def _stats_kernel(
    z_ptr, hh_ptr, snr_ptr, table_ptr, stats_ptr, step_ptr,
    N, K, NB, L, T, power, csi_err_var,
    HAS_H: tl.constexpr, HAS_TABLE: tl.constexpr, BLOCK: tl.constexpr,
):
    b = tl.program_id(0)
    lanes = tl.arange(0, BLOCK)
    acc_e = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, N, BLOCK):
        offs = start + lanes
        v = tl.load(z_ptr + b * N + offs, mask=offs < N, other=0.0).to(tl.float32)
        acc_e += v * v
    energy = tl.sum(acc_e, axis=0)
    mean_g2 = 1.0
    if HAS_H:
        acc_g = tl.zeros([BLOCK], dtype=tl.float32)
        for start in range(0, K, BLOCK):
            i = start + lanes
            m = i < K
            blk = i // L
            hr = tl.load(hh_ptr + (b * NB + blk) * 2, mask=m, other=0.0).to(tl.float32)
            hi = tl.load(hh_ptr + (b * NB + blk) * 2 + 1, mask=m, other=0.0).to(tl.float32)
            acc_g += hr * hr + hi * hi
        mean_g2 = tl.sum(acc_g, axis=0) / K
    snr_db = tl.load(snr_ptr + b).to(tl.float32)
    noise_var = power * tl.exp(-snr_db * 0.23025850929940458)  # power / 10**(snr/10)
    scale = tl.sqrt(power * K / energy)
    snr_eff = power * mean_g2 / (csi_err_var * power + noise_var)
    alpha_bar = snr_eff / (1.0 + snr_eff)
    tl.store(stats_ptr + b * 4 + 0, scale)
    tl.store(stats_ptr + b * 4 + 1, noise_var)
    tl.store(stats_ptr + b * 4 + 2, snr_eff)
    tl.store(stats_ptr + b * 4 + 3, alpha_bar)
    if HAS_TABLE:
        best_d = tl.full([BLOCK], float("inf"), tl.float32)
        best_i = tl.zeros([BLOCK], dtype=tl.int32)
        for start in range(0, T, BLOCK):
            t = start + lanes
            a = tl.load(table_ptr + t, mask=t < T, other=float("inf")).to(tl.float32)
            d = tl.abs(a - alpha_bar)
            better = d < best_d
            best_d = tl.where(better, d, best_d)
            best_i = tl.where(better, t, best_i)
        dmin = tl.min(best_d, axis=0)
        idx = tl.min(tl.where(best_d == dmin, best_i, 2147483647), axis=0)  # first index on ties
        tl.store(step_ptr + b, idx.to(tl.int64))


@triton.jit
def _apply_kernel(
    z_ptr, h_ptr, hh_ptr, noise_ptr, stats_ptr, out_ptr,
    N, K, NB, L, seed, power, csi_err_var,
    HAS_H: tl.constexpr, HAS_NOISE: tl.constexpr, MMSE: tl.constexpr, DIFFUSION: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    b = tl.program_id(1)
    i = pid * BLOCK + tl.arange(0, BLOCK)
    m = i < K
    base = b * N + 2 * i
    scale = tl.load(stats_ptr + b * 4 + 0)
    noise_var = tl.load(stats_ptr + b * 4 + 1)
    alpha_bar = tl.load(stats_ptr + b * 4 + 3)
    xr = tl.load(z_ptr + base, mask=m, other=0.0).to(tl.float32) * scale
    xi = tl.load(z_ptr + base + 1, mask=m, other=0.0).to(tl.float32) * scale
    if HAS_NOISE:
        nr = tl.load(noise_ptr + base, mask=m, other=0.0).to(tl.float32)
        ni = tl.load(noise_ptr + base + 1, mask=m, other=0.0).to(tl.float32)
    else:
        nr = tl.randn(seed, base)
        ni = tl.randn(seed, base + 1)
    std = tl.sqrt(noise_var * 0.5)
    if HAS_H:
        hoff = (b * NB + i // L) * 2
        hr = tl.load(h_ptr + hoff, mask=m, other=1.0).to(tl.float32)
        hi = tl.load(h_ptr + hoff + 1, mask=m, other=0.0).to(tl.float32)
        er = tl.load(hh_ptr + hoff, mask=m, other=1.0).to(tl.float32)
        ei = tl.load(hh_ptr + hoff + 1, mask=m, other=0.0).to(tl.float32)
        rr = hr * xr - hi * xi + std * nr
        ri = hr * xi + hi * xr + std * ni
        g2 = er * er + ei * ei
        if MMSE and not DIFFUSION:
            denom = g2 + (csi_err_var * power + noise_var) / power
        else:
            denom = g2
        yr = (rr * er + ri * ei) / denom
        yi = (ri * er - rr * ei) / denom
    else:
        yr = xr + std * nr
        yi = xi + std * ni
    if DIFFUSION:
        c = tl.sqrt(alpha_bar * 2.0 / power)
        yr = yr * c
        yi = yi * c
    tl.store(out_ptr + base, yr.to(out_ptr.dtype.element_ty), mask=m)
    tl.store(out_ptr + base + 1, yi.to(out_ptr.dtype.element_ty), mask=m)


def tx_channel_rx_triton(
    z: torch.Tensor,
    snr_db: torch.Tensor,
    *,
    power: float = 1.0,
    h: torch.Tensor | None = None,
    h_hat: torch.Tensor | None = None,
    block_len: int | None = None,
    csi_err_var: float = 0.0,
    equalizer: str = "zf",
    output: str = "equalized",
    alpha_bar_table: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    seed: int = 0,
    block: int = 1024,
) -> TxRxOutput:
    """Host wrapper: same arguments as the reference, ``seed`` for the in-kernel Philox noise when ``noise`` is None.

    Inference only (no autograd). ``z`` ``(B, N)`` fp32/fp16/bf16 contiguous; output has ``z``'s dtype.
    """
    if output not in TX_OUTPUTS:
        raise ValueError(f"output must be 'equalized' or 'diffusion', got {output!r}")
    z = z.contiguous()
    bsz, n = z.shape
    k = n // 2
    dev = z.device
    snr = snr_db.to(device=dev, dtype=torch.float32).contiguous()
    has_h = h is not None
    if has_h:
        h = h.contiguous()
        hh = h if h_hat is None else h_hat.contiguous()
        nb, length = n_blocks(k, block_len), k if block_len is None else block_len
        if h.shape[1] != nb or hh.shape[1] != nb:
            raise ValueError(f"h/h_hat need {nb} blocks for {k} symbols with block_len={block_len}, got {h.shape[1]}")
    else:
        h = hh = z  # unused pointers
        nb, length = 1, k
    table = alpha_bar_table.to(device=dev, dtype=torch.float32).contiguous() if alpha_bar_table is not None else snr
    stats = torch.empty(bsz, 4, device=dev, dtype=torch.float32)
    step = torch.empty(bsz, device=dev, dtype=torch.int64)
    out = torch.empty_like(z)
    _stats_kernel[(bsz,)](
        z, hh, snr, table, stats, step, n, k, nb, length, table.numel(), float(power), float(csi_err_var),
        HAS_H=has_h, HAS_TABLE=alpha_bar_table is not None, BLOCK=block,
    )
    nz = noise.contiguous() if noise is not None else z
    _apply_kernel[(triton.cdiv(k, block), bsz)](
        z, h, hh, nz, stats, out, n, k, nb, length, int(seed), float(power), float(csi_err_var),
        HAS_H=has_h, HAS_NOISE=noise is not None, MMSE=equalizer == "mmse", DIFFUSION=output == "diffusion",
        BLOCK=block,
    )
    snr_eff = stats[:, 2]
    return TxRxOutput(out, 10 * torch.log10(snr_eff), stats[:, 3].clone(),
                      step if alpha_bar_table is not None else None)
