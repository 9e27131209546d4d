"""``jscc-rt bench kernels``: fused vs unfused eager vs torch.compile for the channel op and the sampler step.

Shapes are Kodak-sized latents: a 768x512 image at k/n = 1/16 gives k = 73728 complex symbols (N = 147456 reals)
per sample. Achieved bandwidth counts the op's compulsory traffic (read the latent once, write the output once,
plus per-sample scalars), divided by the p50 latency, and is compared with the measured copy bandwidth.
"""
from __future__ import annotations

import platform
from typing import Callable, Sequence

import torch

from jscc_rt.runtime.timing import copy_bandwidth_gbs, time_fn
from jscc_rt.kernels.dispatch import choose_impl, sampler_step, triton_unavailable_reason, tx_channel_rx

KODAK_K = 768 * 512 * 3 // 16  # complex symbols per Kodak image at k/n = 1/16


def _unfused_eager(z: torch.Tensor, snr: torch.Tensor, table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What a user writes without the fused op: separate torch ops, each a kernel and a trip through memory."""
    b, n = z.shape
    e = z.square().sum(1, keepdim=True)
    x = z * torch.sqrt(n / 2 / e)
    nv = 10 ** (-snr / 10)
    y = x + torch.sqrt(nv / 2).unsqueeze(1) * torch.randn_like(x)
    ab = 1 / (1 + nv)
    step = (table.unsqueeze(0) - ab.unsqueeze(1)).abs().argmin(1)
    return y * torch.sqrt(2 * ab).unsqueeze(1), step


def available_impls(device: torch.device) -> list[str]:
    """Implementations that can run on ``device``: the references always, Triton on CUDA."""
    impls = ["torch", "compile"]
    if device.type == "cuda" and triton_unavailable_reason(device) is None:
        impls.append("triton")
    return impls


def bench_kernels(
    device: str | torch.device = "cpu", batches: Sequence[int] = (1, 16, 64), *, iters: int = 20, k: int = KODAK_K,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Time each op x implementation x batch; returns ``{"meta", "rows"}`` with latency and bandwidth per row."""
    dev = torch.device(device)
    copy_gbs = copy_bandwidth_gbs(dev)
    table = torch.linspace(0.9999, 1e-3, 1000, device=dev)
    rows = []
    for bsz in batches:
        g = torch.Generator(device=dev).manual_seed(0)
        z = torch.randn(bsz, 2 * k, device=dev, generator=g)
        eps = torch.randn_like(z)
        snr = torch.full((bsz,), 10.0, device=dev)
        coef = torch.rand(bsz, device=dev)
        elem_bytes = z.numel() * 4
        cases: list[tuple[str, str, Callable[[], object], int]] = [
            ("tx_channel_rx", "unfused-eager", lambda: _unfused_eager(z, snr, table), 2 * elem_bytes),
        ]
        for impl in available_impls(dev):
            cases.append(("tx_channel_rx", impl, lambda impl=impl: tx_channel_rx(
                z, snr, output="diffusion", alpha_bar_table=table, seed=1, impl=impl), 2 * elem_bytes))
            cases.append(("sampler_step", impl, lambda impl=impl: sampler_step(
                z, eps, coef, coef, coef, seed=1, impl=impl), 3 * elem_bytes))
        for op, impl, fn, nbytes in cases:
            if progress:
                progress(f"{op} {impl} batch {bsz}")
            with torch.no_grad():
                t = time_fn(fn, warmup=3, iters=iters, device=dev)
            gbs = nbytes / (t["latency_ms_p50"] * 1e-3) / 1e9
            rows.append({"op": op, "impl": impl, "batch": bsz, "k": k, **t, "bytes": nbytes,
                         "achieved_gbs": gbs, "fraction_of_copy_bw": gbs / copy_gbs})
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    meta = {"device": name, "device_type": dev.type, "copy_bw_gbs": copy_gbs, "torch": str(torch.__version__),
            "threads": torch.get_num_threads(), "auto_impl": choose_impl(None, dev, False)}
    return {"meta": meta, "rows": rows}


def markdown(result: dict) -> str:
    m = result["meta"]
    lines = [f"Device: {m['device']} ({m['device_type']}, {m['threads']} threads), measured copy bandwidth "
             f"{m['copy_bw_gbs']:.1f} GB/s, torch {m['torch']}", "",
             "| op | impl | batch | p50 (ms) | p90 (ms) | GB/s | % of copy BW |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['op']} | {r['impl']} | {r['batch']} | {r['latency_ms_p50']:.3f} | {r['latency_ms_p90']:.3f} | "
                     f"{r['achieved_gbs']:.1f} | {100 * r['fraction_of_copy_bw']:.0f} % |")
    return "\n".join(lines)
