"""A rate-adaptive model end to end: one exported graph per role serves every budget (a ``channels`` input); the
ONNX receiver, the torch ``Receiver`` and the simulated ``Link`` agree at three budgets; bad budgets are refused."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from jscc_rt import JsccInputError, JSCCConfig, JSCCModel, Receiver, save_model
from jscc_rt.cli import main
from jscc_rt.pipeline import Link

pytest.importorskip("onnxruntime")

BUDGETS = ("1/64", "1/16", "1/4")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ra")
    torch.manual_seed(0)
    m = JSCCModel(JSCCConfig.for_ratio("1/4", "unrolled", width=16, min_ratio="1/64"))
    for p in m.decoder.prox.c2.parameters():  # a prox that acts (zero at initialization)
        torch.nn.init.normal_(p, std=0.05)
    save_model(m, d / "ra.pt")
    assert main(["export", "onnx", "--model", str(d / "ra.pt"), "--out", str(d / "onnx"), "--precision", "fp32"]) == 0
    return d


def test_graphs_take_the_budget_as_an_input(model_dir: Path) -> None:
    onnx_dir = model_dir / "onnx"
    assert sorted(p.stem for p in onnx_dir.glob("*.onnx")) == ["decoder", "encoder", "receiver_decoder"]
    for name in ("encoder", "decoder", "receiver_decoder"):
        side = json.loads((onnx_dir / f"{name}.json").read_text())
        assert side["inputs"][-1] == "channels" and side["rate_adaptive"] and side["channels_range"] == [6, 96]


def _symbols(model: JSCCModel, x: torch.Tensor, snr: float, ratio: str, seed: int):
    with torch.no_grad():
        return Link(model)(x, snr, generator=torch.Generator().manual_seed(seed), ratio=ratio)


@pytest.mark.parametrize("ratio", BUDGETS)
def test_onnx_and_torch_receivers_match_the_link(model_dir: Path, ratio: str) -> None:
    from jscc_rt.models import load_model

    model = load_model(model_dir / "ra.pt").eval()
    x = torch.rand(2, 3, 32, 48)
    res = _symbols(model, x, 5.0, ratio, seed=1)
    assert Fraction(res.received.shape[1], 3 * 32 * 48) == Fraction(ratio)
    with Receiver.from_checkpoints(str(model_dir / "ra.pt")) as rt, \
            Receiver.from_onnx(model_dir / "onnx" / "receiver_decoder.onnx") as ro:
        a = rt(res.received, 5.0, (32, 48), ratio=ratio)
        b = ro(res.received, 5.0, (32, 48))
    torch.testing.assert_close(a, res.images, rtol=0, atol=1e-5)  # images (2, 3, 32, 48) float32, torch graph
    torch.testing.assert_close(b, res.images, rtol=0, atol=1e-4)  # onnxruntime fp32


def test_encoder_graph_sends_the_links_symbols(model_dir: Path) -> None:
    from jscc_rt.models import load_model
    from jscc_rt.runtime import OnnxRuntimeRunner

    model = load_model(model_dir / "ra.pt").eval()
    x, snr = torch.rand(1, 3, 32, 48), torch.tensor([3.0])
    with OnnxRuntimeRunner(model_dir / "onnx" / "encoder.onnx") as enc:
        for ratio in BUDGETS:
            c = int(Fraction(ratio) * 384)
            s = enc.infer({"images": x, "snr_db": snr, "channels": torch.tensor([float(c)])})["symbols"]
            assert not s[:, c:].any()  # nothing is sent past the budget
            with torch.no_grad():
                ref = model.transmit(x, snr)  # all channels: compare the prefix normalized on its own
                z, _ = model.encode_latent(x, snr)
            from jscc_rt.channel import power_normalize, to_symbols

            want = power_normalize(to_symbols(z[:, :c]))
            torch.testing.assert_close(to_symbols(s[:, :c]), want, rtol=0, atol=1e-5)  # symbols (1, k, 2)
            assert ref.shape[1] == 96 * 4 * 6 // 2


def test_export_check_passes_at_three_budgets(model_dir: Path, tmp_path: Path) -> None:
    assert main(["export", "check", "--onnx-dir", str(model_dir / "onnx"), "--max-images", "1",
                 "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "check.json").read_text())["parity"]
    assert sorted({r["ratio"] for r in rows}) == sorted(["1/64", "1/16", "1/4"])
    assert all(r["psnr_delta_db"] < 0.01 for r in rows)


def test_bad_budgets_name_the_values(model_dir: Path) -> None:
    x = torch.rand(1, 3, 32, 48)
    res = _symbols(JSCCModel(JSCCConfig.for_ratio("1/4", "unrolled", width=16, min_ratio="1/64")), x, 5.0, "1/16", 0)
    with Receiver.from_checkpoints(str(model_dir / "ra.pt")) as rx:
        with pytest.raises(JsccInputError, match=r"do not match the announced ratio 1/8"):
            rx(res.received, 5.0, (32, 48), ratio="1/8")
        with pytest.raises(JsccInputError, match=r"no budget of this rate-adaptive model.*even c in \[6, 96\]"):
            rx(res.received[:, :-12], 5.0, (32, 48))  # 23 channels: off the 2-channel granularity
        with pytest.raises(JsccInputError, match=r"no budget"):
            rx(torch.randn(1, 4 * 6 * 2 // 2, 2), 5.0, (32, 48))  # 2 channels, below the range
    with pytest.raises(JsccInputError, match="no diffusion receiver"):
        Receiver.from_checkpoints(str(model_dir / "ra.pt"), "denoiser-vae-1_16", steps=2)
