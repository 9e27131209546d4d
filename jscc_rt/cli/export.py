"""``jscc-rt export onnx|noma|trt|check|latency``: graphs in every precision, engines, parity and accuracy gates,
receiver latency per backend."""
from __future__ import annotations

import argparse
import sys

from jscc_rt._validate import JsccInputError
from jscc_rt.cli.common import add_decoder_snr, emit


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="ONNX / TensorRT export, parity checks and receiver latency")
    esub = p.add_subparsers(dest="export_command", required=True, metavar="WHAT")
    o = esub.add_parser("onnx", help="encoder, decoder, denoiser and unrolled receivers (N = 1, 2, 4) as ONNX")
    o.add_argument("--model", required=True, help="JSCC checkpoint or shipped name")
    o.add_argument("--denoiser", default=None)
    o.add_argument("--consistency", default=None)
    o.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4])
    add_decoder_snr(o)
    o.add_argument("--precision", nargs="+", choices=("fp32", "fp16", "bf16", "int8"),
                   default=["fp32", "fp16", "bf16", "int8"],
                   help="graph precisions to write: NAME.onnx (fp32) plus NAME.<precision>.onnx variants with fp32 "
                        "inputs/outputs (fp16/bf16 casts, int8 Q/DQ) for the encoder, decoder and receivers")
    o.add_argument("--calib-data", default=None,
                   help="int8 calibration photos (folder or data root; default $JSCC_DATA/photos, else embedded)")
    o.add_argument("--calib-crops", type=int, default=16, help="int8 calibration crops (128x128, AWGN -5..20 dB)")
    o.add_argument("--out", default="out/onnx")
    o.set_defaults(func=_cmd_export_onnx)
    nm = esub.add_parser("noma", help="two-user NOMA model: transmitter, user-1 and user-2 (SIC) receivers as ONNX")
    nm.add_argument("model", help="jscc-rt train-noma checkpoint")
    nm.add_argument("--out", default="out/onnx_noma")
    nm.set_defaults(func=_cmd_export_noma)
    t = esub.add_parser("trt", help="TensorRT engines from the exported ONNX (needs TensorRT and a CUDA GPU)")
    t.add_argument("onnx", nargs="+", help="ONNX files from `jscc-rt export onnx`")
    t.add_argument("--precision", choices=("fp32", "fp16", "bf16", "int8"), default="fp16",
                   help="which ONNX variant to build: NAME.onnx (fp32) or NAME.<precision>.onnx written by "
                        "`jscc-rt export onnx --precision` (engines are strongly typed; no precision flags)")
    t.add_argument("--cache", default="out/trt_cache", help="engine and timing cache folder")
    t.add_argument("--workspace-gb", type=float, default=4.0, help="builder workspace limit (GiB)")
    t.set_defaults(func=_cmd_export_trt)
    c = esub.add_parser("check", help="parity of torch vs onnxruntime (and TensorRT) on real images")
    c.add_argument("--onnx-dir", default="out/onnx")
    c.add_argument("--data", default=None)
    c.add_argument("--snr", type=float, nargs="+", default=[0.0, 10.0])
    c.add_argument("--max-images", type=int, default=4)
    c.add_argument("--precision", nargs="*", default=None,
                   help="variants to gate against fp32 (fp16 bf16 int8 ov-bf16; default: every one present)")
    c.add_argument("--tolerance-db", type=float, default=0.1, help="largest PSNR loss a variant may have (dB)")
    c.add_argument("--out", default=None, help="write check.json and check.md here")
    c.add_argument("--ratios", nargs="+", default=None,
                   help="budgets (k/n) a rate-adaptive receiver is checked at (default: its smallest, 1/16, largest)")
    c.set_defaults(func=_cmd_export_check)
    lat = esub.add_parser("latency", help="receiver latency: torch eager vs onnxruntime per step budget")
    lat.add_argument("--onnx-dir", default="out/onnx")
    lat.add_argument("--data", default=None)
    lat.add_argument("--iters", type=int, default=20)
    lat.add_argument("--backends", nargs="+", default=None,
                     help="torch torch-bf16 compile onnxruntime onnxruntime-int8 openvino openvino-bf16 tensorrt "
                          "(default: every one available here)")
    lat.add_argument("--threads", type=int, default=0, help="threads per backend (0: one per CPU)")
    lat.add_argument("--graphs", nargs="*", default=None, help="only these receiver graphs (e.g. receiver_decoder)")
    lat.add_argument("--out", default=None)
    lat.add_argument("--ratios", nargs="+", default=None,
                     help="budgets (k/n) a rate-adaptive receiver is timed at (default: its smallest, 1/16, largest)")
    lat.set_defaults(func=_cmd_export_latency)


