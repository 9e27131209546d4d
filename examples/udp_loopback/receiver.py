"""Receiver: reassemble UDP frames on 127.0.0.1, decode with jscc_rt.Receiver, write PNGs, report impairments."""
from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path

import torch

from jscc_rt import JsccInputError, Receiver
from jscc_rt.data import save_image
from jscc_rt.runtime.framing import FrameAssembler


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--denoiser", default=None)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--onnx", default=None, help="use this receiver_*.onnx through onnxruntime instead of torch")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--frames", type=int, required=True, help="frames expected (stop after END or timeout)")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    rx = Receiver.from_onnx(a.onnx) if a.onnx else Receiver.from_checkpoints(a.model, a.denoiser, steps=a.steps)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.bind(("127.0.0.1", a.port))
    sock.settimeout(0.5)
    asm = FrameAssembler()
    decoded, rejected = [], []
    deadline = time.time() + a.timeout
    print("ready", flush=True)
    while time.time() < deadline:
        try:
            dg, _ = sock.recvfrom(1 << 17)
        except socket.timeout:
            continue
        if dg == b"END":
            break
        frame = asm.feed(dg)
        if frame is None:
            continue
        try:
            img = rx(torch.from_numpy(frame.symbols)[None], frame.snr_db, (frame.height, frame.width))
        except JsccInputError as e:  # a frame whose header passed the CRC but does not fit this model
            rejected.append({"seq": frame.seq, "error": str(e)})
            continue
        save_image(img[0].clamp(0, 1), out / f"frame{frame.seq:05d}.png")
        decoded.append(frame.seq)
    stats = asm.flush(a.frames)
    print(json.dumps({"decoded": decoded, "rejected": rejected, **stats.as_dict()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
