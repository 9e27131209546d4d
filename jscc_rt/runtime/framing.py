"""Symbol frames over UDP: fragmentation, header, CRC32, and a bounded reassembler that no datagram can crash.

A frame carries one image's received symbols ``(k, 2)`` float32 plus its SNR and image size. It is split into
fragments of at most ``MAX_PAYLOAD`` bytes, each a datagram ``header || payload`` with header (network order):

``magic "JSCC" | version u8 | flags u8 | reserved u16 | seq u32 | frag u16 | n_frags u16 | height u16 | width u16 |
k u32 | snr_db f32 | payload_len u32 | crc32 u32`` (CRC over the header with crc = 0, then the payload).

Protocol rules (version 1): ``flags`` and ``reserved`` are 0; ``seq`` counts frames modulo 2^32 (it wraps);
``n_frags = ceil(8 k / MAX_PAYLOAD)``; fragment ``i < n_frags`` carries bytes ``[i MAX_PAYLOAD, (i+1) MAX_PAYLOAD)``
of the symbols, so every fragment but the last is exactly ``MAX_PAYLOAD`` bytes.

:class:`FrameAssembler` never raises on a datagram. It validates each one against :class:`FrameLimits` *before*
holding any of it, and accounts for every datagram it was fed (see :class:`AssemblerStats`)::

    datagrams == frame_datagrams + sum(dropped.values()) + pending

``frame_datagrams`` are the fragments of the frames it returned (a returned :class:`Frame` knows its
``n_datagrams``); ``dropped`` counts discarded datagrams by reason; ``pending`` is the fragments still held in
incomplete frames (0 after :meth:`FrameAssembler.flush`). Memory is bounded: at most ``max_incomplete`` incomplete
frames and ``max_pending_bytes`` held payload (oldest first evicted), a reassembly timeout, a bounded window of
completed sequence numbers (for duplicates), and a per-frame pixel cap that also caps the symbol count.
"""
from __future__ import annotations

import struct
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

MAGIC = b"JSCC"
VERSION = 1
HEADER = struct.Struct("!4sBBHIHHHHIfII")
MAX_PAYLOAD = 60000
SEQ_MOD = 1 << 32

#: reasons a datagram is dropped by the assembler (keys of ``AssemblerStats.dropped``)
DROP_REASONS = ("truncated", "bad_header", "corrupted", "bad_field", "duplicate", "conflict", "evicted", "timeout",
                "incomplete", "error")


