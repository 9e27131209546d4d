"""The latency-quality Pareto frontier: which points are Pareto-optimal, and one figure per SNR.

Drawn by ``jscc-rt bench pareto`` right after measuring, and by ``jscc-rt report`` from the ``pareto.json`` it wrote
(the ``points`` list); nothing here measures anything."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

#: Marker per receiver; extra models swept as decoder-only rows (their name in ``sampler``) get diamonds.
SAMPLER_MARKERS = {"decoder": "s", "ddim": "o", "consistency": "^"}


def pareto_front(points: Sequence[dict], x: str = "latency_ms_p50", y: str = "psnr") -> list[dict]:
    """Points not dominated by another (lower-or-equal latency and higher-or-equal quality, one strictly), sorted
    by ``x``."""
    front = []
    for p in points:
        dominated = any(q is not p and q[x] <= p[x] and q[y] >= p[y] and (q[x] < p[x] or q[y] > p[y]) for q in points)
        if not dominated:
            front.append(p)
    return sorted(front, key=lambda r: r[x])


def plot_pareto(points: Sequence[dict], out_dir: str | Path) -> list[Path]:
    """Write ``out_dir/pareto_snr{S:g}.png`` per SNR ``S`` (dB) of ``points``: p50 latency (ms per image, log axis)
    against PSNR (dB), one marker series per backend and receiver (each point annotated with its diffusion steps),
    and each backend's Pareto front (:func:`pareto_front`) as a line. ``points`` are ``bench pareto`` rows (the
    ``points`` of ``pareto.json``): at least ``backend``, ``sampler``, ``steps``, ``snr_db``, ``psnr`` and
    ``latency_ms_p50``. Returns the files written, in SNR order (none for no points)."""
    from jscc_rt.eval.plots import finish, pyplot

    plt = pyplot()
    o = Path(out_dir)
    o.mkdir(parents=True, exist_ok=True)
    written = []
    for snr in sorted({p["snr_db"] for p in points}):
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for be in sorted({p["backend"] for p in points}):
            sel = [p for p in points if p["backend"] == be and p["snr_db"] == snr]
            for smp in dict.fromkeys(p["sampler"] for p in sel):
                s2 = [p for p in sel if p["sampler"] == smp]
                ax.scatter([p["latency_ms_p50"] for p in s2], [p["psnr"] for p in s2],
                           marker=SAMPLER_MARKERS.get(smp, "D"), alpha=0.7, label=f"{be} {smp}")
                for p in s2:
                    ax.annotate(str(p["steps"]), (p["latency_ms_p50"], p["psnr"]), fontsize=6)
            front = pareto_front(sel)
            ax.plot([p["latency_ms_p50"] for p in front], [p["psnr"] for p in front], "-", lw=1)
        ax.set_xscale("log")
        path = o / f"pareto_snr{snr:g}.png"
        finish(fig, ax, path, xlabel="latency p50 (ms / image)", ylabel="PSNR (dB)",
               title=f"Latency-quality frontier at {snr:g} dB SNR")
        written.append(path)
    return written
