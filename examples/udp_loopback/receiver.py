"""Receiver: reassemble UDP frames on 127.0.0.1, decode with jscc_rt.Receiver, write PNGs, report every outcome.

No datagram can stop this process (except the exact control datagram ``END``, the loopback harness's stop signal,
which ``--ignore-end`` disables): every header field is validated against :class:`FrameLimits` before anything is
held, reassembly memory is bounded, and every frame-level failure is caught and counted.

Accounting (printed as JSON at exit, ``accounting``). Every received datagram other than ``END`` ends in exactly one
bucket, so ``datagrams == decoded + rejected + dropped + pending`` (``pending`` is 0 after the final flush):

* ``datagrams_decoded``: fragments of frames decoded (and written, with ``--out``);
* ``datagrams_rejected[reason]``: fragments of complete frames this receiver refused, per frame-level reason:
  ``invalid_input`` (:class:`jscc_rt.JsccInputError`: non-finite symbols, SNR outside [-20, 40] dB, size/symbol
  mismatch), ``symbol_power`` (mean symbol power above ``max_symbol_power``, or a non-finite decoded image),
  ``decode_error`` (any other exception while decoding), ``write_error`` (the PNG could not be written);
* ``datagrams_dropped[reason]``: datagrams the assembler discarded (see ``FrameAssembler``/``AssemblerStats``:
  truncated, bad_header, corrupted, bad_field, duplicate, conflict, evicted, timeout, incomplete, error).

Frame counts are reported beside it: ``frames_decoded`` and ``frames_rejected[reason]`` (complete frames), and
``lost_count`` (incomplete frames discarded).
"""
from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from jscc_rt import JsccInputError, Receiver
from jscc_rt.data import save_image
from jscc_rt.runtime.framing import Frame, FrameAssembler, FrameLimits, mean_symbol_power

END = b"END"
FRAME_REASONS = ("invalid_input", "symbol_power", "decode_error", "write_error")
MAX_LISTED = 10000  # decoded sequence numbers listed in the report (the counts are exact beyond it)
MAX_REJECTED_LISTED = 100


