"""``jscc-rt eval jscc|diffusion|unrolled|noma|zoom|compare`` (today's spellings ``eval``, ``eval-diffusion``,
``eval-unrolled`` and ``eval-noma`` stay as aliases)."""
from __future__ import annotations

import argparse

from jscc_rt.cli.common import add_decoder_snr, add_image_args, add_kind_group, emit

#: ``jscc-rt eval KIND``: what each kind reports.
KINDS = {"jscc": "PSNR / SSIM / MS-SSIM / FLIP vs SNR tables, per-image rows and a plot for trained models",
         "diffusion": "decoder alone vs DDIM / consistency receivers vs a pure-noise start",
         "unrolled": "model-based receiver: learned step sizes and PSNR per iteration",
         "noma": "NOMA: each user's PSNR vs SNR and power split (students vs teacher)",
         "zoom": "side-by-side reconstructions of one image with a zoom-in, one row per receiver",
         "compare": "a rate-adaptive model vs fixed-rate comparators per budget, from `eval jscc` results"}


def add(sub: argparse._SubParsersAction) -> None:
    adders = {"jscc": _add_jscc, "diffusion": _add_diffusion, "unrolled": _add_unrolled, "noma": _add_noma,
              "zoom": _add_zoom, "compare": _add_compare}
    add_kind_group(sub, "eval", {k: (h, adders[k]) for k, h in KINDS.items()}, ("diffusion", "unrolled", "noma"))


def _add_jscc(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoints", nargs="+", help="model .pt files (or names of shipped weights, e.g. deepjscc-1_16)")
    p.add_argument("--data", default=None, help="any image folder (the set is named after it; 'kodak' for exactly "
                   "kodim01..24) or a root holding kodak/ (default: $JSCC_DATA, else embedded images)")
    add_image_args(p)
    p.add_argument("--snr", type=float, nargs="+", default=[-5.0, 0.0, 5.0, 10.0, 15.0, 20.0])
    p.add_argument("--channel", choices=("awgn", "rayleigh"), nargs="+", default=["awgn", "rayleigh"])
    p.add_argument("--ratios", nargs="+", default=None,
                   help="budgets k/n for rate-adaptive models (default: each one's ladder 1/64..1/4 in range); "
                        "fixed-rate models run at their own ratio; writes psnr_vs_ratio.png with --out")
    p.add_argument("--draws", type=int, default=None, help="channel draws per image (default 1 AWGN, 4 Rayleigh)")
    p.add_argument("--equalizer", choices=("zf", "mmse"), default="zf")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="folder for results.json, table.md and psnr_vs_snr.png")
    p.add_argument("--published", default=None,
                   help="anchors JSON (e.g. docs/published/published_kodak.json): plot its curves beside ours, "
                        "labelled as published")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_jscc)


def _cmd_jscc(a: argparse.Namespace) -> int:
    from jscc_rt.eval.report import run_eval

    table = run_eval(a.checkpoints, data=a.data, snrs=a.snr, channels=a.channel, draws=a.draws,
                     equalizer=a.equalizer, seed=a.seed, out=a.out, show_progress=not a.no_progress,
                     max_images=a.max_images, save_recon=a.save_recon, max_pixels=a.max_pixels, published=a.published,
                     ratios=a.ratios)
    print(table)
    return 0


