"""A 2-second load test on 127.0.0.1 (examples/udp_loopback/loadtest.py): frames at a fixed rate, sustained
frames/s reported, every datagram accounted for."""
from __future__ import annotations

from pathlib import Path

import torch

from jscc_rt import JSCCConfig, JSCCModel, save_model


def test_load_two_seconds(tmp_path: Path, udp_example) -> None:
    load = udp_example("loadtest")
    torch.manual_seed(0)
    ckpt = save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "m.pt")
    res = load.run_load(str(ckpt), rate=10.0, seconds=2.0, size=(64, 64), receiver_args=("--threads", "1"))
    assert res["frames_sent"] == 20 and res["alive_before_end"] and res["receiver_rc"] == 0
    acc = res["accounting"]
    assert res["accounting_ok"] and acc["pending"] == 0
    assert acc["datagrams"] == acc["decoded"] + acc["rejected"] + acc["dropped"] == res["datagrams_received"]
    assert res["datagrams_received"] + res["not_received"] == res["datagrams_sent"]
    assert res["not_received"] == (res["kernel_drops"] or 0) == 0  # 6 kB frames at 10/s never fill the queue
    assert res["frames_decoded"] + res["lost_frames"] == 20 and res["keeps_up"]
    assert res["sustained_fps"] is not None and res["sustained_fps"] > 0
