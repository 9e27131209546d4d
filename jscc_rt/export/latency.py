"""Receiver latency per backend and step budget on real images: torch eager vs onnxruntime (CPU / CUDA EP)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch

from jscc_rt.bench.timing import time_fn
from jscc_rt.data import eval_images
from jscc_rt.export.check import receiver_feeds
from jscc_rt.export.graphs import EncoderGraph
from jscc_rt.models import load_model
from jscc_rt.runtime.receiver import graph_from_sidecar
from jscc_rt.runtime.runners import OnnxRuntimeRunner, TorchRunner


def receiver_latency(onnx_dir: str | Path, *, data: str | None = None, graphs: Sequence[str] | None = None,
                     iters: int = 20, threads: int = 0) -> list[dict]:
    """p50/p90/p99 latency (ms) of each receiver graph on one image (the first eval image, batch 1)."""
    d = Path(onnx_dir)
    _, images = eval_images(data)
    img = images[0][1]
    enc_side = json.loads((d / "encoder.json").read_text())
    jscc = load_model(enc_side["jscc_checkpoint"])
    enc = TorchRunner(EncoderGraph(jscc), ["images", "snr_db"], ["symbols"])
    enc.load()
    rows = []
    for p in sorted(d.glob("receiver_*.onnx")):
        if graphs and p.stem not in graphs:
            continue
        meta = json.loads(p.with_suffix(".json").read_text())
        feeds = receiver_feeds(enc, img, 5.0, jscc.stride, meta, torch.Generator().manual_seed(0))
        for runner in (TorchRunner(graph_from_sidecar(meta), meta["inputs"]), OnnxRuntimeRunner(p, threads=threads)):
            with runner:
                t = time_fn(lambda: runner.infer(feeds), warmup=3, iters=iters)
            rows.append({"graph": p.stem, "steps": meta.get("steps") or 0, "sampler": meta.get("sampler"),
                         "backend": runner.name, "image": tuple(img.shape[-2:]), **t})
    return rows
