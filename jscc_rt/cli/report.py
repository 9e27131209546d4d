"""``jscc-rt report``: the technical report's figures and model table from the result JSONs (docs/report.md)."""
from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="figures and the model table of docs/report.md, from the result JSONs")
    p.add_argument("--results", default="docs/results", help="folder of result JSONs (jscc-rt eval, baselines, ...)")
    p.add_argument("--published", default="docs/published/published_kodak.json",
                   help="published anchors to plot beside ours (labelled as published)")
    p.add_argument("--models", nargs="+", default=None,
                   help="models in the table and the PSNR figures (default: the shipped JSCC models)")
    p.add_argument("--out", default="docs/report")
    p.set_defaults(func=_cmd_report)


def _cmd_report(a: argparse.Namespace) -> int:
    from jscc_rt.eval.figures import write_report_figures
    from jscc_rt.models.registry import FLAGSHIP_1_12, FLAGSHIP_1_16, RATE_ADAPTIVE

    models = a.models or list(dict.fromkeys(["deepjscc-1_16", "vae-1_16", "deepjscc-res-1_16", "unrolled-1_16",
                                             "unrolled-w64-1_16", FLAGSHIP_1_16, FLAGSHIP_1_12, RATE_ADAPTIVE]))
    print(write_report_figures(a.results, a.out, models, a.published))
    return 0
