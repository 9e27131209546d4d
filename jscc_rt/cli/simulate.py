"""``jscc-rt simulate``: the channel alone (measured SNR and uncoded BER vs closed forms) or a model's image link."""
from __future__ import annotations

import argparse
import json


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="link-level simulation: uncoded BER and measured SNR vs theory, or a model's link")
    p.add_argument("--channel", choices=("awgn", "rayleigh"), default="awgn")
    p.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0, 10.0], help="SNRs in dB")
    p.add_argument("--symbols", type=int, default=1 << 18, help="complex symbols per SNR")
    p.add_argument("--block-len", type=int, default=None, help="Rayleigh: symbols per fading block (1 = fast fading)")
    p.add_argument("--csi-err-var", type=float, default=0.0, help="Rayleigh: channel-estimation error variance")
    p.add_argument("--equalizer", choices=("zf", "mmse"), default="zf")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--model", default=None, help="JSCC checkpoint (or shipped name): simulate the image link instead")
    p.add_argument("--denoiser", default=None, help="denoiser or consistency checkpoint for the diffusion receiver")
    p.add_argument("--steps", type=int, default=0, help="diffusion steps (0: JSCC decoder alone)")
    p.add_argument("--sampler", choices=("ddim", "ddpm", "consistency"), default="ddim")
    p.add_argument("--data", default=None, help="image folder / data root (default: $JSCC_DATA, else embedded)")
    p.add_argument("--max-images", type=int, default=None, help="--model: evaluate only the first N images")
    p.set_defaults(func=_cmd_simulate)


def _cmd_simulate(a: argparse.Namespace) -> int:
    from jscc_rt._validate import check_block_len, check_csi_err_var, check_int, check_snr_db
    from jscc_rt.sim import simulate_link

    check_snr_db(a.snr, len(a.snr), name="snr_db")
    check_block_len(a.block_len)
    check_csi_err_var(a.csi_err_var)
    check_int(a.symbols, "--symbols", minimum=1)
    if a.model is not None:
        return _simulate_model(a)
    rows = simulate_link(a.channel, a.snr, a.symbols, block_len=a.block_len, csi_err_var=a.csi_err_var,
                         equalizer=a.equalizer, seed=a.seed)
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"link simulation: {a.channel}, {a.symbols} symbols/SNR, equalizer={a.equalizer}, seed={a.seed}")
    print(f"{'SNR dB':>7} {'meas. SNR':>10} {'post-eq SNR':>12} {'BPSK BER':>10} {'theory':>10} {'QPSK BER':>10} {'theory':>10}")
    for r in rows:
        print(f"{r['snr_db']:7.1f} {r['measured_snr_db']:10.3f} {r['post_eq_snr_db']:12.3f} {r['ber_bpsk']:10.3e} "
              f"{r['ber_bpsk_theory']:10.3e} {r['ber_qpsk']:10.3e} {r['ber_qpsk_theory']:10.3e}")
    return 0


def _simulate_model(a: argparse.Namespace) -> int:
    from jscc_rt.eval.diffusion_eval import build_link, eval_link

    link = build_link(a.model, a.denoiser, a.sampler, a.steps, channel=a.channel, block_len=a.block_len,
                      csi_err_var=a.csi_err_var, equalizer=a.equalizer)
    rows = eval_link(link, a.data, a.snr, seed=a.seed, max_images=a.max_images)
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    what = "JSCC decoder alone" if a.steps == 0 or a.denoiser is None else f"{a.sampler} x {a.steps} steps"
    print(f"image link: {a.model}, {a.channel}, receiver: {what}, images: {rows[0]['eval_set']} ({rows[0]['n']})")
    print(f"{'SNR dB':>7} {'PSNR dB':>8} {'MS-SSIM':>8} {'ms/img':>8}")
    for r in rows:
        ms = "n/a" if r["ms_ssim"] is None else f"{r['ms_ssim']:.4f}"
        print(f"{r['snr_db']:7.1f} {r['psnr']:8.2f} {ms:>8} {r['latency_ms']:8.1f}")
    return 0
