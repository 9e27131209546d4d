"""``jscc-rt bench pareto|kernels``: the latency-quality frontier, and the fused kernels' bandwidth."""
from __future__ import annotations

import argparse
import sys

from jscc_rt.cli.common import add_decoder_snr, cuda_available, emit


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks (kernels: fused vs eager vs torch.compile bandwidth)")
    bsub = p.add_subparsers(dest="bench_command", required=True, metavar="BENCH")
    k = bsub.add_parser("kernels", help="channel op and sampler step: latency and GB/s vs copy bandwidth")
    k.add_argument("--device", default="cuda" if cuda_available() else "cpu")
    k.add_argument("--batch", type=int, nargs="+", default=[1, 16, 64])
    k.add_argument("--iters", type=int, default=20, help="timed runs per point (after 3 warm-up runs)")
    k.add_argument("--out", default=None, help="write kernels.json and kernels.md here")
    k.set_defaults(func=_cmd_bench_kernels)
    pa = bsub.add_parser("pareto", help="latency-quality Pareto frontier over steps x sampler x backend x SNR")
    pa.add_argument("--model", default="deepjscc-1_16")
    pa.add_argument("--denoiser", default=None)
    pa.add_argument("--consistency", default=None)
    pa.add_argument("--data", default=None)
    pa.add_argument("--steps", type=int, nargs="+", default=[0, 1, 2, 4, 8, 16, 50])
    pa.add_argument("--samplers", nargs="+", default=["ddim", "consistency"])
    pa.add_argument("--backends", nargs="+", default=["torch", "torch-bf16", "compile", "onnxruntime", "onnxruntime-int8",
                                                      "openvino", "openvino-bf16", "tensorrt", "torch-fused"],
                    help="backends timed side by side (those that cannot run here are listed as skipped)")
    pa.add_argument("--threads", type=int, default=0, help="intra-op threads of every backend (0: one per CPU)")
    pa.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0, 10.0])
    pa.add_argument("--iters", type=int, default=20)
    pa.add_argument("--max-images", type=int, default=None)
    pa.add_argument("--save-recon", type=int, default=0, metavar="N",
                    help="write the torch backend's reconstructions and original|reconstruction strips of the N worst "
                         "and N best images per receiver and SNR to OUT/recon/")
    add_decoder_snr(pa)
    pa.add_argument("--extra-models", nargs="*", default=[],
                    help="further JSCC checkpoints swept as decoder-only receivers (e.g. unrolled-1_16 deepjscc-1_16)")
    pa.add_argument("--noma", default=None, help="a train-noma checkpoint: its two receivers join as rows")
    pa.add_argument("--noma-split", type=float, default=0.8, help="user 1's power share for the NOMA rows")
    pa.add_argument("--latency-snr", type=float, default=None,
                    help="time each plan once at this SNR and reuse it at the others (same graph, same work)")
    pa.add_argument("--device", default="cuda" if cuda_available() else "cpu")
    pa.add_argument("--out", default="out/pareto")
    pa.set_defaults(func=_cmd_bench_pareto)


def _cmd_bench_pareto(a: argparse.Namespace) -> int:
    from pathlib import Path

    from jscc_rt._partial import PartialRows
    from jscc_rt.bench.pareto import run_pareto, write_outputs
    from jscc_rt.eval.recon import ReconSaver, check_save_recon

    if 1 <= a.iters < 20:
        print(f"note: --iters {a.iters} < 20 timed runs; percentiles are rough", file=sys.stderr)
    res = run_pareto(a.model, a.denoiser, a.consistency, data=a.data, steps=a.steps, samplers=a.samplers,
                     backends=a.backends, snrs=a.snr, iters=a.iters, max_images=a.max_images, device=a.device,
                     decoder_snr_db=a.decoder_snr, latency_snr=a.latency_snr,
                     extra_models=a.extra_models, noma=a.noma, noma_split=a.noma_split, threads=a.threads,
                     progress=lambda s: print(f"  {s}", file=sys.stderr, flush=True),
                     on_rows=(partial := PartialRows(a.out, "pareto")).add,
                     recon=ReconSaver(Path(a.out) / "recon", n) if (n := check_save_recon(a.save_recon, a.out)) else None)
    print(write_outputs(res, a.out))
    partial.finish()
    return 0


def _cmd_bench_kernels(a: argparse.Namespace) -> int:
    from jscc_rt.bench.kernels import bench_kernels, markdown

    res = bench_kernels(a.device, a.batch, iters=a.iters, progress=lambda s: print(f"  {s}", file=sys.stderr))
    return emit(a.out, "kernels", res, markdown(res))