def probe_min_side(rx: Receiver, max_side: int = 256) -> int:
    """Smallest square side (pixels, a multiple of the stride) the model decodes, found by decoding zeros."""
    side = rx.stride
    while side <= max_side:
        k = rx.c * (side // rx.stride) ** 2 // 2
        try:
            rx(torch.zeros(1, k, 2), 10.0, (side, side))
            return side
        except Exception:  # noqa: BLE001 - too small for this model: try the next size
            side *= 2
    raise RuntimeError(f"the model decodes no square image up to {max_side} pixels")


class FrameDecoder:
    """Frame-level checks, decode and write; counts each frame (and its datagrams) as decoded or rejected."""

    def __init__(self, rx: Receiver, limits: FrameLimits, out: Path | None) -> None:
        self.rx, self.limits, self.out = rx, limits, out
        self.decoded: list[int] = []
        self.frames_decoded = 0
        self.datagrams_decoded = 0
        self.rejected: list[dict] = []
        self.frames_rejected = dict.fromkeys(FRAME_REASONS, 0)
        self.datagrams_rejected = dict.fromkeys(FRAME_REASONS, 0)
        self.busy_s = 0.0  # seconds spent checking, decoding and writing frames
        self.first_frame_t: float | None = None  # monotonic time of the first / last decoded frame (s)
        self.last_frame_t: float | None = None

    def _reject(self, frame: Frame, reason: str, error: str) -> None:
        self.frames_rejected[reason] += 1
        self.datagrams_rejected[reason] += frame.n_datagrams
        if len(self.rejected) < MAX_REJECTED_LISTED:
            self.rejected.append({"seq": frame.seq, "reason": reason, "error": error[:200]})

    def _decode(self, frame: Frame) -> torch.Tensor | tuple[str, str]:
        power = mean_symbol_power(frame.symbols)
        if power > self.limits.max_symbol_power:  # NaN symbols fall through to the Receiver's own check
            return "symbol_power", f"mean symbol power {power:.3g} > {self.limits.max_symbol_power:.3g}"
        try:
            img = self.rx(torch.from_numpy(frame.symbols)[None], frame.snr_db, (frame.height, frame.width))
        except JsccInputError as e:  # header passed the CRC and limits but the frame does not fit this model
            return ("symbol_power" if "average power" in str(e) else "invalid_input"), str(e)  # Receiver's bound
        except Exception as e:  # noqa: BLE001 - any decode failure is this frame's, never the process's
            return "decode_error", f"{type(e).__name__}: {e}"
        if not bool(torch.isfinite(img).all()):
            return "symbol_power", f"decoded image is non-finite (mean symbol power {power:.3g})"
        return img

    def handle(self, frame: Frame) -> None:
        t0 = time.monotonic()
        try:
            self._handle(frame)
        except Exception as e:  # noqa: BLE001 - last line of defence: a frame never takes the process down
            self._reject(frame, "decode_error", f"{type(e).__name__}: {e}")
        finally:
            self.busy_s += time.monotonic() - t0

    def _handle(self, frame: Frame) -> None:
        res = self._decode(frame)
        if isinstance(res, tuple):
            self._reject(frame, *res)
            return
        if self.out is not None:
            try:
                save_image(res[0].clamp(0, 1), self.out / f"frame{frame.seq:05d}.png")
            except Exception as e:  # noqa: BLE001
                self._reject(frame, "write_error", f"{type(e).__name__}: {e}")
                return
        self.frames_decoded += 1
        self.datagrams_decoded += frame.n_datagrams
        self.last_frame_t = time.monotonic()
        self.first_frame_t = self.first_frame_t or self.last_frame_t
        if len(self.decoded) < MAX_LISTED:
            self.decoded.append(frame.seq)


def build_limits(a: argparse.Namespace, rx: Receiver) -> FrameLimits:
    min_side = a.min_side or probe_min_side(rx)
    one = FrameLimits(max_pixels=a.max_pixels, stride=rx.stride, min_side=min_side, latent_channels=rx.c,
                      max_pending_bytes=1 << 62).max_frame_bytes()  # held bytes must fit one largest frame
    return FrameLimits(max_pixels=a.max_pixels, stride=rx.stride, min_side=min_side, latent_channels=rx.c,
                       min_latent_channels=rx.c_min or None, max_incomplete=a.max_incomplete,
                       max_pending_bytes=max(FrameLimits.max_pending_bytes, one),
                       reassembly_timeout_s=a.reassembly_timeout, max_symbol_power=a.max_symbol_power)


def report(asm: FrameAssembler, dec: FrameDecoder, *, t_ready: float, t_first: float | None, end: bool,
           socket_errors: int) -> dict:
    st = asm.stats
    rejected, dropped = sum(dec.datagrams_rejected.values()), sum(st.dropped.values())
    f0, f1 = dec.first_frame_t, dec.last_frame_t
    span = f1 - f0 if f0 is not None and f1 is not None else 0.0
    return {
        "decoded": dec.decoded, "rejected": dec.rejected, **st.as_dict(),
        "frames_decoded": dec.frames_decoded, "frames_rejected": dec.frames_rejected,
        "datagrams_decoded": dec.datagrams_decoded, "datagrams_rejected": dec.datagrams_rejected,
        "datagrams_dropped": dict(st.dropped),
        "accounting": {"datagrams": st.datagrams, "decoded": dec.datagrams_decoded, "rejected": rejected,
                       "dropped": dropped, "pending": st.pending,
                       "ok": st.datagrams == dec.datagrams_decoded + rejected + dropped + st.pending
                       and st.frames == dec.frames_decoded + sum(dec.frames_rejected.values())},
        "end_received": end, "socket_errors": socket_errors, "uptime_s": round(time.monotonic() - t_ready, 3),
        "busy_s": round(dec.busy_s, 3), "first_to_last_frame_s": round(span, 3),
        "first_datagram_s": None if t_first is None else round(t_first - t_ready, 3),
        "sustained_fps": round((dec.frames_decoded - 1) / span, 2) if span > 0 else None,
        "capacity_fps": round(dec.frames_decoded / dec.busy_s, 2) if dec.busy_s > 0 else None,
        "limits": asdict(asm.limits),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--denoiser", default=None)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--onnx", default=None, help="use this receiver_*.onnx through onnxruntime instead of torch")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--frames", type=int, default=None, help="frames expected, seq 0..N-1 (for lost_frames)")
    p.add_argument("--timeout", type=float, default=60.0, help="stop after this many seconds (s)")
    p.add_argument("--out", default=None, help="write decoded frames as PNGs here (default: do not write)")
    p.add_argument("--report", default=None, help="also write the JSON report to this file")
    p.add_argument("--ignore-end", action="store_true", help="do not stop on the END datagram (only on --timeout)")
    p.add_argument("--max-pixels", type=int, default=FrameLimits.max_pixels, help="per-frame cap (pixels)")
    p.add_argument("--min-side", type=int, default=0, help="smallest height/width (pixels; 0: probe the model)")
    p.add_argument("--max-incomplete", type=int, default=FrameLimits.max_incomplete, help="frames")
    p.add_argument("--reassembly-timeout", type=float, default=FrameLimits.reassembly_timeout_s, help="s")
    p.add_argument("--max-symbol-power", type=float, default=FrameLimits.max_symbol_power)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    rx = Receiver.from_onnx(a.onnx) if a.onnx else Receiver.from_checkpoints(a.model, a.denoiser, steps=a.steps)
    limits = build_limits(a, rx)
    out = Path(a.out) if a.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.bind(("127.0.0.1", a.port))
    sock.settimeout(0.2)
    dec = FrameDecoder(rx, limits, out)
    asm = FrameAssembler(limits, clock=lambda: time.monotonic() - dec.busy_s)  # decoding is not reassembly time
    end, socket_errors, t_first = False, 0, None
    t_ready = time.monotonic()
    deadline = t_ready + a.timeout
    print("ready", flush=True)
    while time.monotonic() < deadline:
        try:
            dg, _ = sock.recvfrom(1 << 16)
        except socket.timeout:
            asm.expire()
            continue
        except OSError:  # e.g. an ICMP error surfaced on the socket: not a datagram, keep serving
            socket_errors += 1
            continue
        if dg == END and not a.ignore_end:
            end = True
            break
        t_first = time.monotonic() if t_first is None else t_first
        frame = asm.feed(dg)
        if frame is not None:
            dec.handle(frame)
    sock.close()
    asm.flush(a.frames)
    rep = report(asm, dec, t_ready=t_ready, t_first=t_first, end=end, socket_errors=socket_errors)
    text = json.dumps(rep, default=lambda o: o.item() if isinstance(o, np.generic) else str(o))
    if a.report:
        Path(a.report).write_text(text + "\n")
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
