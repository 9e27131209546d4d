"""``jscc-rt baselines``: separate source-channel coding (codec + 5G LDPC / Polar + QAM) vs SNR."""
from __future__ import annotations

import argparse
import json
import sys

from jscc_rt._validate import JsccInputError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("baselines", help="separate source-channel coding (JPEG/AVIF + 5G LDPC/Polar + QAM) vs SNR")
    p.add_argument("--data", default=None, help="Kodak folder or data root (default: $JSCC_DATA, else embedded)")
    p.add_argument("--chains", nargs="+", default=["jpeg+ldpc", "avif+ldpc", "avif+polar"],
                   help="codec+code pairs; codecs jpeg/webp/avif, codes ldpc/polar")
    p.add_argument("--channel", nargs="+", default=["awgn", "rayleigh"], choices=["awgn", "rayleigh"])
    p.add_argument("--snr", type=float, nargs="+", default=[-5, 0, 5, 10, 15, 20])
    p.add_argument("--ratio", default="1/16", help="bandwidth ratio k/n")
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--save-recon", type=int, default=0, metavar="N",
                   help="write the received images (decoded or concealed) and original|received strips of the N worst "
                        "and N best images per chain, channel and SNR to OUT/recon/")
    p.add_argument("--threshold-blocks", type=int, default=100, help="blocks per waterfall probe")
    p.add_argument("--thresholds", default=None, help="reuse the thresholds of an earlier baselines.json")
    p.add_argument("--jscc-results", nargs="*", default=[],
                   help="jscc-rt eval / eval-diffusion / bench pareto JSON to plot beside")
    p.add_argument("--jscc-curves", nargs="*", default=None,
                   help="plot only these curves from --jscc-results (e.g. deepjscc-1_16 'ddim x4')")
    p.add_argument("--from-json", nargs="*", default=None,
                   help="do not simulate: merge these baselines.json files and write the table and plots again")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--out", default="out/baselines")
    p.set_defaults(func=_cmd_baselines)


def _cmd_baselines(a: argparse.Namespace) -> int:
    from pathlib import Path

    from jscc_rt.baselines.report import merge_results, run_baselines, write_outputs
    from jscc_rt.models.config import parse_ratio

    if a.from_json:
        print(write_outputs(merge_results([json.loads(Path(f).read_text()) for f in a.from_json]), a.out,
                            a.jscc_results, a.jscc_curves))
        return 0
    chains = []
    for c in a.chains:
        codec, _, code = c.partition("+")
        if codec not in ("jpeg", "webp", "avif") or code not in ("ldpc", "polar"):
            raise JsccInputError(f"--chains entry {c!r} must be CODEC+CODE with CODEC jpeg/webp/avif, CODE ldpc/polar")
        chains.append((codec, code))
    th = json.loads(Path(a.thresholds).read_text())["thresholds"] if a.thresholds else None
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    from jscc_rt._partial import PartialRows
    from jscc_rt.eval.recon import ReconSaver, check_save_recon

    n_recon = check_save_recon(a.save_recon, a.out)
    partial = PartialRows(a.out, "baselines")
    res = run_baselines(a.data, chains=chains, channels=a.channel, snrs=a.snr, ratio=float(parse_ratio(a.ratio)),
                        max_images=a.max_images, seed=a.seed, thresholds=th, threshold_blocks=a.threshold_blocks,
                        progress=lambda s: print(f"  {s}", file=sys.stderr, flush=True), on_rows=partial.add,
                        recon=ReconSaver(Path(a.out) / "recon", n_recon) if n_recon else None)
    print(write_outputs(res, a.out, a.jscc_results, a.jscc_curves))
    partial.finish()
    return 0
