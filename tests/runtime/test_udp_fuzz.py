"""Fuzz the UDP receiver process on 127.0.0.1 (examples/udp_loopback/fuzz.py): the issue's attack cases, thousands
of mutated (CRC recomputed) and random datagrams, then good frames. The receiver must stay up, decode every good
frame and account for every datagram."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from jscc_rt import JSCCConfig, JSCCModel, save_model


def test_fuzz_receiver_survives_and_accounts(tmp_path: Path, udp_example) -> None:
    fuzz = udp_example("fuzz")
    torch.manual_seed(0)
    ckpt = save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "m.pt")
    t0 = time.monotonic()
    res = fuzz.run_fuzz(str(ckpt), datagrams=3000, seed=1, flood=300, n_good=10,
                        receiver_args=("--threads", "1", "--timeout", "120"))
    assert time.monotonic() - t0 < 60, res["wall_s"]
    assert res["alive_before_end"] and res["receiver_rc"] == 0
    assert res["good_after_fuzz_decoded"] == 10 and res["must_decode_missing"] == []
    acc = res["accounting"]
    assert res["accounting_ok"] and acc["pending"] == 0
    assert acc["datagrams"] == acc["decoded"] + acc["rejected"] + acc["dropped"] == res["datagrams_received"]
    kernel = res["kernel_drops"] or 0
    assert res["datagrams_received"] + kernel == res["datagrams_sent"] >= 3000
    assert res["datagrams_dropped"]["error"] == 0 and res["frames_rejected"]["decode_error"] == 0
    # the cases and every mutation family were really exercised
    assert {"zero_size", "frag_count_raw", "good_pair_good", "incomplete_flood", "huge_2048", "k_2_28", "seq_wrap",
            "scale_1e30", "bitflip", "field", "random", "conflict", "slow_fragment"} <= set(res["cases"])
    d, fr = res["datagrams_dropped"], res["frames_rejected"]
    assert min(d["bad_field"], d["corrupted"], d["conflict"], d["evicted"], d["duplicate"], d["truncated"],
               d["bad_header"], d["timeout"]) > 0
    assert fr["symbol_power"] > 0 and fr["invalid_input"] > 0
    assert {"height", "k", "pixels", "n_frags", "frag"} <= set(res["field_errors"])
