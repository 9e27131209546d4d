"""Shipped weights: every file is documented in TRAINING.md with the sha256 it has, and the JSCC models keep their
measured quality on the embedded images (PSNR floors at 10 dB AWGN), so a corrupt or swapped file fails here."""
from __future__ import annotations

import re

import pytest

from jscc_rt.channel import ChannelConfig
from jscc_rt.eval.evaluate import evaluate, summarize
from jscc_rt.models import load_model
from jscc_rt.models.checkpoint import file_sha256
from jscc_rt.models.registry import WEIGHTS_DIR, shipped_weights

DOC = (WEIGHTS_DIR / "TRAINING.md").read_text()

#: PSNR (dB) on the four embedded natural images, AWGN 10 dB, seed 123, measured with the shipped files by the
#: test's own call below; the floors sit 0.3 dB under these, for numerics across CPUs.
FLOORS_10DB = {"deepjscc-1_16": 24.65, "deepjscc-res-1_16": 28.19, "unrolled-1_16": 26.85, "unrolled-w64-1_16": 28.95,
               "vae-1_6": 26.25, "unrolled-w128-1_16": 30.58, "unrolled-w128-1_12": 31.16,
               "unrolled-w128-1_64-1_4": 33.24}  # at its largest ratio, 1/4


def test_every_shipped_file_is_documented_with_its_sha256() -> None:
    documented = dict(re.findall(r"## `([\w.-]+)\.pt`\n(?:.*\n)*?- sha256: `([0-9a-f]{64})`", DOC))
    names = shipped_weights()
    assert names, "no shipped weights found"
    for name in names:
        assert name in documented, f"{name}.pt has no section with a sha256 in TRAINING.md"
        digest = file_sha256(WEIGHTS_DIR / f"{name}.pt")
        assert digest == documented[name], f"{name}.pt sha256 {digest} differs from TRAINING.md"


@pytest.mark.parametrize("name", sorted(FLOORS_10DB))
def test_shipped_jscc_models_keep_their_quality(name: str) -> None:
    pytest.importorskip("skimage")
    from jscc_rt.data import sample_images

    model = load_model(WEIGHTS_DIR / f"{name}.pt").eval()
    rows = evaluate(model, sample_images("natural"), [10.0], ChannelConfig("awgn"), seed=123, metrics=("psnr",))
    psnr = summarize(rows, ("psnr",))[0]["psnr"]
    measured = FLOORS_10DB[name]
    assert psnr >= measured - 0.3, (name, psnr, measured)


#: The flagship's shipped diffusion receivers behind its fine-tuned decoder on the four embedded natural images, AWGN
#: 0 dB, seed 123, PSNR (dB) measured with the shipped files by the test's own call below; floors 0.3 dB under.
FLAGSHIP_RX = "unrolled-w128-1_16-behind-ddim1"
FLOORS_RX_0DB = {("ddim", 1): 27.09, ("consistency", 1): 27.08, ("consistency", 2): 27.10, ("consistency", 4): 27.10}


def _rx_psnr(sampler: str, steps: int) -> float:
    from jscc_rt.data import sample_images
    from jscc_rt.eval.diffusion_eval import build_link, eval_link

    den = "denoiser-unrolled-w128-1_16" if sampler == "ddim" else "consistency-unrolled-w128-1_16"
    link = build_link(FLAGSHIP_RX, den, sampler, steps, decoder_snr_db=None)
    row, = eval_link(link, None, [0.0], seed=123, images=("natural", sample_images("natural")))
    return row["psnr"]


def test_shipped_flagship_receivers_keep_their_quality_and_the_student_does_not_fall_with_steps() -> None:
    pytest.importorskip("skimage")
    got = {k: _rx_psnr(*k) for k in FLOORS_RX_0DB}
    for k, measured in FLOORS_RX_0DB.items():
        assert got[k] >= measured - 0.3, (k, got[k], measured)
    c = [got[("consistency", n)] for n in (1, 2, 4)]
    assert c[1] >= c[0] - 0.01 and c[2] >= c[1] - 0.01, c  # #16: multistep consistency is non-decreasing in steps