def _cmd_export_onnx(a: argparse.Namespace) -> int:
    from jscc_rt.export.onnx_export import export_all, write_variant
    from jscc_rt.export.quantize import Calibration

    cal = Calibration(data=a.calib_data, crops=a.calib_crops)
    for p in export_all(a.model, a.denoiser, a.out, steps=tuple(a.steps), consistency=a.consistency,
                        decoder_snr_db=a.decoder_snr):
        if "fp32" in a.precision:
            print(p)
        for prec in a.precision:
            if prec != "fp32" and not (prec == "int8" and p.stem == "denoiser"):
                print(write_variant(p, prec, cal))
    return 0


def _cmd_export_noma(a: argparse.Namespace) -> int:
    from jscc_rt.export.onnx_export import export_noma

    for p in export_noma(a.model, a.out):
        print(p)
    return 0


def _cmd_export_trt(a: argparse.Namespace) -> int:
    from jscc_rt.export.trt import EngineBuildError, TensorRTUnavailable, build_engine

    for o in a.onnx:
        try:
            print(build_engine(o, precision=a.precision, cache_dir=a.cache, workspace_gb=a.workspace_gb))
        except (TensorRTUnavailable, JsccInputError, FileNotFoundError) as e:
            print(f"jscc-rt export trt: error: {e}; no engine was built for {o}", file=sys.stderr)
            return 2
        except EngineBuildError as e:
            print(f"jscc-rt export trt: error: {e}", file=sys.stderr)
            return 1
    return 0


def _cmd_export_check(a: argparse.Namespace) -> int:
    from jscc_rt.export.check import check_parity
    from jscc_rt.export.gate import VARIANTS, check_variants, failures, markdown

    from jscc_rt._partial import PartialRows

    partial = PartialRows(a.out, "check")
    rows = check_parity(a.onnx_dir, data=a.data, snrs=a.snr, max_images=a.max_images, show_progress=True,
                        on_rows=partial.add, ratios=a.ratios)
    lines = ["| graph | backend | SNR (dB) | max abs err | PSNR torch | PSNR backend | delta (dB) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['graph']}{'@' + r['ratio'] if 'ratio' in r else ''} | {r['backend']} | {r['snr_db']:g} | {r['max_abs_err']:.2e} | {r['psnr_torch']:.3f} | "
              f"{r['psnr_backend']:.3f} | {r['psnr_delta_db']:.5f} |" for r in rows]
    gate = check_variants(a.onnx_dir, a.precision or VARIANTS, data=a.data, snrs=a.snr, max_images=a.max_images,
                          tolerance_db=a.tolerance_db, skip_missing=not a.precision, show_progress=True, ratios=a.ratios,
                          on_rows=partial.add)
    emit(a.out, "check", {"parity": rows, "precision_gate": gate}, "\n".join(lines) + "\n\n" + markdown(gate))
    bad = [f"parity: {r['graph']} on {r['backend']} at {r['snr_db']:g} dB differs from torch by "
           f"{r['psnr_delta_db']:.4f} dB (limit 0.01 dB)" for r in rows if r["psnr_delta_db"] >= 0.01] + failures(gate)
    for line in bad:
        print(f"jscc-rt export check: FAIL {line}", file=sys.stderr)
    return 2 if bad else 0


def _cmd_export_latency(a: argparse.Namespace) -> int:
    from jscc_rt.export.latency import markdown, receiver_latency

    from jscc_rt._partial import PartialRows

    rows, skipped = receiver_latency(a.onnx_dir, data=a.data, iters=a.iters, backends=a.backends, threads=a.threads,
                                     graphs=a.graphs, show_progress=True, on_rows=PartialRows(a.out, "latency").add,
                                     ratios=a.ratios)
    return emit(a.out, "latency", {"rows": rows, "skipped": skipped}, markdown(rows, skipped))
