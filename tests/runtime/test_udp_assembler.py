"""FrameAssembler against hostile datagrams: every field validated, bounded memory, timeouts, wrap, exact accounting."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from jscc_rt.runtime import framing
from jscc_rt.runtime.framing import (MAX_PAYLOAD, FrameAssembler, FrameLimits, encode_frame, mean_symbol_power,
                                     pack_datagram)

LIM = FrameLimits(stride=8, min_side=8, latent_channels=24)  # the shipped stride-8, c = 24 models


def k_of(h: int, w: int) -> int:
    return 24 * (h // 8) * (w // 8) // 2


def frame(seq: int, h: int, w: int, snr: float = 10.0) -> list[bytes]:
    sym = np.random.default_rng(seq % 1000).standard_normal((k_of(h, w), 2)).astype(np.float32)
    return encode_frame(seq, sym, snr, h, w)


def feed_all(asm: FrameAssembler, dgs: list[bytes]) -> list:
    return [f for f in (asm.feed(d) for d in dgs) if f is not None]


@pytest.mark.parametrize("dg, field", [
    (pack_datagram(1, 0, 1, 0, 0, 0, 10.0, b""), "height"),  # the h = w = k = 0 (valid CRC)
    (pack_datagram(1, 0, 1, 64, 0, 0, 10.0, b""), "width"),
    (pack_datagram(1, 0, 1, 60, 64, k_of(60, 64), 10.0, b""), "height"),  # not a multiple of the stride
    (pack_datagram(1, 0, 1, 2048, 2048, k_of(2048, 2048), 10.0, bytes(MAX_PAYLOAD)), "pixels"),
    (pack_datagram(1, 0, 1, 64, 64, 1 << 28, 10.0, bytes(MAX_PAYLOAD)), "k"),
    (pack_datagram(1, 0, 1, 64, 64, 10**9, 10.0, bytes(MAX_PAYLOAD)), "k"),
    (pack_datagram(1, 0, 1, 64, 64, k_of(64, 64) + 1, 10.0, bytes(8 * k_of(64, 64) + 8)), "k"),
    (pack_datagram(1, 5, 6, 256, 256, k_of(256, 256), 10.0, bytes(MAX_PAYLOAD)), "n_frags"),  # 256x256 is 2
    (pack_datagram(1, 2, 2, 256, 256, k_of(256, 256), 10.0, bytes(MAX_PAYLOAD)), "frag"),
    (pack_datagram(1, 0, 2, 256, 256, k_of(256, 256), 10.0, bytes(100)), "payload_len"),
    (pack_datagram(1, 1, 2, 256, 256, k_of(256, 256), 10.0, bytes(MAX_PAYLOAD)), "payload_len"),
])
def test_bad_fields_dropped_before_anything_is_held(dg: bytes, field: str) -> None:
    asm = FrameAssembler(LIM)
    assert asm.feed(dg) is None
    st = asm.stats
    assert st.dropped["bad_field"] == 1 and st.field_errors == {field: 1} and st.pending == 0 and st.balanced()


def test_header_flags_reserved_version_are_bad_header() -> None:
    asm = FrameAssembler(LIM)
    sym = b"\0" * (8 * k_of(8, 8))
    for kw in ({"flags": 1}, {"reserved": 7}, {"version": 2}, {"magic": b"JSCX"}):
        assert asm.feed(pack_datagram(1, 0, 1, 8, 8, k_of(8, 8), 10.0, sym, **kw)) is None
    assert asm.stats.dropped["bad_header"] == 4 and asm.stats.balanced()


def test_conflicting_fragment_counts_keep_the_first_frame() -> None:
    """Issue: fragment 5 of 6 then fragment 0 of 2 for one seq, between two good frames (was a KeyError)."""
    asm = FrameAssembler(LIM)
    out = feed_all(asm, frame(1, 64, 64))
    six, two = frame(2, 448, 480), frame(2, 256, 256)  # 6 and 2 fragments, each consistent with its own k
    assert len(six) == 6 and len(two) == 2
    out += feed_all(asm, [six[5], two[0]])
    out += feed_all(asm, frame(3, 256, 256))
    assert [f.seq for f in out] == [1, 3] and asm.stats.dropped["conflict"] == 1
    out += feed_all(asm, six[:5])  # the first-announced frame is kept and completes
    assert [f.seq for f in out] == [1, 3, 2] and (out[-1].height, out[-1].width, out[-1].n_datagrams) == (448, 480, 6)
    assert asm.stats.pending == 0 and asm.stats.balanced()


def test_conflicting_payload_or_snr_is_dropped() -> None:
    asm = FrameAssembler(LIM)
    a, b = frame(4, 256, 256), frame(4, 256, 256, snr=5.0)
    c = encode_frame(4, np.ones((k_of(256, 256), 2), np.float32), 10.0, 256, 256)
    assert feed_all(asm, [a[0], b[1], c[0], a[0]]) == []
    assert (asm.stats.dropped["conflict"], asm.stats.dropped["duplicate"]) == (2, 1)
    (f,) = feed_all(asm, [a[1]])
    assert f.snr_db == 10.0 and asm.stats.balanced()


def test_incomplete_frames_are_bounded_and_evicted() -> None:
    """Issue: 3000 incomplete 60 kB frames were all held until END (+168 MB)."""
    asm = FrameAssembler(LIM)
    first = frame(0, 256, 256)[0]
    tracemalloc.start()
    for seq in range(3000):
        asm.feed(pack_datagram(seq, 0, 2, 256, 256, k_of(256, 256), 10.0, first[framing.HEADER.size :]))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    st = asm.stats
    assert st.pending == LIM.max_incomplete and st.dropped["evicted"] == 3000 - LIM.max_incomplete
    assert peak < 8 * 2**20, f"{peak / 2**20:.1f} MiB held"
    assert st.lost_count == 3000 - LIM.max_incomplete and st.balanced()
    asm.flush()
    assert st.pending == 0 and st.dropped["incomplete"] == LIM.max_incomplete and len(st.lost_frames) <= 1000


def test_pending_bytes_cap_evicts_oldest() -> None:
    lim = FrameLimits(max_pixels=256 * 256, latent_channels=24, max_pending_bytes=150_000)
    asm = FrameAssembler(lim)
    for seq in range(3):
        asm.feed(frame(seq, 256, 256)[0])  # 60 kB held per frame
    assert asm.stats.pending == 2 and asm.stats.dropped["evicted"] == 1 and asm.stats.balanced()
    with pytest.raises(ValueError, match="max_pending_bytes"):
        FrameLimits(latent_channels=24, max_pending_bytes=1000)


def test_reassembly_timeout() -> None:
    now = [0.0]
    asm = FrameAssembler(LIM, clock=lambda: now[0])
    f5, f6 = frame(5, 256, 256), frame(6, 64, 64)
    asm.feed(f5[0])
    now[0] = LIM.reassembly_timeout_s + 0.1
    assert [f.seq for f in feed_all(asm, f6)] == [6]
    assert asm.stats.dropped["timeout"] == 1 and asm.stats.pending == 0
    asm.feed(f5[1])  # late: starts a new incomplete frame, dropped when idle time passes
    now[0] += 2 * LIM.reassembly_timeout_s
    asm.expire()
    assert asm.stats.dropped["timeout"] == 2 and asm.stats.balanced()


def test_sequence_numbers_wrap_without_giant_allocations() -> None:
    """Issue: flush() after seq 2^32 - 1 raised MemoryError."""
    asm = FrameAssembler(LIM)
    seqs = [(1 << 32) - 2, (1 << 32) - 1, 1 << 32, (1 << 32) + 1]  # encode_frame wraps: ..., 0, 1
    out = feed_all(asm, [d for s in seqs for d in frame(s, 64, 64)])
    assert [f.seq for f in out] == [(1 << 32) - 2, (1 << 32) - 1, 0, 1]
    asm.feed(frame((1 << 32) - 1, 256, 256)[0])  # same seq again, other size: a duplicate of a completed frame
    assert asm.stats.dropped["duplicate"] == 1
    asm.feed(frame(77, 256, 256)[0])
    st = asm.flush()
    assert st.lost_frames == [77] and st.balanced()
    lost = FrameAssembler(LIM).flush(expected_frames=1 << 40).lost_frames  # bounded by done_window: the last ones
    assert len(lost) == LIM.done_window and lost[-1] == (1 << 32) - 1


def test_expected_frames_beyond_the_window_count_only_the_recent_ones() -> None:
    """All of N > done_window frames received: none reported lost (only the remembered window is checked)."""
    lim = FrameLimits(latent_channels=24, done_window=4)
    asm = FrameAssembler(lim)
    for s in range(10):
        feed_all(asm, frame(s, 8, 8))
    assert asm.flush(expected_frames=10).lost_frames == []
    asm = FrameAssembler(lim)
    for s in (0, 1, 2, 3, 4, 5, 7, 9):
        feed_all(asm, frame(s, 8, 8))
    assert asm.flush(expected_frames=10).lost_frames == [6, 8]


def test_done_window_bounds_duplicate_memory() -> None:
    asm = FrameAssembler(FrameLimits(latent_channels=24, done_window=2))
    for s in (0, 1, 2):
        feed_all(asm, frame(s, 8, 8))
    assert feed_all(asm, frame(2, 8, 8)) == [] and asm.stats.dropped["duplicate"] == 1
    assert [f.seq for f in feed_all(asm, frame(0, 8, 8))] == [0]  # forgotten: decoded again, by design


def test_unexpected_errors_are_counted_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    asm = FrameAssembler(LIM)

    def boom(*a: object, **k: object) -> None:
        raise MemoryError("test")

    monkeypatch.setattr(framing.np, "frombuffer", boom)
    assert feed_all(asm, frame(9, 256, 256)) == []  # fails on completion: both fragments counted as "error"
    assert asm.stats.dropped["error"] == 2 and asm.stats.balanced()

    class BadHeader:
        size = framing.HEADER.size
        unpack_from = staticmethod(boom)

    dg = frame(10, 8, 8)[0]
    monkeypatch.setattr(framing, "HEADER", BadHeader())
    assert asm.feed(dg) is None
    assert asm.stats.dropped["error"] == 3 and asm.stats.balanced()


def test_random_soup_always_balances() -> None:
    rng = np.random.default_rng(0)
    now = [0.0]
    asm = FrameAssembler(FrameLimits(latent_channels=24, max_incomplete=4), clock=lambda: now[0])
    pool = [d for s in range(6) for d in frame(s, int(rng.choice([8, 64, 256])), 64)]
    for _ in range(600):
        d = pool[int(rng.integers(len(pool)))]
        r = rng.random()
        if r < 0.3:
            b = bytearray(d)
            b[int(rng.integers(len(b)))] ^= 0xFF
            d = bytes(b)
        elif r < 0.5:
            d = d[: int(rng.integers(len(d)))]
        elif r < 0.6:
            d = rng.bytes(int(rng.integers(0, 200)))
        now[0] += float(rng.exponential(0.2))
        asm.feed(d)
        assert asm.stats.balanced()
    asm.flush()
    assert asm.stats.pending == 0 and asm.stats.balanced() and asm.stats.dropped["error"] == 0


def test_mean_symbol_power_does_not_overflow() -> None:
    sym = np.full((4, 2), 1e30, np.float32)
    assert mean_symbol_power(sym) == pytest.approx(2e60, rel=1e-6)
    assert np.isfinite(mean_symbol_power(np.full((2, 2), np.finfo(np.float32).max, np.float32)))
    assert mean_symbol_power(np.zeros((0, 2), np.float32)) == 0.0


def test_rate_adaptive_limits_accept_every_budget_and_nothing_else() -> None:
    """A rate-adaptive model (6..96 channels): the header's k announces the budget; any even channel count in range
    reassembles, anything else is a bad k before a byte is held."""
    lim = FrameLimits(stride=8, min_side=8, latent_channels=96, min_latent_channels=6)
    cells = (64 // 8) * (96 // 8)
    asm = FrameAssembler(lim)
    for seq, c in enumerate((6, 24, 50, 96)):
        k = c * cells // 2
        sym = np.random.default_rng(seq).standard_normal((k, 2)).astype(np.float32)
        got = feed_all(asm, encode_frame(seq, sym, 10.0, 64, 96))
        assert len(got) == 1 and got[0].symbols.shape == (k, 2)
    for seq, c in enumerate((4, 7, 98), start=10):  # below the range, odd, above the range
        k = c * cells // 2
        assert feed_all(asm, encode_frame(seq, np.zeros((k, 2), np.float32), 10.0, 64, 96)) == []
    assert asm.stats.field_errors == {"k": 3} and asm.stats.balanced()
    with pytest.raises(ValueError, match="min_latent_channels"):
        FrameLimits(latent_channels=24, min_latent_channels=30)
