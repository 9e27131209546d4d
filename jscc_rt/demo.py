"""``make demo`` / ``jscc-rt demo``: the main job on embedded defaults, with no external data needed.

1. Link simulation summary (AWGN and Rayleigh fast fading, BER vs theory).
2. The shipped Deep JSCC model on the embedded images over AWGN and Rayleigh block fading: PSNR / SSIM / MS-SSIM vs
   SNR, a plot, and reconstructions.
3. A small latency-quality Pareto sweep of the flagship's diffusion receivers (the flagship's decoder fine-tuned behind
   its denoiser + the denoiser / the consistency student, decoder conditioned on the effective SNR) beside the flagship
   decoder alone: steps {0, 1, 2, 4} x {DDIM, consistency} x {torch, the fastest CPU backend here (OpenVINO bf16, or
   OpenVINO f32 on a CPU without bf16)} x SNR {0, 10} dB, plot and table.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from jscc_rt.data import sample_images, save_image
from jscc_rt.models.registry import shipped_weights
from jscc_rt.sim import simulate_link

DEMO_MODEL = "deepjscc-res-1_16"
FLAGSHIP = "unrolled-w128-1_16"
DIFF_MODEL, DIFF_DENOISER, DIFF_CONSISTENCY = (f"{FLAGSHIP}-behind-ddim1", f"denoiser-{FLAGSHIP}",
                                               f"consistency-{FLAGSHIP}")


def _print_sim(channel: str, block_len: int | None) -> None:
    rows = simulate_link(channel, [0.0, 5.0, 10.0], 1 << 17, block_len=block_len, seed=0)
    print(f"  {channel:8s} {'SNR':>5} {'meas.':>7} {'BPSK BER':>10} {'theory':>10} {'QPSK BER':>10} {'theory':>10}")
    for r in rows:
        print(f"  {'':8s} {r['snr_db']:5.1f} {r['measured_snr_db']:7.2f} {r['ber_bpsk']:10.3e} {r['ber_bpsk_theory']:10.3e} "
              f"{r['ber_qpsk']:10.3e} {r['ber_qpsk_theory']:10.3e}")


def run_demo(out: str | Path) -> int:
    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    print("== jscc-rt demo: link simulation (uncoded, 131072 symbols per SNR, seed 0) ==")
    _print_sim("awgn", None)
    _print_sim("rayleigh", 1)
    have = set(shipped_weights())
    if DEMO_MODEL not in have:
        print(f"(no shipped weights named {DEMO_MODEL}; train one with `jscc-rt train` to see the JSCC link)")
        return 0
    from jscc_rt.channel import ChannelConfig
    from jscc_rt.eval.report import run_eval
    from jscc_rt.models import load_model
    from jscc_rt.models.registry import resolve_checkpoint
    from jscc_rt.pipeline import Link

    print(f"\n== {DEMO_MODEL} on the embedded images (pass --data to `jscc-rt eval` for Kodak) ==")
    print(run_eval([DEMO_MODEL], data=None, snrs=[0.0, 5.0, 10.0, 20.0], channels=["awgn", "rayleigh"], draws=None,
                   out=str(out), show_progress=False))
    model = load_model(resolve_checkpoint(DEMO_MODEL))
    name, img = sample_images("auto")[0]
    link = Link(model, ChannelConfig("awgn"))
    with torch.no_grad():
        for snr in (0.0, 10.0):
            rec = link(img[None], snr, generator=torch.Generator().manual_seed(0)).images[0]
            save_image(rec.clamp(0, 1), out / f"{name}_awgn_{snr:g}dB.png")
    save_image(img, out / f"{name}_original.png")
    if {FLAGSHIP, DIFF_MODEL, DIFF_DENOISER, DIFF_CONSISTENCY} <= have:
        from jscc_rt.bench.pareto import run_pareto, write_outputs
        from jscc_rt.runtime.backends import fastest_cpu_backend

        print(f"\n== diffusion receiver Pareto sweep ({DIFF_MODEL} + {DIFF_DENOISER} / {DIFF_CONSISTENCY}; "
              f"{FLAGSHIP} decoder alone) ==")
        backends = tuple(dict.fromkeys(("torch", fastest_cpu_backend())))
        res = run_pareto(DIFF_MODEL, DIFF_DENOISER, DIFF_CONSISTENCY, data=None, steps=(0, 1, 2, 4),
                         backends=backends, snrs=(0.0, 10.0), iters=10, decoder_snr_db=None,
                         extra_models=(FLAGSHIP,), latency_snr=0.0,
                         progress=lambda s: print(f"  {s}", file=sys.stderr))
        print(write_outputs(res, out / "pareto"))
    print(f"\nwrote {out}/ (psnr_vs_snr.png, table.md, results.json, reconstructions of {name!r}, pareto/) "
          f"in {time.time() - t0:.0f} s")
    return 0
