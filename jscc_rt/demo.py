"""``make demo`` / ``jscc-rt demo``: the main job on embedded defaults, with no external data needed.

1. Link simulation summary (AWGN and Rayleigh fast fading, BER vs theory).
2. With the shipped Deep JSCC weights: PSNR / MS-SSIM vs SNR on the embedded images over AWGN and Rayleigh block
   fading, a plot, and one reconstructed image per SNR written to ``out``.
"""
from __future__ import annotations

from pathlib import Path

import torch

from jscc_rt.data import sample_images, save_image
from jscc_rt.models.registry import shipped_weights
from jscc_rt.sim import simulate_link

DEMO_MODEL = "deepjscc-1_16"


def _print_sim(channel: str, block_len: int | None) -> None:
    rows = simulate_link(channel, [0.0, 5.0, 10.0], 1 << 17, block_len=block_len, seed=0)
    print(f"  {channel:8s} {'SNR':>5} {'meas.':>7} {'BPSK BER':>10} {'theory':>10} {'QPSK BER':>10} {'theory':>10}")
    for r in rows:
        print(f"  {'':8s} {r['snr_db']:5.1f} {r['measured_snr_db']:7.2f} {r['ber_bpsk']:10.3e} {r['ber_bpsk_theory']:10.3e} "
              f"{r['ber_qpsk']:10.3e} {r['ber_qpsk_theory']:10.3e}")


def run_demo(out: str | Path) -> int:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    print("== jscc-rt demo: link simulation (uncoded, 131072 symbols per SNR, seed 0) ==")
    _print_sim("awgn", None)
    _print_sim("rayleigh", 1)
    if DEMO_MODEL not in shipped_weights():
        print(f"(no shipped weights named {DEMO_MODEL}; train one with `jscc-rt train` to see the JSCC link)")
        return 0
    from jscc_rt.eval.report import run_eval

    print(f"\n== {DEMO_MODEL} on the embedded images (pass --data to `jscc-rt eval` for Kodak) ==")
    print(run_eval([DEMO_MODEL], data=None, snrs=[0.0, 5.0, 10.0, 20.0], channels=["awgn", "rayleigh"], draws=None,
                   out=str(out), show_progress=False))
    from jscc_rt.channel import ChannelConfig
    from jscc_rt.models import load_model
    from jscc_rt.models.registry import resolve_checkpoint
    from jscc_rt.pipeline import Link

    model = load_model(resolve_checkpoint(DEMO_MODEL))
    name, img = sample_images("auto")[0]
    link = Link(model, ChannelConfig("awgn"))
    with torch.no_grad():
        for snr in (0.0, 10.0):
            rec = link(img[None], snr, generator=torch.Generator().manual_seed(0)).images[0]
            save_image(rec.clamp(0, 1), out / f"{name}_awgn_{snr:g}dB.png")
    save_image(img, out / f"{name}_original.png")
    print(f"\nwrote {out}/psnr_vs_snr.png, table.md, results.json and reconstructions of {name!r}")
    return 0
