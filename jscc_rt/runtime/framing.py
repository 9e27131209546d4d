"""Symbol frames over UDP: fragmentation, header, CRC32, and a reassembler that reports every impairment.

A frame carries one image's received symbols ``(k, 2)`` float32 plus its SNR and image size. It is split into
fragments of at most ``MAX_PAYLOAD`` bytes, each a datagram ``header || payload`` with header (network order):

``magic "JSCC" | version u8 | flags u8 | reserved u16 | seq u32 | frag u16 | n_frags u16 | height u16 | width u16 |
k u32 | snr_db f32 | payload_len u32 | crc32 u32`` (CRC over the header with crc = 0, then the payload).

:class:`FrameAssembler` never raises on bad datagrams: it counts them (``truncated``, ``corrupted``, ``duplicate``,
``bad_header``) and reports frames lost (sequence gaps, incomplete frames at ``flush``).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

MAGIC = b"JSCC"
VERSION = 1
HEADER = struct.Struct("!4sBBHIHHHHIfII")
MAX_PAYLOAD = 60000


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


def encode_frame(seq: int, symbols: np.ndarray, snr_db: float, height: int, width: int) -> list[bytes]:
    """Split one frame (``symbols`` ``(k, 2)`` float32) into datagrams."""
    sym = np.ascontiguousarray(symbols, dtype="<f4")
    if sym.ndim != 2 or sym.shape[1] != 2:
        raise ValueError(f"symbols must be (k, 2), got {sym.shape}")
    data = sym.tobytes()
    chunks = [data[i : i + MAX_PAYLOAD] for i in range(0, len(data), MAX_PAYLOAD)] or [b""]
    out = []
    for i, chunk in enumerate(chunks):
        fields = (MAGIC, VERSION, 0, 0, seq, i, len(chunks), height, width, sym.shape[0], snr_db, len(chunk))
        head0 = HEADER.pack(*fields, 0)
        out.append(HEADER.pack(*fields, _crc(head0, chunk)) + chunk)
    return out


@dataclass
class Frame:
    """A reassembled frame: ``symbols`` ``(k, 2)`` float32."""

    seq: int
    symbols: np.ndarray
    snr_db: float
    height: int
    width: int


@dataclass
class AssemblerStats:
    datagrams: int = 0
    frames: int = 0
    duplicate: int = 0
    truncated: int = 0
    corrupted: int = 0
    bad_header: int = 0
    lost_frames: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {**self.__dict__, "lost_frames": sorted(self.lost_frames)}


class FrameAssembler:
    """Reassembles fragments into frames; tolerant of loss, duplication, truncation and corruption."""

    def __init__(self) -> None:
        self.stats = AssemblerStats()
        self._parts: dict[int, dict[int, bytes]] = {}
        self._heads: dict[int, FrameHeader] = {}
        self._done: set[int] = set()
        self._max_seq = -1

    def feed(self, datagram: bytes) -> Frame | None:
        """Process one datagram; returns a frame when it completes one."""
        st = self.stats
        st.datagrams += 1
        if len(datagram) < HEADER.size:
            st.truncated += 1
            return None
        fields = HEADER.unpack_from(datagram)
        magic, version, *_ = fields
        if magic != MAGIC or version != VERSION:
            st.bad_header += 1
            return None
        h = FrameHeader(fields[4], fields[5], fields[6], fields[7], fields[8], fields[9], fields[10], fields[11])
        payload = datagram[HEADER.size :]
        if len(payload) != h.payload_len:
            st.truncated += 1
            return None
        head0 = HEADER.pack(*fields[:-1], 0)
        if _crc(head0, payload) != fields[-1]:
            st.corrupted += 1
            return None
        if h.seq in self._done or h.frag in self._parts.get(h.seq, {}):
            st.duplicate += 1
            return None
        if h.frag >= h.n_frags or h.k * 8 > (1 << 31):
            st.bad_header += 1
            return None
        self._parts.setdefault(h.seq, {})[h.frag] = payload
        self._heads[h.seq] = h
        self._max_seq = max(self._max_seq, h.seq)
        parts = self._parts[h.seq]
        if len(parts) < h.n_frags:
            return None
        data = b"".join(parts[i] for i in range(h.n_frags))
        del self._parts[h.seq]
        self._done.add(h.seq)
        if len(data) != h.k * 8:
            st.truncated += 1
            return None
        st.frames += 1
        sym = np.frombuffer(data, dtype="<f4").reshape(h.k, 2).astype(np.float32)
        return Frame(h.seq, sym, h.snr_db, h.height, h.width)

    def flush(self, expected_frames: int | None = None) -> AssemblerStats:
        """Declare incomplete frames and sequence gaps lost (up to ``expected_frames`` if known)."""
        last = self._max_seq if expected_frames is None else expected_frames - 1
        self.stats.lost_frames = [s for s in range(last + 1) if s not in self._done]
        self._parts.clear()
        return self.stats
