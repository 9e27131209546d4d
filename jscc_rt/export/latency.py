"""Receiver latency per backend, precision and step budget on one real image, side by side in one run.

Every backend of :data:`jscc_rt.runtime.backends.BACKENDS` that can run here is timed by default (the others are
listed with the reason they were skipped) on the same feeds: batch 1, the first eval image (a Kodak image with
``--data``), AWGN at 5 dB. A row also carries the PSNR of that backend's output and its delta against torch fp32
on the same feeds, so speed and accuracy sit in one row.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import torch

from jscc_rt._progress import progress
from jscc_rt._validate import JsccInputError, check_int
from jscc_rt.runtime.timing import time_fn
from jscc_rt.data import eval_images
from jscc_rt.eval.metrics import psnr
from jscc_rt.export.check import budgets, encoder_runner, receiver_feeds
from jscc_rt.runtime.variants import variant_path
from jscc_rt.models import load_model
from jscc_rt.models.registry import checkpoint_label
from jscc_rt.runtime.backends import BACKENDS, check_backends, make_runner, unavailable_reason
from jscc_rt.runtime.base import RunnerUnavailable
from jscc_rt.runtime.receiver import graph_from_sidecar


def receiver_latency(onnx_dir: str | Path, *, data: str | None = None, graphs: Sequence[str] | None = None,
                     backends: Sequence[str] | None = None, iters: int = 20, threads: int = 0,
                     snr_db: float = 5.0, show_progress: bool = False,
                     on_rows: Callable[[list[dict]], None] | None = None,
                     ratios: Sequence[str] | None = None) -> tuple[list[dict], list[dict]]:
    """``(rows, skipped)``. Rows: ``{model, graph, steps, sampler, backend, precision, threads, device, image,
    latency_ms_p50/p90/p99/mean, runs, psnr_db, psnr_delta_db}`` (delta against torch fp32, positive = loss); a
    rate-adaptive graph is timed at each budget of :func:`~jscc_rt.export.check.budgets` (``ratios``), its rows
    carrying ``"ratio"``;
    skipped: ``{backend, reason}``. ``threads``: per backend (0 = one per CPU). ``on_rows`` gets each row as soon
    as it is measured."""
    check_int(iters, "iters", minimum=1, fix="time each receiver at least once, e.g. --iters 20")
    names = check_backends(backends or BACKENDS)
    d = Path(onnx_dir)
    if not (d / "encoder.json").is_file():
        raise FileNotFoundError(f"{d}/encoder.json not found; run `jscc-rt export onnx --out {d}` first")
    if backends:  # asked for by name: one that cannot run here is an error, not a silent skip
        for b in names:
            if (r := unavailable_reason(b)) is not None:
                raise RunnerUnavailable(f"backend {b!r} cannot run here: {r}; leave it out of --backends")
    skipped = [{"backend": b, "reason": r} for b in names if (r := unavailable_reason(b))]
    names = [b for b in names if not unavailable_reason(b)]
    _, images = eval_images(data, max_images=1)
    img = images[0][1]
    jscc_path = json.loads((d / "encoder.json").read_text())["jscc_checkpoint"]
    jscc = load_model(jscc_path)
    paths = [p for p in sorted(d.glob("receiver_*.onnx"))
             if p == variant_path(p, "fp32") and (not graphs or p.stem in graphs)]
    rows: list[dict] = []
    with encoder_runner(jscc) as enc:
        jobs = [(p, json.loads(p.with_suffix(".json").read_text())) for p in paths]
        jobs = [(p, meta, r) for p, meta in jobs for r in budgets(meta, ratios)]
        for p, meta, ratio in progress(jobs, desc="export latency", disable=not show_progress):
            feeds = receiver_feeds(enc, img, snr_db, jscc.stride, meta, torch.Generator().manual_seed(0), ratio)
            ref_psnr = None
            for b in names:
                try:
                    runner = make_runner(b, onnx_path=p, module=graph_from_sidecar(meta), input_names=meta["inputs"],
                                         threads=threads)
                    runner.load()
                except (RunnerUnavailable, JsccInputError, FileNotFoundError) as e:  # e.g. no int8 variant of this graph
                    skipped.append({"backend": b, "graph": p.stem, "reason": str(e)})
                    continue
                with runner:
                    out = runner.infer(feeds)["images"].float()[..., : img.shape[-2], : img.shape[-1]]
                    t = time_fn(lambda: runner.infer(feeds), warmup=3, iters=iters)
                q = float(psnr(img[None], out.clamp(0, 1))[0])
                ref_psnr = q if b == "torch" else ref_psnr
                rows.append({"model": checkpoint_label(jscc_path), "graph": p.stem,
                             **({} if ratio is None else {"ratio": str(ratio)}),
                             "steps": meta.get("steps") or 0, "sampler": meta.get("sampler"),
                             "backend": b, "precision": getattr(runner, "precision", "fp32"),
                             "threads": getattr(runner, "threads", threads), "device": getattr(runner, "device", ""),
                             "image": tuple(img.shape[-2:]), **t, "psnr_db": q,
                             "psnr_delta_db": None if ref_psnr is None else ref_psnr - q})
                if on_rows:
                    on_rows(rows[-1:])
    return rows, skipped


def markdown(rows: Sequence[dict], skipped: Sequence[dict] = ()) -> str:
    """Latency table with each row's speed-up over torch fp32 on the same graph."""
    key = lambda r: r["graph"] + (f"@{r['ratio']}" if "ratio" in r else "")  # noqa: E731
    base = {key(r): r["latency_ms_p50"] for r in rows if r["backend"] == "torch"}
    lines = ["| graph | backend | precision | threads | image | p50 ms | p99 ms | speed-up vs torch fp32 | "
             "PSNR (dB) | delta vs fp32 (dB) |", "|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        su = base.get(key(r))
        d = r["psnr_delta_db"]
        lines.append(f"| {key(r)} | {r['backend']} | {r['precision']} | {r['threads']} | "
                     f"{r['image'][0]}x{r['image'][1]} | {r['latency_ms_p50']:.1f} | {r['latency_ms_p99']:.1f} | "
                     f"{'%.2fx' % (su / r['latency_ms_p50']) if su else 'n/a'} | {r['psnr_db']:.3f} | "
                     f"{'n/a' if d is None else '%+.4f' % d} |")
    lines += [f"\nskipped {s['backend']}{' (' + s['graph'] + ')' if 'graph' in s else ''}: {s['reason']}"
              for s in skipped]
    if rows:
        lines.append(f"\ndevice: {rows[0]['device']}")
    return "\n".join(lines)