@dataclass(frozen=True)
class FrameLimits:
    """Protocol and resource limits a receiver enforces on every datagram (defaults fit any stride-8 JSCC model).

    Args:
        max_pixels: largest ``height * width`` accepted per frame (pixels); caps the symbol count and so the memory
            one frame can take (reassembly and decode). Default 1024 x 1024.
        stride: model stride ``s``; height and width must be positive multiples of it.
        min_side: smallest height/width the model decodes (pixels, a multiple of ``stride``).
        latent_channels: the model's real latent channels ``c``; when known, ``k`` must equal
            ``c (H/s)(W/s) / 2`` exactly. When ``None`` (no model), ``0 < k <= 3 H W``.
        min_latent_channels: a rate-adaptive model's smallest budget (channels); ``k`` (the frame's announced
            budget) may then be ``c (H/s)(W/s) / 2`` for any even ``c`` from it to ``latent_channels``.
        max_incomplete: incomplete frames held at once (frames); the oldest is evicted beyond it.
        max_pending_bytes: payload bytes held in incomplete frames (bytes); oldest frames evicted beyond it.
        reassembly_timeout_s: an incomplete frame older than this (seconds since its first fragment) is dropped.
        done_window: completed sequence numbers remembered for duplicate detection (frames); a fragment of a frame
            completed longer ago is treated as a new frame.
        max_symbol_power: largest mean symbol power ``E|y|^2`` per complex symbol a receiver decodes (the model
            transmits power 1; -20 dB SNR noise adds 100).
    """

    max_pixels: int = 1024 * 1024
    stride: int = 8
    min_side: int = 8
    latent_channels: int | None = None
    min_latent_channels: int | None = None
    max_incomplete: int = 32
    max_pending_bytes: int = 64 << 20
    reassembly_timeout_s: float = 2.0
    done_window: int = 65536
    max_symbol_power: float = 1e6

    def __post_init__(self) -> None:
        ints = ("max_pixels", "stride", "min_side", "max_incomplete", "max_pending_bytes", "done_window")
        for name in ints:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"FrameLimits.{name} must be >= 1, got {getattr(self, name)}")
        if self.min_side % self.stride:
            raise ValueError(f"FrameLimits.min_side {self.min_side} must be a multiple of stride {self.stride}")
        if self.latent_channels is not None and (self.latent_channels < 2 or self.latent_channels % 2):
            raise ValueError(f"FrameLimits.latent_channels must be an even int >= 2, got {self.latent_channels}")
        if self.min_latent_channels is not None and (
                self.latent_channels is None or self.min_latent_channels % 2
                or not 2 <= self.min_latent_channels <= self.latent_channels):
            raise ValueError(f"FrameLimits.min_latent_channels must be an even int in [2, latent_channels], got "
                             f"{self.min_latent_channels} (latent_channels {self.latent_channels})")
        if not self.reassembly_timeout_s > 0 or not self.max_symbol_power > 0:
            raise ValueError("FrameLimits.reassembly_timeout_s and max_symbol_power must be > 0")
        if self.max_pending_bytes < self.max_frame_bytes():
            raise ValueError(f"FrameLimits.max_pending_bytes {self.max_pending_bytes} must hold one frame of "
                             f"max_pixels ({self.max_frame_bytes()} bytes)")

    def expected_k(self, height: int, width: int) -> int | None:
        """Complex symbols per frame of ``height x width`` for the model, or ``None`` when the model is unknown."""
        if self.latent_channels is None:
            return None
        return self.latent_channels * (height // self.stride) * (width // self.stride) // 2

    def k_ok(self, height: int, width: int, k: int) -> bool:
        """Whether ``k`` complex symbols is a budget the model sends for a ``height x width`` frame."""
        need = self.expected_k(height, width)
        if need is None:
            return 0 < k <= 3 * height * width
        if self.min_latent_channels is None:
            return k == need
        cells = (height // self.stride) * (width // self.stride)
        c, rem = divmod(2 * k, cells)
        return rem == 0 and c % 2 == 0 and self.min_latent_channels <= c <= self.latent_channels  # type: ignore[operator]

    def max_frame_bytes(self) -> int:
        """Largest symbol payload (bytes) one valid frame can carry under these limits."""
        per_px = 3 if self.latent_channels is None else self.latent_channels / (2 * self.stride**2)
        return int(8 * per_px * self.max_pixels)


@dataclass(frozen=True)
class FrameHeader:
    seq: int
    frag: int
    n_frags: int
    height: int
    width: int
    k: int
    snr_db: float
    payload_len: int


def _crc(header_wo_crc: bytes, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(header_wo_crc)) & 0xFFFFFFFF


def pack_datagram(seq: int, frag: int, n_frags: int, height: int, width: int, k: int, snr_db: float,
                  payload: bytes, *, flags: int = 0, reserved: int = 0, version: int = VERSION,
                  magic: bytes = MAGIC) -> bytes:
    """One datagram with a correct CRC for arbitrary (even invalid) field values; fields wrap to their widths."""
    fields = (magic, version & 0xFF, flags & 0xFF, reserved & 0xFFFF, seq % SEQ_MOD, frag & 0xFFFF,
              n_frags & 0xFFFF, height & 0xFFFF, width & 0xFFFF, k & 0xFFFFFFFF, snr_db, len(payload))
    head0 = HEADER.pack(*fields, 0)
    return HEADER.pack(*fields, _crc(head0, payload)) + payload


def encode_frame(seq: int, symbols: np.ndarray, snr_db: float, height: int, width: int) -> list[bytes]:
    """Split one frame (``symbols`` ``(k, 2)`` float32) into datagrams; ``seq`` wraps modulo 2^32."""
    sym = np.ascontiguousarray(symbols, dtype="<f4")
    if sym.ndim != 2 or sym.shape[1] != 2:
        raise ValueError(f"symbols must be (k, 2), got {sym.shape}")
    data = sym.tobytes()
    chunks = [data[i : i + MAX_PAYLOAD] for i in range(0, len(data), MAX_PAYLOAD)] or [b""]
    return [pack_datagram(seq, i, len(chunks), height, width, sym.shape[0], snr_db, c) for i, c in enumerate(chunks)]


@dataclass
class Frame:
    """A reassembled frame: ``symbols`` ``(k, 2)`` float32, made of ``n_datagrams`` fragments."""

    seq: int
    symbols: np.ndarray
    snr_db: float
    height: int
    width: int
    n_datagrams: int = 1


@dataclass
class AssemblerStats:
    """Datagram accounting: ``datagrams == frame_datagrams + sum(dropped.values()) + pending`` always holds.

    ``datagrams``: fed to :meth:`FrameAssembler.feed`. ``frames`` / ``frame_datagrams``: frames returned and the
    fragments they were made of. ``dropped[reason]`` (datagrams): ``truncated`` (shorter than a header or than its
    ``payload_len``), ``bad_header`` (magic, version, flags, reserved), ``corrupted`` (CRC), ``bad_field`` (a field
    outside :class:`FrameLimits`; per field in ``field_errors``), ``duplicate`` (a fragment already held, or of a
    recently completed frame), ``conflict`` (disagrees with the first fragment of its sequence number: that frame
    is kept, the conflicting fragment dropped), ``evicted`` / ``timeout`` / ``incomplete`` (fragments of an
    incomplete frame evicted by the table caps, timed out, or still held at :meth:`FrameAssembler.flush`), ``error``
    (an unexpected exception; should stay 0). ``lost_frames``: sequence numbers of frames never completed (see
    :meth:`FrameAssembler.flush`); ``lost_count`` of incomplete frames discarded.
    """

    datagrams: int = 0
    frames: int = 0
    frame_datagrams: int = 0
    pending: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    field_errors: dict[str, int] = field(default_factory=dict)
    lost_count: int = 0
    lost_frames: list[int] = field(default_factory=list)

    def __getattr__(self, name: str) -> int:  # st.duplicate, st.truncated, ... read the drop counters
        dropped = self.__dict__.get("dropped", {})
        if name in dropped:
            return dropped[name]
        raise AttributeError(name)

    def balanced(self) -> bool:
        return self.datagrams == self.frame_datagrams + sum(self.dropped.values()) + self.pending

    def as_dict(self) -> dict:
        return {"datagrams": self.datagrams, "frames": self.frames, "frame_datagrams": self.frame_datagrams,
                "pending": self.pending, **self.dropped, "dropped": dict(self.dropped),
                "field_errors": dict(sorted(self.field_errors.items())), "lost_count": self.lost_count,
                "lost_frames": sorted(self.lost_frames)}


@dataclass
class _Partial:
    key: tuple  # (n_frags, height, width, k, snr bits): every fragment must agree
    head: FrameHeader
    first_s: float
    parts: dict[int, bytes] = field(default_factory=dict)
    nbytes: int = 0


class FrameAssembler:
    """Reassembles fragments into frames; tolerant of loss, duplication, truncation, corruption and hostile fields.

    ``clock`` (seconds, monotonic) is injectable for tests. ``max_lost_listed`` bounds ``stats.lost_frames``.
    """

    def __init__(self, limits: FrameLimits | None = None, *, clock: Callable[[], float] = time.monotonic,
                 max_lost_listed: int = 1000) -> None:
        self.limits = limits or FrameLimits()
        self.stats = AssemblerStats()
        self._clock = clock
        self._max_lost_listed = max_lost_listed
        self._partial: OrderedDict[int, _Partial] = OrderedDict()  # by first arrival
        self._done: OrderedDict[int, None] = OrderedDict()  # recently completed sequence numbers
        self._pending_bytes = 0
        self._lost: OrderedDict[int, None] = OrderedDict()  # recently discarded incomplete frames

    # -- validation -------------------------------------------------------------------------------------------
    def _field_error(self, h: FrameHeader) -> str | None:
        """Name of the first header field that breaks the protocol or :attr:`limits`, else ``None``."""
        lim = self.limits
        if h.height < lim.min_side or h.height % lim.stride:
            return "height"
        if h.width < lim.min_side or h.width % lim.stride:
            return "width"
        if h.height * h.width > lim.max_pixels:
            return "pixels"
        if not lim.k_ok(h.height, h.width, h.k):
            return "k"
        if h.n_frags != -(-8 * h.k // MAX_PAYLOAD):
            return "n_frags"
        if h.frag >= h.n_frags:
            return "frag"
        last = 8 * h.k - MAX_PAYLOAD * (h.n_frags - 1)
        if h.payload_len != (last if h.frag == h.n_frags - 1 else MAX_PAYLOAD):
            return "payload_len"
        return None

    def _drop(self, reason: str, n: int = 1) -> None:
        self.stats.dropped[reason] += n

    # -- table management -------------------------------------------------------------------------------------
    def _discard(self, seq: int, reason: str) -> None:
        p = self._partial.pop(seq)
        n = len(p.parts)
        self._pending_bytes -= p.nbytes
        self.stats.pending -= n
        self._drop(reason, n)
        self.stats.lost_count += 1
        self._lost[seq] = None
        self._lost.move_to_end(seq)
        while len(self._lost) > self._max_lost_listed:
            self._lost.popitem(last=False)

    def expire(self) -> None:
        """Drop incomplete frames older than ``limits.reassembly_timeout_s`` (call when idle, too)."""
        now = self._clock()
        while self._partial:
            seq, p = next(iter(self._partial.items()))
            if now - p.first_s <= self.limits.reassembly_timeout_s:
                break
            self._discard(seq, "timeout")

    def _mark_done(self, seq: int) -> None:
        self._done[seq] = None
        self._done.move_to_end(seq)
        while len(self._done) > self.limits.done_window:
            self._done.popitem(last=False)
        self._lost.pop(seq, None)

    # -- main entry -------------------------------------------------------------------------------------------
    def feed(self, datagram: bytes) -> Frame | None:
        """Process one datagram; returns a frame when it completes one. Never raises (errors are counted)."""
        self.stats.datagrams += 1
        try:
            return self._feed(datagram)
        except Exception:  # noqa: BLE001 - a datagram must never take the receiver down; counted as "error"
            self._drop("error")
            return None

    def _feed(self, datagram: bytes) -> Frame | None:
        st, lim = self.stats, self.limits
        self.expire()
        if len(datagram) < HEADER.size:
            self._drop("truncated")
            return None
        fields = HEADER.unpack_from(datagram)
        magic, version, flags, reserved = fields[:4]
        if magic != MAGIC or version != VERSION or flags or reserved:
            self._drop("bad_header")
            return None
        h = FrameHeader(*fields[4:12])
        payload = datagram[HEADER.size :]
        if len(payload) != h.payload_len:
            self._drop("truncated")
            return None
        if _crc(HEADER.pack(*fields[:-1], 0), payload) != fields[-1]:
            self._drop("corrupted")
            return None
        bad = self._field_error(h)
        if bad is not None:
            st.field_errors[bad] = st.field_errors.get(bad, 0) + 1
            self._drop("bad_field")
            return None
        if h.seq in self._done:
            self._drop("duplicate")
            return None
        key = (h.n_frags, h.height, h.width, h.k, datagram[24:28])  # snr compared as bits (NaN == NaN)
        p = self._partial.get(h.seq)
        if p is not None and p.key != key:
            self._drop("conflict")
            return None
        if p is not None and h.frag in p.parts:
            self._drop("duplicate" if p.parts[h.frag] == payload else "conflict")
            return None
        if p is None:
            while len(self._partial) >= lim.max_incomplete:
                self._discard(next(iter(self._partial)), "evicted")
            p = self._partial[h.seq] = _Partial(key, h, self._clock())
        while self._pending_bytes + len(payload) > lim.max_pending_bytes and next(iter(self._partial)) != h.seq:
            self._discard(next(iter(self._partial)), "evicted")
        p.parts[h.frag] = payload
        p.nbytes += len(payload)
        self._pending_bytes += len(payload)
        st.pending += 1
        if len(p.parts) < h.n_frags:
            return None
        del self._partial[h.seq]
        self._pending_bytes -= p.nbytes
        st.pending -= h.n_frags
        self._mark_done(h.seq)
        try:
            data = b"".join(p.parts[i] for i in range(h.n_frags))
            sym = np.frombuffer(data, dtype="<f4").reshape(h.k, 2).astype(np.float32)
        except Exception:  # noqa: BLE001 - e.g. MemoryError: the frame's fragments are dropped as "error"
            self._drop("error", h.n_frags)
            return None
        st.frames += 1
        st.frame_datagrams += h.n_frags
        return Frame(h.seq, sym, p.head.snr_db, h.height, h.width, h.n_frags)

    def flush(self, expected_frames: int | None = None) -> AssemblerStats:
        """Drop every incomplete frame (reason ``incomplete``) and fill ``stats.lost_frames``.

        With ``expected_frames`` (a sender sending sequence numbers ``0 .. expected_frames - 1``, modulo 2^32), the
        lost frames are those of that range not completed (exact while ``expected_frames <= limits.done_window``;
        beyond, only the last ``done_window`` sequence numbers, the ones the assembler remembers, are checked). Without it, they are the last ``max_lost_listed`` incomplete frames discarded.
        Sequence numbers wrap at 2^32, so no range over them is ever built.
        """
        for seq in list(self._partial):
            self._discard(seq, "incomplete")
        if expected_frames is None:
            self.stats.lost_frames = list(self._lost)
        else:
            total = max(int(expected_frames), 0)
            n = min(total, self.limits.done_window, SEQ_MOD)
            self.stats.lost_frames = [s % SEQ_MOD for s in range(total - n, total) if s % SEQ_MOD not in self._done]
        return self.stats


def mean_symbol_power(symbols: np.ndarray) -> float:
    """Mean power ``E|y|^2`` per complex symbol of ``(k, 2)`` symbols, in float64 (no overflow for float32 input)."""
    if symbols.size == 0:
        return 0.0
    s = symbols.astype(np.float64)
    return float(np.mean(np.sum(s * s, axis=-1)))

