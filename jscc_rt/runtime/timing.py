"""Latency measurement: warm-up, then timed runs (CUDA-synchronized on GPU); percentiles in milliseconds."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def _sync(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def time_fn(
    fn: Callable[[], object], *, warmup: int = 3, iters: int = 20, device: torch.device | None = None,
    min_time_s: float = 0.0,
) -> dict[str, float]:
    """Run ``fn`` ``warmup`` times, then at least ``iters`` timed runs (and at least ``min_time_s`` seconds).

    Returns ``{"latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "latency_ms_mean", "runs"}``.
    """
    for _ in range(warmup):
        fn()
    _sync(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < iters or time.perf_counter() - start < min_time_s:
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()

    def pct(p: float) -> float:
        return times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]

    return {"latency_ms_p50": statistics.median(times), "latency_ms_p90": pct(90), "latency_ms_p99": pct(99),
            "latency_ms_mean": statistics.fmean(times), "runs": float(len(times))}


def copy_bandwidth_gbs(device: torch.device, nbytes: int = 1 << 28, iters: int = 10) -> float:
    """Measured device copy bandwidth in GB/s (read + write bytes of ``dst.copy_(src)`` per second)."""
    n = nbytes // 4
    src = torch.empty(n, device=device, dtype=torch.float32).normal_()
    dst = torch.empty_like(src)
    r = time_fn(lambda: dst.copy_(src), warmup=2, iters=iters, device=device)
    return 2 * n * 4 / (r["latency_ms_p50"] * 1e-3) / 1e9
