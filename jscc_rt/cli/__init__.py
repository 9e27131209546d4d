"""The ``jscc-rt`` command line (also ``python -m jscc_rt``), one module per command group. Every entry point is
``main(argv=None) -> int``: 0 ok, 2 bad input or missing files (one line on stderr, no traceback).

Grammar: ``jscc-rt GROUP [KIND] [options]`` with ``train jscc|diffusion|compress|noma`` and
``eval jscc|diffusion|unrolled|noma|zoom``; today's spellings (``train --model ...``, ``train-diffusion``,
``eval CKPT ...``, ``eval-diffusion``, ...) keep working as aliases.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from jscc_rt._validate import JsccInputError
from jscc_rt.cli import baselines, bench, demo, export, kernels, report, simulate, train
from jscc_rt.cli import eval as eval_group
from jscc_rt.runtime.base import RunnerUnavailable

GROUPS = (simulate, train, eval_group, export, bench, kernels, baselines, report, demo)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jscc-rt", description="Diffusion-driven deep JSCC: simulate, train, evaluate, "
                                                           "export, benchmark.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add(sub)
    return p


def normalize(argv: Sequence[str]) -> list[str]:
    """Today's spellings ``train [options]`` and ``eval CKPT... [options]`` mean ``train jscc`` / ``eval jscc``."""
    argv = list(argv)
    for group in (train, eval_group):
        if argv[:1] == [group.__name__.rsplit(".", 1)[1]] and (
                len(argv) == 1 or (argv[1] not in group.KINDS and argv[1] not in ("-h", "--help"))):
            argv.insert(1, "jscc")
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input / missing files)."""
    args = build_parser().parse_args(normalize(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args))
    except (JsccInputError, FileNotFoundError, RunnerUnavailable) as e:
        print(f"jscc-rt {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        from jscc_rt.baselines.codes import BaselineUnavailable  # imports no optional dependency

        if not isinstance(e, BaselineUnavailable):
            raise
        print(f"jscc-rt {args.command}: error: {e}", file=sys.stderr)
        return 2
