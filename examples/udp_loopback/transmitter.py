"""Transmitter: encode images, AWGN channel, send frames over UDP to 127.0.0.1 (with optional impairments)."""
from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import time

import torch

from jscc_rt.data import eval_images, pad_to_multiple
from jscc_rt.models import load_model
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.runtime.framing import HEADER, encode_frame


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--snr", type=float, default=10.0)
    p.add_argument("--data", default=None)
    p.add_argument("--frames", type=int, default=None, help="images to send (default: all eval images)")
    p.add_argument("--size", type=int, nargs=2, default=None, metavar=("H", "W"), help="center-crop images to H x W")
    for imp in ("drop", "duplicate", "truncate", "corrupt"):
        p.add_argument(f"--{imp}", type=float, default=0.0, help=f"probability to {imp} each datagram")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ratio", default=None, help="budget k/n a rate-adaptive model sends at (frame header k)")
    a = p.parse_args(argv)
    model = load_model(resolve_checkpoint(a.model))
    _, images = eval_images(a.data)
    images = images[: a.frames] if a.frames else images
    rng = random.Random(a.seed)
    g = torch.Generator().manual_seed(a.seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = {"datagrams": 0, "dropped": 0, "duplicated": 0, "truncated": 0, "corrupted": 0, "frames": len(images)}
    for seq, (_, img) in enumerate(images):
        if a.size:
            h0, w0 = (img.shape[1] - a.size[0]) // 2, (img.shape[2] - a.size[1]) // 2
            img = img[:, h0 : h0 + a.size[0], w0 : w0 + a.size[1]]
        x, _ = pad_to_multiple(img[None], model.stride)
        snr = torch.tensor([a.snr])
        with torch.no_grad():
            s = model.transmit(x, snr, ratio=a.ratio)
        y = s + (10 ** (-a.snr / 10) / 2) ** 0.5 * torch.randn(s.shape, generator=g)
        for dg in encode_frame(seq, y[0].numpy(), a.snr, x.shape[2], x.shape[3]):
            if rng.random() < a.drop:
                sent["dropped"] += 1
                continue
            kind = "intact"
            if rng.random() < a.truncate:
                dg, kind = dg[: max(1, len(dg) // 2)], "truncated"
            elif rng.random() < a.corrupt:  # flip one payload byte (the CRC must catch it)
                i = rng.randrange(HEADER.size, len(dg))
                dg, kind = dg[:i] + bytes([dg[i] ^ 0xFF]) + dg[i + 1 :], "corrupted"
            copies = 2 if rng.random() < a.duplicate else 1
            if kind == "intact":
                sent["duplicated"] += copies - 1  # extra copies of a good datagram
            else:
                sent[kind] += copies  # every damaged copy is rejected as damaged
            for _ in range(copies):
                sock.sendto(dg, ("127.0.0.1", a.port))
                sent["datagrams"] += 1
                time.sleep(0.0005)  # pace datagrams so the loopback socket buffer never overflows
    sock.sendto(b"END", ("127.0.0.1", a.port))
    print(json.dumps(sent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
