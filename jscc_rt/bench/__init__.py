"""Benchmark harness: latency timing, kernel bandwidth benchmarks."""
from jscc_rt.runtime.timing import copy_bandwidth_gbs, time_fn

__all__ = ["copy_bandwidth_gbs", "time_fn"]
