"""Fuzz the UDP receiver on 127.0.0.1: the issue's attack cases, then a seeded stream of mutated and random datagrams,
then good frames. Checks that the receiver is alive, every good frame decodes and the counters add up.

Mutations: bit flips (CRC not fixed: must be ``corrupted``/``bad_header``/``truncated``), header field mutations
with the CRC recomputed (they reach the field validators), consistent resizes (new valid frames of other sizes),
symbol scaling (``1e30``, ``inf``, ``NaN``, 0), conflicting fragments of one sequence number, truncations,
extensions, duplicates, random bytes, and one fragment sent after the reassembly timeout. The good frames sent
last use sequence numbers from ``GOOD_SEQ0``, which no mutation produces. Sends are flow-controlled on the
receiver's kernel queue, so the kernel drops nothing.

    .venv/bin/python examples/udp_loopback/fuzz.py --model deepjscc-1_16 --datagrams 10000 --json fuzz.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from udp_harness import Sender, free_port, start_receiver, stop_receiver, udp_socket_stats  # noqa: E402

from jscc_rt.runtime.framing import HEADER, MAX_PAYLOAD, FrameLimits, encode_frame, pack_datagram  # noqa: E402

GOOD_SEQ0 = 0xA000_0000  # sequence numbers of the good frames sent after the fuzz (never produced by mutations)
FIELDS = ("magic", "version", "flags", "reserved", "seq", "frag", "n_frags", "height", "width", "k", "snr_db",
          "payload_len")
BITS = {"version": 8, "flags": 8, "reserved": 16, "seq": 32, "frag": 16, "n_frags": 16, "height": 16, "width": 16,
        "k": 32, "payload_len": 32}
Case = tuple[str, bytes]


def raw(fields: list, payload: bytes) -> bytes:
    """A datagram from arbitrary header fields (``payload_len`` as given) with a valid CRC."""
    head0 = HEADER.pack(*fields, 0)
    return HEADER.pack(*fields, zlib.crc32(payload, zlib.crc32(head0)) & 0xFFFFFFFF) + payload


class Fuzzer:
    """Seeded generator of datagrams for a model of stride ``s`` and ``c`` real latent channels."""

    def __init__(self, seed: int, stride: int, latent_channels: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.s, self.c = stride, latent_channels
        self.next_seq = 1_000_000  # fresh sequence numbers for new frames
        self.must_decode: list[int] = []  # frames the receiver has to decode
        self.pool = [self.frame(100 + i, *hw) for i, hw in enumerate([(64, 64), (256, 256), (32, 48), (8, 8)])]

    def one(self, options: list) -> object:
        return options[int(self.rng.integers(len(options)))]

    def k(self, h: int, w: int) -> int:
        return self.c * (h // self.s) * (w // self.s) // 2

    def fresh(self) -> int:
        self.next_seq += 1
        return self.next_seq

    def symbols(self, h: int, w: int) -> np.ndarray:
        return (self.rng.standard_normal((self.k(h, w), 2)) / np.sqrt(2)).astype(np.float32)

    def frame(self, seq: int, h: int, w: int, scale: float = 1.0, snr: float = 10.0) -> list[bytes]:
        with np.errstate(all="ignore"):
            return encode_frame(seq, self.symbols(h, w) * np.float32(scale), snr, h, w)

    def good(self, seq: int, h: int, w: int) -> list[bytes]:
        self.must_decode.append(seq)
        return self.frame(seq, h, w)

    def _value(self, name: str, old: object) -> object:
        rng = self.rng
        if name == "snr_db":
            return float(rng.choice([np.nan, np.inf, -np.inf, 1e30, -1e30, 40.5, -20.5, 0.0, rng.uniform(-60, 60)]))
        if name == "magic":
            return self.one([b"JSCD", b"\0\0\0\0", b"jscc", rng.bytes(4)])
        top = (1 << BITS[name]) - 1
        v = int(rng.choice([0, 1, top, top - 1, 1 << int(rng.integers(0, BITS[name])), int(old) + 1,
                            max(int(old) - 1, 0), int(old) * 2, int(old) // 2, int(rng.integers(0, top + 1))]))
        v &= top
        if name == "seq" and GOOD_SEQ0 <= v < GOOD_SEQ0 + (1 << 24):
            v ^= 1 << 30
        return v

    def mutate_fields(self, dg: bytes, n: int) -> bytes:
        fields = list(HEADER.unpack_from(dg)[:-1])
        for name in self.rng.choice(FIELDS, size=n, replace=False):
            i = FIELDS.index(name)
            fields[i] = self._value(str(name), fields[i])
        return raw(fields, dg[HEADER.size :])

    def pick(self) -> bytes:
        f = self.pool[int(self.rng.integers(len(self.pool)))]
        return f[int(self.rng.integers(len(f)))]

    def random_case(self) -> Iterator[Case]:  # noqa: C901 - one branch per mutation family
        rng = self.rng
        fam = rng.choice(["bitflip", "field", "fields2", "resize", "scale", "conflict", "truncate", "extend",
                          "random", "replay"], p=[.2, .27, .1, .08, .05, .07, .06, .03, .07, .07])
        if fam == "bitflip":
            b = bytearray(self.pick())
            for _ in range(int(rng.integers(1, 5))):
                i = int(rng.integers(len(b)))
                b[i] ^= 1 << int(rng.integers(8))
            yield fam, bytes(b)
        elif fam in ("field", "fields2"):
            yield fam, self.mutate_fields(self.pick(), 1 if fam == "field" else 2)
        elif fam == "resize":  # consistent header of another size: valid or just outside the limits
            h, w = (int(rng.choice([0, 1, 4, 8, 16, 24, 40, 64, 72])) for _ in range(2))
            seq, k = self.fresh(), self.k(h, w)
            ok = min(h, w) >= self.s and not (h % self.s or w % self.s)
            dgs = self.frame(seq, h, w) if ok else [pack_datagram(seq, 0, 1, h, w, k, 10.0, bytes(8 * k))]
            yield from ((fam, d) for d in dgs if rng.random() > 0.1)  # sometimes a fragment is lost
        elif fam == "scale":
            scale = float(rng.choice([1e30, 1e20, 1e4, 1e3, 0.0, -1.0, np.inf, np.nan, 3e38]))
            yield from ((fam, d) for d in self.frame(self.fresh(), 16, 16, scale))
        elif fam == "conflict":
            seq = self.fresh()
            self.must_decode.append(seq)  # first come: the frame is kept, the conflicting fragment dropped
            a, b = self.frame(seq, 256, 256), self.frame(seq, int(rng.choice([8, 64, 256])), 64, snr=5.0)
            yield fam, a[0]
            yield fam, b[min(1, len(b) - 1)] if rng.random() < 0.5 else b[0]
            yield fam, a[-1]
        elif fam == "truncate":
            d = self.pick()
            yield fam, d[: int(rng.integers(len(d)))]
        elif fam == "extend":
            yield fam, self.pick() + rng.bytes(int(rng.integers(1, 64)))
        elif fam == "random":
            n = int(rng.integers(0, 2000)) if rng.random() < 0.9 else int(rng.integers(0, 65508))
            head = self.one([b"", b"JSCC", b"JSCC\x01\x00\x00\x00"])
            yield fam, (head + rng.bytes(n))[:65507]
        else:
            yield from ((fam, d) for d in reversed(self.pool[int(rng.integers(len(self.pool)))]))

    def issue_cases(self, flood: int) -> Iterator[Case]:
        """The exact cases from the issue, plus the neighbours that must still work."""
        yield "zero_size", pack_datagram(self.fresh(), 0, 1, 0, 0, 0, 10.0, b"")
        seq = self.fresh()  # fragment 5 of 6 then fragment 0 of 2 (as sent: n_frags does not match k)
        yield "frag_count_raw", pack_datagram(seq, 5, 6, 256, 256, self.k(256, 256), 10.0, bytes(MAX_PAYLOAD))
        yield "frag_count_raw", pack_datagram(seq, 0, 2, 256, 256, self.k(256, 256), 10.0, bytes(MAX_PAYLOAD))
        g1, g2, seq = self.fresh(), self.fresh(), self.fresh()  # good frame, consistent conflicting pair, good frame
        yield from (("good_pair_good", d) for d in self.good(g1, 64, 64))
        yield "good_pair_good", self.frame(seq, 448, 480)[5]  # fragment 5 of 6, consistent with its own k
        yield "good_pair_good", self.frame(seq, 256, 256)[0]  # fragment 0 of 2 for the same seq: conflict
        yield from (("good_pair_good", d) for d in self.good(g2, 256, 256))
        for _ in range(flood):  # incomplete 60 kB frames held until END
            yield "incomplete_flood", self.frame(self.fresh(), 256, 256)[0]
        yield "huge_2048", pack_datagram(self.fresh(), 0, 1, 2048, 2048, self.k(2048, 2048), 10.0, bytes(1000))
        yield "k_2_28", pack_datagram(self.fresh(), 0, 1, 65528, 65528, 1 << 28, 10.0, bytes(MAX_PAYLOAD))
        yield "k_1e9", pack_datagram(self.fresh(), 0, 1, 64, 64, 10**9, 10.0, bytes(MAX_PAYLOAD))
        yield from (("max_pixels_1024", d) for d in self.good(self.fresh(), 1024, 1024))
        for seq in ((1 << 32) - 2, (1 << 32) - 1, 0, 1):  # sequence numbers wrap at 2^32
            yield from (("seq_wrap", d) for d in self.good(seq, 64, 64))
        yield from (("scale_1e30", d) for d in self.frame(self.fresh(), 64, 64, 1e30))
        yield from (("nan_symbols", d) for d in self.frame(self.fresh(), 64, 64, np.nan))
        yield from (("snr_55", d) for d in self.frame(self.fresh(), 64, 64, snr=55.0))
        for d in (b"EN", b"END\x00", b"ENDEND", b"end", b"", b"JSCC"):
            yield "end_lookalike", d
        dup = self.good(self.fresh(), 256, 256)
        yield from (("duplicate_reorder", d) for d in [dup[1], dup[1], dup[0], dup[0], dup[1]])


def run_fuzz(model: str, *, datagrams: int, seed: int = 0, flood: int = 300, n_good: int = 10,
             port: int | None = None, receiver_args: tuple[str, ...] = ()) -> dict:
    """Start a receiver, send the issue cases, ``datagrams`` fuzzed ones in all and ``n_good`` good frames."""
    from jscc_rt.models import load_model
    from jscc_rt.models.registry import resolve_checkpoint

    m = load_model(resolve_checkpoint(model))
    fz = Fuzzer(seed, m.stride, m.config.latent_channels)
    port = port or free_port()
    t0 = time.monotonic()
    proc = start_receiver(model, port, *receiver_args)
    t_ready = time.monotonic()
    tx, cases = Sender(port), Counter()
    for case, dg in fz.issue_cases(flood):
        tx.send(dg)
        cases[case] += 1
    slow = fz.frame(fz.fresh(), 256, 256)  # second fragment after the reassembly timeout: both dropped
    tx.send(slow[0])
    tx.drain()
    time.sleep(FrameLimits.reassembly_timeout_s + 1.0)
    tx.send(slow[1])
    cases["slow_fragment"] += 2
    while tx.sent < datagrams:
        for case, dg in fz.random_case():
            tx.send(dg)
            cases[case] += 1
    fuzz_sent = tx.sent
    tx.drain()
    good = [GOOD_SEQ0 + i for i in range(n_good)]
    for i, seq in enumerate(good):
        for dg in fz.good(seq, *((64, 64) if i % 2 else (256, 256))):
            tx.send(dg)
            cases["good_after_fuzz"] += 1
    drained = tx.drain()
    time.sleep(0.2)
    alive = proc.poll() is None
    kstats = udp_socket_stats(port)
    rep = stop_receiver(proc, port)
    tx.close()
    decoded = set(rep.get("decoded", []))
    acc = rep.get("accounting", {})
    return {
        "seed": seed, "model": model, "cases": dict(sorted(cases.items())), "case_kinds": len(cases),
        "datagrams_sent": tx.sent, "fuzz_datagrams_sent": fuzz_sent, "good_frames_sent": n_good,
        "datagrams_received": rep.get("datagrams"), "kernel_drops": None if kstats is None else kstats[1],
        "sender_stalls": tx.stalls, "drained": drained, "alive_before_end": alive, "receiver_rc": rep.get("rc"),
        "good_after_fuzz_decoded": sum(s in decoded for s in good),
        "must_decode_missing": sorted(set(fz.must_decode) - decoded),
        "accounting_ok": bool(acc.get("ok")), "accounting": acc,
        "frames_decoded": rep.get("frames_decoded"), "frames_rejected": rep.get("frames_rejected"),
        "datagrams_decoded": rep.get("datagrams_decoded"), "datagrams_rejected": rep.get("datagrams_rejected"),
        "datagrams_dropped": rep.get("datagrams_dropped"), "field_errors": rep.get("field_errors"),
        "lost_count": rep.get("lost_count"), "rejected_examples": rep.get("rejected", [])[:12],
        "receiver_uptime_s": rep.get("uptime_s"), "startup_s": round(t_ready - t0, 2),
        "wall_s": round(time.monotonic() - t0, 2), "limits": rep.get("limits"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--datagrams", type=int, default=10000, help="datagrams before the good frames")
    p.add_argument("--flood", type=int, default=3000, help="incomplete 60 kB frames in the flood case")
    p.add_argument("--good", type=int, default=10, help="good frames after the fuzz")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the summary here")
    a, rest = p.parse_known_args(argv)
    res = run_fuzz(a.model, datagrams=a.datagrams, seed=a.seed, flood=a.flood, n_good=a.good,
                   receiver_args=tuple(rest))
    text = json.dumps(res, indent=1)
    if a.json:
        Path(a.json).write_text(text + "\n")
    print(text)
    ok = (res["alive_before_end"] and res["receiver_rc"] == 0 and res["accounting_ok"]
          and not res["must_decode_missing"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
