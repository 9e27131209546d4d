"""Framing: round trip and every impairment counted; the two-process UDP loopback prototype end to end."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from jscc_rt import JSCCConfig, JSCCModel, save_model
from jscc_rt.runtime.framing import MAX_PAYLOAD, FrameAssembler, encode_frame

ROOT = Path(__file__).resolve().parents[2]


def test_roundtrip_multi_fragment() -> None:
    sym = np.random.default_rng(0).normal(size=(20000, 2)).astype(np.float32)  # 160 kB -> 3 fragments
    dgs = encode_frame(7, sym, 3.5, 256, 320)
    assert len(dgs) == -(-sym.nbytes // MAX_PAYLOAD)
    asm = FrameAssembler()
    frames = [f for f in (asm.feed(d) for d in reversed(dgs)) if f is not None]  # out of order
    assert len(frames) == 1 and frames[0].seq == 7 and frames[0].snr_db == 3.5
    assert np.array_equal(frames[0].symbols, sym) and (frames[0].height, frames[0].width) == (256, 320)


def test_each_impairment_is_detected_not_raised() -> None:
    sym = np.ones((20000, 2), np.float32)
    asm = FrameAssembler()
    f0, f1, f2, f3 = (encode_frame(s, sym, 0.0, 128, 128) for s in range(4))  # no model: k <= 3 H W
    for d in f0:
        asm.feed(d)
    asm.feed(f0[0])  # duplicate
    asm.feed(f1[0][:10])  # truncated header
    asm.feed(f1[0][:-5])  # truncated payload
    bad = bytearray(f1[1])
    bad[-1] ^= 0x01
    asm.feed(bytes(bad))  # corrupted
    asm.feed(b"XXXX" + f1[0][4:])  # bad magic
    for d in f3:
        asm.feed(d)
    # frame 2 entirely dropped; frame 1 incomplete
    st = asm.flush(expected_frames=4)
    assert (st.frames, st.duplicate, st.truncated, st.corrupted, st.bad_header) == (2, 1, 2, 1, 1)
    assert st.lost_frames == [1, 2]
    assert st.dropped["incomplete"] == 0 and st.pending == 0 and st.balanced()  # no fragment of frame 1 was valid


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_udp_loopback_two_processes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "m.pt")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("JSCC_DATA", None)
    port, n = _free_port(), 4
    rx = subprocess.Popen([sys.executable, str(ROOT / "examples/udp_loopback/receiver.py"), "--model",
                           str(tmp_path / "m.pt"), "--port", str(port), "--frames", str(n), "--timeout", "90",
                           "--out", str(tmp_path / "img")], stdout=subprocess.PIPE, text=True, env=env)
    assert rx.stdout is not None and rx.stdout.readline().strip() == "ready"
    tx = subprocess.run([sys.executable, str(ROOT / "examples/udp_loopback/transmitter.py"), "--model",
                         str(tmp_path / "m.pt"), "--port", str(port), "--frames", str(n), "--snr", "10",
                         "--drop", "0.15", "--duplicate", "0.2", "--truncate", "0.1", "--corrupt", "0.1",
                         "--seed", "3"], capture_output=True, text=True, env=env, timeout=120)
    assert tx.returncode == 0, tx.stderr
    sent = json.loads(tx.stdout.strip().splitlines()[-1])
    out, _ = rx.communicate(timeout=120)
    assert rx.returncode == 0
    rep = json.loads(out.strip().splitlines()[-1])
    assert rep["duplicate"] == sent["duplicated"]
    assert rep["corrupted"] == sent["corrupted"] and rep["truncated"] == sent["truncated"]
    assert rep["datagrams"] == sent["datagrams"]
    assert len(rep["decoded"]) + len(rep["lost_frames"]) == n and rep["rejected"] == []
    assert sorted(p.name for p in (tmp_path / "img").glob("*.png")) == [f"frame{s:05d}.png" for s in rep["decoded"]]
    assert sent["dropped"] + sent["truncated"] + sent["corrupted"] > 0  # the seed really damages datagrams
