"""Residual Deep JSCC (arch "res"): shapes and power at both ratios, SNR adaptivity, config errors, ONNX parity."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.channel import average_power
from jscc_rt.models import JSCCConfig, JSCCModel, load_model, save_model


@pytest.mark.parametrize("model", ["deepjscc", "vae"])
@pytest.mark.parametrize("ratio", ["1/16", "1/6"])
def test_res_shapes_ratio_and_power(model: str, ratio: str) -> None:
    cfg = JSCCConfig.for_ratio(ratio, model, width=32, arch="res")
    m = JSCCModel(cfg).eval()
    x, snr = torch.rand(2, 3, 64, 96), torch.tensor([0.0, 10.0])
    s = m.transmit(x, snr)
    assert s.shape == (2, int(Fraction(ratio) * 3 * 64 * 96), 2)
    torch.testing.assert_close(average_power(s), torch.ones(2))
    with torch.no_grad():
        out = m.receive(s, snr, (64, 96))
        other = m.receive(s, torch.tensor([20.0, 20.0]), (64, 96))
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    assert not torch.allclose(out, other)  # the decoder is SNR-conditioned too


def test_res_features_and_checkpoint_roundtrip(tmp_path: Path) -> None:
    m = JSCCModel(JSCCConfig(arch="res", width=16, latent_channels=8)).eval()
    feats: list[torch.Tensor] = []
    z = torch.randn(1, 8, 4, 6)
    m.decoder(z, torch.zeros(1), features=feats)
    assert [tuple(f.shape[1:]) for f in feats] == [(16, 4, 6), (8, 8, 12), (8, 16, 24)]
    back = load_model(save_model(m, tmp_path / "r.pt"))
    assert back.config.arch == "res"
    with torch.no_grad():
        torch.testing.assert_close(back.decoder(z, torch.zeros(1)), m.decoder(z, torch.zeros(1)), rtol=0, atol=0)


def test_old_checkpoints_without_arch_load_as_gdn() -> None:
    d = JSCCConfig(width=16).to_dict()
    del d["arch"]
    assert JSCCConfig.from_dict(d).arch == "gdn"


def test_res_bad_config() -> None:
    with pytest.raises(JsccInputError, match="unknown arch 'swin'"):
        JSCCConfig(arch="swin")  # type: ignore[arg-type]
    with pytest.raises(JsccInputError, match="arch 'res' is for deepjscc/vae with downsample 8"):
        JSCCConfig(arch="res", downsample=4, latent_channels=6)
    with pytest.raises(JsccInputError, match="width a multiple of 4"):
        JSCCConfig(arch="res", width=18)
    with pytest.raises(JsccInputError, match="arch 'res'"):
        JSCCConfig(model="unrolled", arch="res", width=16)


def test_res_onnx_parity(tmp_path: Path) -> None:
    """Encoder and decoder graphs of the res arch: onnxruntime vs torch, max |diff| <= 1e-4 on [0, 1] images."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from jscc_rt.export.onnx_export import export_all

    torch.manual_seed(0)
    m = JSCCModel(JSCCConfig(arch="res", width=16, latent_channels=8)).eval()
    ck = save_model(m, tmp_path / "r.pt")
    export_all(str(ck), None, tmp_path / "onnx")
    x, snr = torch.rand(1, 3, 48, 80), torch.tensor([5.0])
    with torch.no_grad():
        z = m.transmit_latent(x, snr)
        img = m.decoder(z, snr)

    def run(graph: str, *feeds: torch.Tensor):
        sess = ort.InferenceSession(str(tmp_path / "onnx" / f"{graph}.onnx"), providers=["CPUExecutionProvider"])
        return sess.run(None, {i.name: f.numpy() for i, f in zip(sess.get_inputs(), feeds)})[0]

    sym = run("encoder", x, snr)
    assert sym.shape == tuple(z.shape) and float(abs(sym - z.numpy()).max()) <= 1e-4  # symbols (latent layout)
    out = run("decoder", z, snr)
    assert out.shape == (1, 3, 48, 80) and float(abs(out - img.numpy()).max()) <= 1e-4  # images
