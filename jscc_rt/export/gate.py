"""Accuracy gate of the precision variants: each variant against the fp32 graph on real images.

For every receiver graph ``receiver_*.onnx`` and each of its variants (``NAME.fp16/bf16/int8.onnx`` written by
``jscc-rt export onnx --precision``, and the fp32 graph under OpenVINO's bf16 inference hint, ``ov-bf16``): real
images (Kodak with ``--data``, else the embedded images) are encoded, sent through AWGN at each SNR (0 and 10 dB by
default) with one noise draw shared by fp32 and the variant, and decoded by both. A row reports the mean PSNR of
each, ``psnr_delta_db = psnr_fp32 - psnr_variant`` (positive: the variant loses quality) and the max absolute image
error; ``passed`` is ``psnr_delta_db <= tolerance_db``.

Which backend runs a variant: onnxruntime (fp32 reference, fp16, int8 Q/DQ) and OpenVINO for bf16 graphs (its f32
hint computes what the graph says; onnxruntime's CPU provider has no bf16 Conv/Gemm) and for ``ov-bf16``.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Callable, Sequence

import torch

from jscc_rt._progress import progress
from jscc_rt._validate import JsccInputError
from jscc_rt.data import eval_images
from jscc_rt.eval.metrics import psnr
from jscc_rt.export.check import budgets, encoder_runner, receiver_feeds
from jscc_rt.runtime.variants import PRECISIONS, variant_path
from jscc_rt.models import load_model
from jscc_rt.runtime.base import Runner, RunnerUnavailable
from jscc_rt.runtime.openvino_runner import OpenVINORunner
from jscc_rt.runtime.runners import OnnxRuntimeRunner

#: Runtime-precision variants: the fp32 graph run under a backend's low-precision mode.
RUNTIME_VARIANTS: tuple[str, ...] = ("ov-bf16",)
VARIANTS: tuple[str, ...] = PRECISIONS[1:] + RUNTIME_VARIANTS
DEFAULT_TOLERANCE_DB = 0.1


def variant_runner(fp32_path: Path, variant: str, threads: int = 0) -> Runner:
    """The runner that executes ``variant`` of the fp32 graph ``fp32_path`` (see the module docstring)."""
    if variant == "ov-bf16":
        return OpenVINORunner(fp32_path, precision="bf16", threads=threads)
    path = variant_path(fp32_path, variant)
    if not path.is_file():
        raise JsccInputError(f"precision variant {path.name} not found; write it with "
                             f"`jscc-rt export onnx ... --precision {variant}`")
    if variant == "bf16":
        return OpenVINORunner(path, precision="f32", threads=threads)
    return OnnxRuntimeRunner(path, threads=threads)


def check_variants(onnx_dir: str | Path, variants: Sequence[str] = VARIANTS, *, data: str | None = None,
                   snrs: Sequence[float] = (0.0, 10.0), max_images: int | None = 4,
                   tolerance_db: float = DEFAULT_TOLERANCE_DB, seed: int = 0, graphs: Sequence[str] | None = None,
                   skip_missing: bool = True, show_progress: bool = False, ratios: Sequence[str] | None = None,
                   on_rows: Callable[[list[dict]], None] | None = None) -> list[dict]:
    """Gate rows ``{graph, variant, backend, snr_db, images, psnr_fp32, psnr_variant, psnr_delta_db, max_abs_err,
    tolerance_db, passed}`` for each receiver graph of ``onnx_dir`` and each variant. A variant whose file is
    absent is skipped when ``skip_missing`` (else an error); ``ov-bf16`` is skipped where OpenVINO or bf16 is
    missing only when ``skip_missing``. Every skip is a ``UserWarning`` naming the graph, the variant and why, so a
    gate that checked less than it was asked to says so. ``on_rows`` gets each row as soon as it is measured."""
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise JsccInputError(f"unknown precision variant(s) {bad}; choose from {', '.join(VARIANTS)}")
    if not tolerance_db >= 0:
        raise JsccInputError(f"tolerance_db must be a number >= 0 (dB), got {tolerance_db}")
    d = Path(onnx_dir)
    enc_json = d / "encoder.json"
    if not enc_json.is_file():
        raise JsccInputError(f"{enc_json} not found; run `jscc-rt export onnx --out {d}` first")
    jscc = load_model(json.loads(enc_json.read_text())["jscc_checkpoint"])
    set_name, images = eval_images(data, max_images=max_images)
    rows: list[dict] = []
    fp32_graphs = [p for p in sorted(d.glob("receiver_*.onnx")) if p == variant_path(p, "fp32")]
    with encoder_runner(jscc) as enc:
        for path in progress(fp32_graphs, desc="export check: precision gate", disable=not show_progress):
            if graphs and path.stem not in graphs:
                continue
            meta = json.loads(path.with_suffix(".json").read_text())
            # a rate-adaptive graph is gated at each of its check budgets
            feeds = {(r, snr): [receiver_feeds(enc, img, snr, jscc.stride, meta,
                                               torch.Generator().manual_seed(seed + i), r)
                                for i, (_, img) in enumerate(images)] for r in budgets(meta, ratios) for snr in snrs}
            with OnnxRuntimeRunner(path) as ref:
                ref_out = {key: [ref.infer(f)["images"] for f in fs] for key, fs in feeds.items()}
            for v in variants:
                try:
                    runner = variant_runner(path, v)
                    runner.load()
                except (JsccInputError, RunnerUnavailable) as e:
                    if skip_missing:
                        warnings.warn(f"export check: {path.name} variant {v!r} skipped: {e}", stacklevel=2)
                        continue
                    raise
                with runner:
                    for (ratio, snr), fs in feeds.items():
                        p32, pv, err = [], [], 0.0
                        for (_, img), f, a in zip(images, fs, ref_out[(ratio, snr)]):
                            b = runner.infer(f)["images"].float()
                            a, b = (t[..., : img.shape[-2], : img.shape[-1]] for t in (a, b))
                            err = max(err, float((a - b).abs().max()))
                            p32.append(float(psnr(img[None], a.clamp(0, 1))[0]))
                            pv.append(float(psnr(img[None], b.clamp(0, 1))[0]))
                        m32, mv = sum(p32) / len(p32), sum(pv) / len(pv)
                        rows.append({"graph": path.stem, **({} if ratio is None else {"ratio": str(ratio)}),
                                     "variant": v, "backend": runner.name, "snr_db": snr,
                                     "images": f"{set_name} x{len(images)}", "psnr_fp32": m32, "psnr_variant": mv,
                                     "psnr_delta_db": m32 - mv, "max_abs_err": err, "tolerance_db": tolerance_db,
                                     "passed": m32 - mv <= tolerance_db})
                        if on_rows:
                            on_rows(rows[-1:])
    return rows


def failures(rows: Sequence[dict]) -> list[str]:
    """One line per failing (graph, variant, SNR): names the variant, the delta and the tolerance."""
    return [f"{r['graph']}.{r['variant']}{' at k/n ' + r['ratio'] if 'ratio' in r else ''} at {r['snr_db']:g} dB loses {r['psnr_delta_db']:.3f} dB PSNR against fp32 "
            f"(tolerance {r['tolerance_db']:g} dB)" for r in rows if not r["passed"]]


def markdown(rows: Sequence[dict]) -> str:
    lines = ["| graph | variant | backend | SNR (dB) | PSNR fp32 | PSNR variant | delta (dB) | max abs err | gate |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    lines += [f"| {r['graph']}{'@' + r['ratio'] if 'ratio' in r else ''} | {r['variant']} | {r['backend']} | {r['snr_db']:g} | {r['psnr_fp32']:.3f} | "
              f"{r['psnr_variant']:.3f} | {r['psnr_delta_db']:+.4f} | {r['max_abs_err']:.2e} | "
              f"{'pass' if r['passed'] else 'FAIL'} |" for r in rows]
    return "\n".join(lines)
