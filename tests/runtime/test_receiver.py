"""jscc_rt.Receiver: torch and onnxruntime runners agree with the Link; input validation; runner contract."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jscc_rt import ChannelConfig, JSCCConfig, JSCCModel, JsccInputError, Link, Receiver, save_model
from jscc_rt.channel import draw_rayleigh_blocks
from jscc_rt.channel.complex_ops import cmul
from jscc_rt.runtime import OnnxRuntimeRunner, TorchRunner


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rx")
    torch.manual_seed(1)
    return save_model(JSCCModel(JSCCConfig(width=16)), d / "jscc.pt")


def test_receiver_matches_link_decoder_awgn(ckpt: Path) -> None:
    from jscc_rt.models import load_model

    m = load_model(ckpt)
    x = torch.rand(2, 3, 32, 40)
    snr = torch.tensor([0.0, 10.0])
    with torch.no_grad():
        s = m.transmit(x, snr)
        noise = torch.randn(s.shape, generator=torch.Generator().manual_seed(0))
        y = s + (10 ** (-snr / 10) / 2).sqrt().view(-1, 1, 1) * noise
        ref = m.receive(y, snr, (32, 40))
    rx = Receiver.from_checkpoints(str(ckpt))
    torch.testing.assert_close(rx(y, snr, (32, 40)), ref, rtol=1e-5, atol=1e-5)


def test_receiver_equalizes_raw_fading_symbols(ckpt: Path) -> None:
    from jscc_rt.models import load_model

    m = load_model(ckpt)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        s = m.transmit(x, torch.tensor([10.0]))
    d = draw_rayleigh_blocks(1, s.shape[1], block_len=None, generator=torch.Generator().manual_seed(2))
    raw = cmul(d.h.expand_as(s), s)  # noiseless, to compare exactly with the decoder on clean symbols
    rx = Receiver.from_checkpoints(str(ckpt))
    out = rx(raw, 40.0, (32, 32), h_hat=d.h_hat)
    snr_eff = 40.0 + 10 * torch.log10(d.h_hat.square().sum(-1)).view(1)
    with torch.no_grad():
        ref = m.receive(s, snr_eff, (32, 32))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_receiver_validation(ckpt: Path) -> None:
    rx = Receiver.from_checkpoints(str(ckpt))
    good = torch.randn(1, 24 * 4 * 4 // 2, 2)
    with pytest.raises(JsccInputError, match="do not match image_size"):
        rx(good, 5.0, (32, 40))
    with pytest.raises(JsccInputError, match="multiples of the stride 8"):
        rx(good, 5.0, (30, 32))
    with pytest.raises(JsccInputError, match="snr_db must lie"):
        rx(good, 55.0, (32, 32))
    with pytest.raises(JsccInputError, match="last dimension 2"):
        rx(torch.randn(1, 192, 3), 5.0, (32, 32))
    bad = good.clone()
    bad[0, 0, 0] = float("inf")
    with pytest.raises(JsccInputError, match="non-finite"):
        rx(bad, 5.0, (32, 32))
    with pytest.raises(JsccInputError, match="zero channel estimate"):
        rx(good, 5.0, (32, 32), h_hat=torch.zeros(1, 1, 2))


def test_runner_contract(ckpt: Path, tmp_path: Path) -> None:
    from jscc_rt.models import load_model
    from jscc_rt.runtime.graphs import DecoderGraph

    r = TorchRunner(DecoderGraph(load_model(ckpt)), ["received", "snr_db"])
    with pytest.raises(RuntimeError, match="load"):
        r.infer({"received": torch.zeros(1, 24, 2, 2), "snr_db": torch.zeros(1)})
    with r:
        with pytest.raises(KeyError, match="snr_db"):
            r.infer({"received": torch.zeros(1, 24, 2, 2)})
        assert r.infer({"received": torch.zeros(1, 24, 2, 2), "snr_db": torch.zeros(1)})["images"].shape == (1, 3, 16, 16)
    assert not r.loaded
    with pytest.raises(FileNotFoundError, match="jscc-rt export onnx"):
        OnnxRuntimeRunner(tmp_path / "missing.onnx").load()


def test_bf16_backend_on_a_cpu_without_bf16_names_the_f32_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """On a CPU without avx512_bf16 / AMX (an AVX2 EPYC, say) asking for ``openvino-bf16`` is refused before any graph
    is read, naming the backend, the missing instructions and the backend to use instead."""
    pytest.importorskip("openvino")
    from jscc_rt.runtime import backends
    from jscc_rt.runtime.base import RunnerUnavailable

    monkeypatch.setattr(backends, "cpu_has_bf16", lambda: False)
    with pytest.raises(RunnerUnavailable, match=r"backend openvino-bf16: this CPU has no bf16 .*use 'openvino' \(f32\)"):
        Receiver.from_onnx(tmp_path / "absent.onnx", backend="openvino-bf16")


def test_fastest_cpu_backend_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenVINO bf16 where the CPU has bf16, OpenVINO f32 where it does not (the AVX2 measurement), torch without
    OpenVINO: what the demo's Pareto sweep times beside torch."""
    import importlib.util

    from jscc_rt.runtime import backends

    if importlib.util.find_spec("openvino") is not None:
        monkeypatch.setattr(backends, "cpu_has_bf16", lambda: True)
        assert backends.fastest_cpu_backend() == "openvino-bf16"
        monkeypatch.setattr(backends, "cpu_has_bf16", lambda: False)
        assert backends.fastest_cpu_backend() == "openvino"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "openvino" else real(n, *a))
    assert backends.fastest_cpu_backend() == "torch"
