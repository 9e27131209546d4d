"""``jscc-rt export check``: torch vs onnxruntime (and TensorRT when present) on the same real inputs.

For each receiver graph: real images are encoded, sent through AWGN at each SNR, and decoded by the torch graph
and by each backend from identical feeds. Reported: max absolute image error and the PSNR delta (dB).
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import torch

from jscc_rt._progress import progress
from jscc_rt.channel import snr_db_to_noise_var
from jscc_rt.data import eval_images, pad_to_multiple
from jscc_rt.eval.metrics import psnr
from jscc_rt.models.config import JSCCConfig, parse_ratio
from jscc_rt.models.rate import budget_channels, budget_mask
from jscc_rt.runtime.graphs import EncoderGraph
from jscc_rt.runtime.variants import variant_path
from jscc_rt.runtime.runners import OnnxRuntimeRunner, RunnerUnavailable, TensorRTRunner, TorchRunner


def encoder_runner(jscc: torch.nn.Module) -> TorchRunner:
    """The torch encoder graph of ``jscc`` (a rate-adaptive model's takes ``channels`` too), loaded."""
    names = ["images", "snr_db"] + (["channels"] if getattr(jscc.config, "rate_adaptive", False) else [])
    r = TorchRunner(EncoderGraph(jscc), names, ["symbols"])
    r.load()
    return r


def budgets(meta: dict, ratios: Sequence[str] | None = None) -> list[Fraction | None]:
    """Budgets (k/n) a graph is checked or timed at: ``[None]`` for a fixed-rate graph; for a rate-adaptive one,
    ``ratios`` (checked against its range) or its smallest, 1/16 (when in range) and largest ratio."""
    if not meta.get("rate_adaptive"):
        return [None]
    cfg = JSCCConfig.from_dict(meta["jscc_config"])
    if ratios:
        for r in ratios:
            budget_channels(cfg, r)
        return [parse_ratio(r) for r in ratios]
    mid = [Fraction(1, 16)] if cfg.min_ratio < Fraction(1, 16) < cfg.ratio else []
    return [cfg.min_ratio, *mid, cfg.ratio]


def receiver_feeds(encoder_runner, img: torch.Tensor, snr_db: float, stride: int, meta: dict,
                   generator: torch.Generator, ratio: Fraction | None = None) -> dict[str, torch.Tensor]:
    """Encode ``img`` (padded to the stride) with ``encoder_runner``, add AWGN, build the receiver's feeds; a
    rate-adaptive graph sends ``ratio`` (None: its largest) and gets AWGN on the sent channels only."""
    x, _ = pad_to_multiple(img[None], stride)
    snr = torch.tensor([snr_db], dtype=torch.float32)
    enc_feeds = {"images": x, "snr_db": snr}
    mask = None
    if meta.get("rate_adaptive"):
        cfg = JSCCConfig.from_dict(meta["jscc_config"])
        c = torch.tensor([float(budget_channels(cfg, ratio))])
        enc_feeds["channels"] = c
        mask = budget_mask(c, cfg.latent_channels)
    s = encoder_runner.infer(enc_feeds)["symbols"]
    nv = snr_db_to_noise_var(snr).float()
    noise = torch.sqrt(nv / 2).view(-1, 1, 1, 1) * torch.randn(s.shape, generator=generator)
    received = s + (noise if mask is None else noise * mask)
    feeds = {"received": received, "noise_var": nv, "snr_db": snr}
    if mask is not None:
        feeds["channels"] = enc_feeds["channels"]
    if "noise" in meta.get("inputs", ()):
        feeds["noise"] = torch.randn(1, meta["steps"] - 1, *s.shape[1:], generator=generator)
    return feeds


def check_parity(onnx_dir: str | Path, *, data: str | None = None, snrs: Sequence[float] = (0.0, 10.0),
                 max_images: int | None = 4, seed: int = 0, show_progress: bool = False,
                 on_rows: Callable[[list[dict]], None] | None = None,
                 ratios: Sequence[str] | None = None) -> list[dict]:
    """Rows ``{"graph", "backend", "snr_db", "max_abs_err", "psnr_torch", "psnr_backend", "psnr_delta_db"}`` (plus
    ``"ratio"`` for a rate-adaptive graph, at each of :func:`budgets`); ``on_rows`` gets each row as soon as it is
    measured."""
    from jscc_rt.runtime.receiver import graph_from_sidecar

    d = Path(onnx_dir)
    _, images = eval_images(data, max_images=max_images)
    rows = []
    enc_side = json.loads((d / "encoder.json").read_text())
    from jscc_rt.models import load_model

    jscc = load_model(enc_side["jscc_checkpoint"])
    enc = encoder_runner(jscc)
    graphs = [p for p in sorted(d.glob("receiver_*.onnx")) if p == variant_path(p, "fp32")]
    for onnx_path in progress(graphs, desc="export check: parity", disable=not show_progress):
        meta = json.loads(onnx_path.with_suffix(".json").read_text())
        graph = graph_from_sidecar(meta)
        ref = TorchRunner(graph, meta["inputs"])
        backends = [OnnxRuntimeRunner(onnx_path)]
        trt_engine = None
        try:
            from jscc_rt.export.trt import build_engine

            trt_engine = build_engine(onnx_path, precision="fp32")
            backends.append(TensorRTRunner(trt_engine))
        except Exception:  # TensorRT/GPU absent: parity is torch vs onnxruntime only
            trt_engine = None
        with ref:
            for be in backends:
                try:
                    be.load()
                except RunnerUnavailable:
                    continue
                for ratio, snr in [(r, s) for r in budgets(meta, ratios) for s in snrs]:
                    g = torch.Generator().manual_seed(seed)
                    errs, p_ref, p_be = [], [], []
                    for _, img in images:
                        feeds = receiver_feeds(enc, img, snr, jscc.stride, meta, g, ratio)
                        a = ref.infer(feeds)["images"].cpu()[..., : img.shape[-2], : img.shape[-1]]
                        b = be.infer(feeds)["images"].cpu().float()[..., : img.shape[-2], : img.shape[-1]]
                        errs.append(float((a - b).abs().max()))
                        p_ref.append(float(psnr(img[None], a.clamp(0, 1))[0]))
                        p_be.append(float(psnr(img[None], b.clamp(0, 1))[0]))
                    n = len(images)
                    rows.append({"graph": onnx_path.stem, "backend": be.name, "snr_db": snr,
                                 **({} if ratio is None else {"ratio": str(ratio)}), "max_abs_err": max(errs),
                                 "psnr_torch": sum(p_ref) / n, "psnr_backend": sum(p_be) / n,
                                 "psnr_delta_db": abs(sum(p_ref) - sum(p_be)) / n})
                    if on_rows:
                        on_rows(rows[-1:])
                be.close()
    return rows
