"""``jscc-rt kernels compile``: every Triton kernel variant ahead of time for the target GPUs (no GPU needed)."""
from __future__ import annotations

import argparse
import sys


def add(sub: argparse._SubParsersAction) -> None:
    from jscc_rt.kernels.aot import ARCHS, DEFAULT_ARCHS, DEFAULT_OUT

    p = sub.add_parser("kernels", help="Triton kernels: compile every variant ahead of time (no GPU needed)")
    ksub = p.add_subparsers(dest="kernels_command", required=True, metavar="WHAT")
    c = ksub.add_parser("compile", help="every kernel variant for sm_90 / sm_120: registers, spills, vector loads")
    c.add_argument("--arch", nargs="+", default=list(DEFAULT_ARCHS), metavar="SM",
                   help=f"target architectures (valid: {', '.join(ARCHS)})")
    c.add_argument("--out", default=DEFAULT_OUT, help="write compile.json, compile.md and ARCH/*.ptx|cubin|sass here")
    c.add_argument("--kernels", nargs="+", default=None,
                   help="only these ops (tx_channel_rx, sampler_step) or kernels (_apply_kernel, ...)")
    c.add_argument("--dtypes", nargs="+", default=None, help="only these data dtypes (float32 float16 bfloat16)")
    c.add_argument("--no-artifacts", action="store_true", help="write only compile.json and compile.md")
    c.add_argument("--no-progress", action="store_true")
    c.set_defaults(func=_cmd_kernels_compile)


def _cmd_kernels_compile(a: argparse.Namespace) -> int:
    from jscc_rt.kernels.aot import AotCompileError, compile_variants
    from jscc_rt.kernels.aot_report import summary_markdown

    try:
        rows = compile_variants(a.arch, a.out, a.kernels, dtypes=a.dtypes, artifacts=not a.no_artifacts,
                                show_progress=not a.no_progress)
    except AotCompileError as e:
        print(f"jscc-rt kernels compile: error: {e}", file=sys.stderr)
        return 2
    print(summary_markdown(rows))
    print(f"{len(rows)} variants; {a.out}/compile.json, {a.out}/compile.md")
    return 0
