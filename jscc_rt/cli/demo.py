"""``jscc-rt demo``: what ``make demo`` runs, on embedded images."""
from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job on embedded defaults (what `make demo` runs)")
    p.add_argument("--out", default="out/demo")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(a: argparse.Namespace) -> int:
    from jscc_rt.demo import run_demo

    return run_demo(a.out)