def _add_diffusion(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="JSCC checkpoint or shipped name")
    p.add_argument("--denoiser", default=None)
    p.add_argument("--consistency", default=None)
    p.add_argument("--data", default=None, help="any image folder or a root holding kodak/ (default: $JSCC_DATA, "
                   "else embedded images)")
    p.add_argument("--channel", choices=("awgn", "rayleigh"), default="awgn")
    p.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0, 10.0])
    p.add_argument("--ddim-steps", type=int, nargs="*", default=[1, 2, 4, 8, 16, 50])
    p.add_argument("--cm-steps", type=int, nargs="*", default=[1, 2, 4])
    p.add_argument("--cm-eta", type=float, nargs="+", default=[0.0],
                   help="consistency re-noising: 0 deterministic (default), 1 fresh noise (Song et al.); several "
                        "values run the ablation")
    p.add_argument("--noise-start-steps", type=int, nargs="*", default=None,
                   help="DDIM steps from pure noise, the prior's health check (default 16; none on a compressed link)")
    p.add_argument("--snr-error", type=float, nargs="+", default=[0.0],
                   help="receiver SNR estimate minus the true SNR (dB), e.g. -3 0 3: every receiver runs at each")
    p.add_argument("--csi-err-var", type=float, default=0.0, help="Rayleigh: channel-estimate error variance")
    p.add_argument("--block-len", type=int, default=None, help="Rayleigh: symbols per fading block (default: one coefficient per image)")
    p.add_argument("--upsampler-start", nargs="+", choices=("calibrated", "upsampler", "forward"),
                   default=["calibrated"],
                   help="compressed link (vae-x2/-x4): where diffusion starts after the upsampler; 'calibrated' = its "
                        "error variance measured per SNR on --calib-data, 'forward' = the upsampler fitted there as a "
                        "forward channel m = c x0 + w (divided by c, noise Var(w)/c^2), 'upsampler' = its own "
                        "log-variance; several run the ablation")
    p.add_argument("--calib-data", default=None,
                   help="training photos the calibrated start is measured on (e.g. ../shared/data/photos)")
    add_decoder_snr(p)
    add_image_args(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write diffusion.json and diffusion.md here")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_diffusion)


def _cmd_diffusion(a: argparse.Namespace) -> int:
    from jscc_rt.eval.diffusion_eval import diffusion_markdown, run_diffusion_eval

    rows = run_diffusion_eval(a.model, a.denoiser, a.consistency, data=a.data, snrs=a.snr, ddim_steps=a.ddim_steps,
                              cm_steps=a.cm_steps, noise_start_steps=a.noise_start_steps, channel=a.channel,
                              max_images=a.max_images, seed=a.seed, decoder_snr_db=a.decoder_snr,
                              show_progress=not a.no_progress, max_pixels=a.max_pixels, save_recon=a.save_recon,
                              snr_errors_db=a.snr_error, csi_err_var=a.csi_err_var, block_len=a.block_len,
                              cm_etas=a.cm_eta, upsampler_starts=a.upsampler_start, calib_data=a.calib_data,
                              out=a.out)
    return emit(a.out, "diffusion", rows, diffusion_markdown(rows))


def _add_unrolled(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint")
    p.add_argument("--data", default=None)
    p.add_argument("--snr", type=float, nargs="+", default=[0.0, 10.0, 20.0])
    p.add_argument("--out", default=None, help="write unrolled.json, unrolled.md and unrolled.png here")
    p.set_defaults(func=_cmd_unrolled)


def _cmd_unrolled(a: argparse.Namespace) -> int:
    from jscc_rt.eval.unrolled_report import run_unrolled_report

    print(run_unrolled_report(a.checkpoint, a.data, a.snr, a.out))
    return 0


def _add_noma(p: argparse.ArgumentParser) -> None:
    p.add_argument("students", nargs="+", help="train-noma model.pt files")
    p.add_argument("--teacher", default=None, help="single-user reference to evaluate beside")
    p.add_argument("--data", default=None)
    p.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0, 10.0, 15.0, 20.0])
    p.add_argument("--split", type=float, nargs="+", default=[0.7, 0.8, 0.9], help="user 1's power share a1")
    p.add_argument("--channel", default="awgn", choices=["awgn", "rayleigh"])
    p.add_argument("--out", default=None)
    p.set_defaults(func=_cmd_noma)


def _cmd_noma(a: argparse.Namespace) -> int:
    from jscc_rt.eval.noma_report import run_noma_report

    print(run_noma_report(a.students, a.teacher, a.data, a.snr, a.split, a.channel, a.out))
    return 0


def _add_zoom(p: argparse.ArgumentParser) -> None:
    p.add_argument("receivers", nargs="+", help="MODEL, MODEL@RATIO or MODEL+DENOISER:SAMPLER:STEPS")
    p.add_argument("--data", default=None, help="image folder (default: $JSCC_DATA's kodak, else embedded images)")
    p.add_argument("--image", default=None, help="image name in the set (e.g. kodim23; default: the first)")
    p.add_argument("--snr", type=float, default=0.0)
    p.add_argument("--box", type=int, nargs=4, default=[192, 320, 96, 128], metavar=("TOP", "LEFT", "H", "W"),
                   help="zoom region in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="PNG path of the figure")
    p.set_defaults(func=_cmd_zoom)


def _cmd_zoom(a: argparse.Namespace) -> int:
    import json

    from jscc_rt.eval.zoom import run_zoom

    rows = run_zoom(a.receivers, data=a.data, image=a.image, snr_db=a.snr, box=a.box, out=a.out, seed=a.seed)
    print(json.dumps({"out": a.out, "psnr": rows}))
    return 0


def _add_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("--adaptive", required=True, help="results folder of the rate-adaptive model (`eval jscc --ratios`)")
    p.add_argument("--fixed", nargs="+", required=True, help="results folders of fixed-rate comparators, one budget each")
    p.add_argument("--snr", type=float, nargs="+", default=None, help="SNRs to compare (default: all of --adaptive's)")
    p.add_argument("--channel", choices=("awgn", "rayleigh"), default="awgn")
    p.add_argument("--margin-db", type=float, default=0.5, help="the verdict's PSNR margin (dB)")
    p.add_argument("--out", default=None, help="also write the markdown here")
    p.set_defaults(func=_cmd_compare)


def _cmd_compare(a: argparse.Namespace) -> int:
    from pathlib import Path

    from jscc_rt.eval.comparators import compare, markdown

    md = markdown(compare(a.adaptive, a.fixed, snrs_db=a.snr, channel=a.channel), a.margin_db)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(md)
    print(md, end="")
    return 0
