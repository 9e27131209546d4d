"""Loopback harness shared by the fuzz and load tests: start the receiver, pace senders, read kernel UDP counters.

Everything here talks to 127.0.0.1 only. On Linux the receiver socket's kernel queue and drop counter are read from
``/proc/net/udp`` (``rx_queue`` in bytes, ``drops`` in datagrams); elsewhere they read as ``None`` and senders pace
by sleeping instead.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def free_port() -> int:
    """An unused UDP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def udp_socket_stats(port: int) -> tuple[int, int] | None:
    """``(rx_queue bytes, kernel drops)`` of the UDP socket bound to 127.0.0.1:``port``, or ``None`` if unknown."""
    want = f"0100007F:{port:04X}"
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        f = line.split()
        if len(f) > 12 and f[1] == want:
            return int(f[4].split(":")[1], 16), int(f[12])
    return None


def wait_queue_below(port: int, max_bytes: int, timeout_s: float = 30.0) -> bool:
    """Wait (bounded) until the receiver's kernel queue holds at most ``max_bytes``; False on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        st = udp_socket_stats(port)
        if st is None:
            time.sleep(0.05)
            return True
        if st[0] <= max_bytes:
            return True
        time.sleep(0.002)
    return False


class Sender:
    """Sends datagrams to 127.0.0.1:``port`` with kernel-queue flow control (so the kernel never drops them)."""

    def __init__(self, port: int, *, queue_bytes: int = 1 << 20, check_every: int = 16) -> None:
        self.port, self.queue_bytes, self.check_every = port, queue_bytes, check_every
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sent = 0
        self.stalls = 0
        self.has_proc = udp_socket_stats(port) is not None

    def send(self, dg: bytes) -> None:
        if self.sent % self.check_every == 0:
            if self.has_proc:
                if not wait_queue_below(self.port, self.queue_bytes):
                    self.stalls += 1
            else:
                time.sleep(0.002)
        self.sock.sendto(dg, (HOST, self.port))
        self.sent += 1

    def drain(self, timeout_s: float = 60.0) -> bool:
        """Wait until the receiver has taken every queued datagram off its socket."""
        if not self.has_proc:
            time.sleep(1.0)
            return True
        return wait_queue_below(self.port, 0, timeout_s)

    def close(self) -> None:
        self.sock.close()


def start_receiver(model: str, port: int, *args: str, timeout_s: float = 300.0) -> subprocess.Popen:
    """Start ``receiver.py`` on ``port`` and wait for its ``ready`` line (bounded by ``timeout_s``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("JSCC_DATA", None)
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("receiver.py")), "--model", model,
                             "--port", str(port), "--timeout", str(timeout_s), *args],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise RuntimeError(f"receiver did not start (got {line!r}, rc {proc.wait()})")
    return proc


def stop_receiver(proc: subprocess.Popen, port: int, timeout_s: float = 120.0) -> dict:
    """Send END, wait for the receiver to exit and return its JSON report (with its exit code as ``rc``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"END", (HOST, port))
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    lines = out.strip().splitlines()
    rep = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return {**rep, "rc": proc.returncode}
