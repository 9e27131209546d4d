"""Load test on 127.0.0.1: send frames at a fixed rate for a fixed time, report sustained frames/s and every loss.

One image is encoded once (model transmitter + AWGN at ``--snr``); the same symbols are sent as frames with
sequence numbers 0, 1, ... at ``--rate`` frames/s for ``--seconds`` s (no flow control: a receiver that cannot keep
up loses datagrams in the kernel, which is what this measures). The receiver runs as its own process, decodes every
frame (PNGs are not written unless ``--png``) and reports; this script writes one JSON:

* ``offered_fps``: (frames sent - 1) / time from the first to the last send; ``sustained_fps``: (frames decoded
  - 1) / time from the first to the last frame decoded, from the receiver; ``receiver_capacity_fps``: frames
  decoded / receiver busy time (checks, decode, writes); ``keeps_up``: every frame sent was decoded;
* losses: ``kernel_drops`` (datagrams the receiver socket's kernel queue dropped, from ``/proc/net/udp``),
  ``not_received`` (datagrams sent - received), the receiver's ``datagrams_dropped`` / ``frames_rejected`` by
  reason and ``lost_frames`` (frames of 0 .. N-1 never decoded); ``accounting_ok`` from the receiver.

    .venv/bin/python examples/udp_loopback/loadtest.py --model deepjscc-1_16 --rate 10 --seconds 5 --json load.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from udp_harness import HOST, Sender, free_port, start_receiver, stop_receiver, udp_socket_stats  # noqa: E402

from jscc_rt.runtime.framing import encode_frame  # noqa: E402


def frame_symbols(model: str, size: tuple[int, int], snr: float, seed: int = 0) -> torch.Tensor:
    """Received symbols ``(k, 2)`` of one eval image center-cropped to ``size`` (pixels), AWGN at ``snr`` dB."""
    from jscc_rt.data import eval_images
    from jscc_rt.models import load_model
    from jscc_rt.models.registry import resolve_checkpoint

    m = load_model(resolve_checkpoint(model))
    _, images = eval_images(None)
    img = images[0][1]
    h, w = size
    h0, w0 = max((img.shape[1] - h) // 2, 0), max((img.shape[2] - w) // 2, 0)
    x = torch.zeros(1, 3, h, w)
    crop = img[:, h0 : h0 + h, w0 : w0 + w]
    x[0, :, : crop.shape[1], : crop.shape[2]] = crop
    with torch.no_grad():
        s = m.transmit(x, torch.tensor([snr]))
    g = torch.Generator().manual_seed(seed)
    return (s + (10 ** (-snr / 10) / 2) ** 0.5 * torch.randn(s.shape, generator=g))[0]


def run_load(model: str, *, rate: float, seconds: float, size: tuple[int, int] = (256, 256), snr: float = 10.0,
             png_dir: str | None = None, receiver_args: tuple[str, ...] = ()) -> dict:
    """Run the receiver and send ``rate * seconds`` frames at ``rate`` frames/s; returns the summary."""
    sym = frame_symbols(model, size, snr).numpy()
    port = free_port()
    args = (*receiver_args, *(("--out", png_dir) if png_dir else ()))
    proc = start_receiver(model, port, *args)
    n = max(1, round(rate * seconds))
    tx = Sender(port)  # used for its socket and drain only: the load itself is not flow-controlled
    datagrams = 0
    t0 = time.monotonic()
    for seq in range(n):
        wait = t0 + seq / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        for dg in encode_frame(seq, sym, snr, *size):
            tx.sock.sendto(dg, (HOST, port))
            datagrams += 1
    send_s = time.monotonic() - t0
    drained = tx.drain(timeout_s=max(30.0, 10 * seconds))
    time.sleep(0.2)
    alive = proc.poll() is None
    kstats = udp_socket_stats(port)
    rep = stop_receiver(proc, port)
    tx.close()
    received = rep.get("datagrams", 0)
    return {
        "model": model, "rate_hz": rate, "seconds": seconds, "size": list(size), "snr_db": snr,
        "frames_sent": n, "datagrams_sent": datagrams, "datagrams_per_frame": datagrams // n,
        "send_s": round(send_s, 3), "offered_fps": round((n - 1) / send_s, 2) if n > 1 and send_s > 0 else None,
        "frames_decoded": rep.get("frames_decoded"), "sustained_fps": rep.get("sustained_fps"),
        "receiver_capacity_fps": rep.get("capacity_fps"),
        "keeps_up": rep.get("frames_decoded") == n, "receiver_busy_s": rep.get("busy_s"),
        "receiver_uptime_s": rep.get("uptime_s"), "alive_before_end": alive, "receiver_rc": rep.get("rc"),
        "drained": drained, "datagrams_received": received,
        "kernel_drops": None if kstats is None else kstats[1], "not_received": datagrams - received,
        "datagrams_dropped": rep.get("datagrams_dropped"), "frames_rejected": rep.get("frames_rejected"),
        "lost_frames": len(set(range(n)) - set(rep.get("decoded", []))),
        "accounting_ok": bool(rep.get("accounting", {}).get("ok")), "accounting": rep.get("accounting"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--rate", type=float, default=10.0, help="frames per second offered")
    p.add_argument("--seconds", type=float, default=5.0, help="sending time (s)")
    p.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"), help="frame size (pixels)")
    p.add_argument("--snr", type=float, default=10.0)
    p.add_argument("--png", default=None, help="let the receiver write PNGs here (default: decode only)")
    p.add_argument("--json", default=None, help="write the summary here")
    a, rest = p.parse_known_args(argv)
    if a.rate <= 0 or a.seconds <= 0:
        p.error("--rate and --seconds must be > 0")
    res = run_load(a.model, rate=a.rate, seconds=a.seconds, size=tuple(a.size), snr=a.snr, png_dir=a.png,
                   receiver_args=tuple(rest))
    text = json.dumps(res, indent=1)
    if a.json:
        Path(a.json).write_text(text + "\n")
    print(text)
    return 0 if res["accounting_ok"] and res["receiver_rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
