"""``jscc-rt eval zoom``: one image through several receivers, a figure with zoomed crops, PSNRs that match the
link, and bad receivers / boxes / images refused before anything runs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from jscc_rt import JsccInputError
from jscc_rt.cli import main
from jscc_rt.eval.zoom import parse_receiver


@pytest.fixture(autouse=True)
def _no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)


def test_parse_receiver_forms() -> None:
    assert parse_receiver("unrolled-1_16")["steps"] == 0
    assert parse_receiver("ra@1/8")["ratio"] == "1/8"
    r = parse_receiver("vae-1_16+consistency-vae-1_16:consistency:2")
    assert (r["model"], r["denoiser"], r["sampler"], r["steps"]) == ("vae-1_16", "consistency-vae-1_16",
                                                                     "consistency", 2)
    for bad in ("", "+d:ddim:2", "m+d:ddpm:2", "m+d:ddim", "m+d:ddim:x"):
        with pytest.raises(JsccInputError, match="MODEL"):
            parse_receiver(bad)


def test_figure_and_psnr_match_the_link(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("matplotlib")
    from jscc_rt.data import eval_images
    from jscc_rt.eval.diffusion_eval import build_link
    from jscc_rt.eval.metrics import psnr

    out = tmp_path / "zoom.png"
    assert main(["eval", "zoom", "unrolled-1_16", "deepjscc-1_16", "--snr", "0", "--box", "16", "16", "64", "64",
                 "--out", str(out)]) == 0
    rows = json.loads(capsys.readouterr().out)["psnr"]
    assert out.stat().st_size > 10000 and [r["receiver"] for r in rows] == ["unrolled-1_16", "deepjscc-1_16"]
    _, imgs = eval_images(None)
    img = imgs[0][1]
    with torch.no_grad():
        rec = build_link("unrolled-1_16", None, "ddim", 0)(img[None], 0.0, generator=torch.Generator().manual_seed(0))
    assert rows[0]["psnr"] == pytest.approx(float(psnr(img[None], rec.images.clamp(0, 1))[0]), abs=1e-4)


@pytest.mark.parametrize("args, match", [
    (["unrolled-1_16", "--box", "0", "0", "4", "4"], "at least 8x8"),
    (["unrolled-1_16", "--box", "0", "0", "64", "100000"], "inside"),
    (["unrolled-1_16", "--image", "nope"], "not in"),
    (["m+d:ddpm:2"], "MODEL"),
])
def test_bad_input_exits_2(args: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", "zoom", *args, "--out", str(tmp_path / "z.png")]) == 2
    assert match in capsys.readouterr().err and not (tmp_path / "z.png").exists()
