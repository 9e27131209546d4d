"""examples/udp_loopback/receiver.py frame checks: absurd symbol power, bad input and decode errors are rejected per
frame with a reason (never raised), and the model's minimum size is probed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from jscc_rt import JSCCConfig, JSCCModel, Receiver, save_model
from jscc_rt.runtime.framing import Frame, FrameLimits

@pytest.fixture(scope="module")
def rx(tmp_path_factory: pytest.TempPathFactory) -> Receiver:
    torch.manual_seed(0)
    ckpt = save_model(JSCCModel(JSCCConfig(width=16)), tmp_path_factory.mktemp("u") / "m.pt")
    return Receiver.from_checkpoints(str(ckpt))


def _frame(seq: int, scale: float = 1.0, snr: float = 10.0, hw: tuple[int, int] = (16, 16),
           k: int | None = None) -> Frame:
    k = 24 * (hw[0] // 8) * (hw[1] // 8) // 2 if k is None else k
    sym = np.random.default_rng(seq).standard_normal((k, 2)).astype(np.float32)
    with np.errstate(all="ignore"):
        return Frame(seq, sym * np.float32(scale), snr, hw[0], hw[1], n_datagrams=1)


def test_frame_decoder_rejects_with_reasons(rx: Receiver, tmp_path: Path, udp_example) -> None:
    mod = udp_example("receiver")
    dec = mod.FrameDecoder(rx, FrameLimits(latent_channels=24), tmp_path)
    frames = [_frame(0), _frame(1, 1e30), _frame(2, np.inf), _frame(3, np.nan), _frame(4, snr=55.0),
              _frame(5, hw=(0, 0), k=0), _frame(6, hw=(16, 16), k=7), _frame(7, 10.0)]
    for f in frames:
        dec.handle(f)
    reasons = {r["seq"]: r["reason"] for r in dec.rejected}
    assert dec.decoded == [0, 7]  # 10x the unit power is a legitimate (noisy) frame
    assert reasons.pop(5) in ("invalid_input", "decode_error")  # 0x0 (the assembler never lets it through)
    assert reasons == {1: "symbol_power", 2: "symbol_power", 3: "invalid_input", 4: "invalid_input",
                       6: "invalid_input"}
    assert dec.frames_decoded + sum(dec.frames_rejected.values()) == len(frames)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["frame00000.png", "frame00007.png"]


def test_non_finite_decoded_image_is_symbol_power(rx: Receiver, monkeypatch: pytest.MonkeyPatch,
                                                  udp_example) -> None:
    mod = udp_example("receiver")
    dec = mod.FrameDecoder(rx, FrameLimits(latent_channels=24), None)
    monkeypatch.setattr(rx.runner, "infer", lambda feeds: {"images": torch.full((1, 3, 16, 16), float("nan"))})
    dec.handle(_frame(0))
    assert dec.rejected[0]["reason"] == "symbol_power" and "non-finite" in dec.rejected[0]["error"]


def test_probe_min_side(rx: Receiver, udp_example) -> None:
    assert udp_example("receiver").probe_min_side(rx) == 8
