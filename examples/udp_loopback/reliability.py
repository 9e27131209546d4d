"""Run the UDP receiver's fuzz and load tests once and write docs/results/reliability/{reliability.json,
reliability.md} (127.0.0.1 only).

    .venv/bin/python examples/udp_loopback/reliability.py --model deepjscc-1_16 --datagrams 12000 --flood 3000 \\
        --rate 8 --seconds 10 --size 256 256 --threads 1
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz import run_fuzz  # noqa: E402
from loadtest import run_load  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "docs/results/reliability"


def _table(rows: dict, head: tuple[str, str]) -> list[str]:
    return [f"| {head[0]} | {head[1]} |", "|---|---:|", *(f"| {k} | {v} |" for k, v in rows.items())]


def markdown(res: dict) -> str:
    fz, ld, acc = res["fuzz"], res["load"], res["fuzz"]["accounting"]
    lines = [
        "# UDP receiver reliability (fuzz + load, 127.0.0.1)", "", "Produced by:", "", "```bash",
        res["command"], "```", "",
        f"Machine: {res['machine']}. **Shared** with a background training run and other work (1-minute load "
        f"average {res['loadavg_start']} at the start, {res['loadavg_end']} at the end), so every throughput "
        "figure here is a **floor**, not the receiver's capacity on a quiet machine. The receiver ran with "
        f"`--threads {res['threads']}`.", "",
        "## Fuzz", "",
        f"Model `{fz['model']}`, seed {fz['seed']}. {fz['case_kinds']} kinds of cases: the issue's exact cases "
        "(h = w = k = 0, fragment 5 of 6 then 0 of 2, a flood of incomplete 60 kB frames, 2048x2048 and k = 2^28 / "
        "10^9 headers, sequence numbers across 2^32, symbols x 1e30, NaN symbols, SNR 55 dB, a fragment after the "
        "reassembly timeout), then seeded mutations "
        "(bit flips; field mutations with the CRC recomputed; consistent resizes; scaled symbols; conflicting "
        "fragments; truncations; extensions; replays; random bytes), then good frames.", "",
        f"* datagrams sent: **{fz['datagrams_sent']}** ({fz['fuzz_datagrams_sent']} of issue cases and fuzz, then "
        f"{fz['datagrams_sent'] - fz['fuzz_datagrams_sent']} carrying {fz['good_frames_sent']} good frames); received "
        f"{fz['datagrams_received']}, kernel drops {fz['kernel_drops']} (sends are flow-controlled on the "
        "receiver's queue)",
        f"* receiver alive after the fuzz: **{fz['alive_before_end']}**, exit code {fz['receiver_rc']}, uptime "
        f"{fz['receiver_uptime_s']} s (startup {fz['startup_s']} s before it)",
        f"* good frames after the fuzz decoded: **{fz['good_after_fuzz_decoded']} / {fz['good_frames_sent']}**; "
        f"frames that had to decode but did not: {fz['must_decode_missing']}",
        f"* accounting: {acc['datagrams']} datagrams = {acc['decoded']} decoded + {acc['rejected']} rejected + "
        f"{acc['dropped']} dropped + {acc['pending']} pending: **{'holds' if fz['accounting_ok'] else 'BROKEN'}**",
        f"* frames decoded: {fz['frames_decoded']}; incomplete frames discarded: {fz['lost_count']}", "",
        "Cases tried (datagrams per case):", "", *_table(fz["cases"], ("case", "datagrams")), "",
        "Frames rejected by reason (complete frames the receiver refused):", "",
        *_table(fz["frames_rejected"], ("reason", "frames")), "",
        "Datagrams dropped by reason (by the assembler, before any frame):", "",
        *_table(fz["datagrams_dropped"], ("reason", "datagrams")), "",
        "`bad_field` by field:", "", *_table(fz["field_errors"], ("field", "datagrams")), "",
        "## Load", "",
        f"Model `{ld['model']}`, {ld['size'][0]}x{ld['size'][1]} frames ({ld['datagrams_per_frame']} datagrams "
        f"each), offered at {ld['rate_hz']} frames/s for {ld['seconds']} s, no flow control. "
        + ("The receiver kept up, so the sustained rate is the offered rate; its decode capacity (frames per "
           "second of busy time) is the headroom." if ld["keeps_up"] else
           "The receiver did not keep up: the sustained rate is its throughput, the rest is in the loss counters."),
        "",
        *_table({"frames sent": ld["frames_sent"], "datagrams sent": ld["datagrams_sent"],
                 "offered frames/s": ld["offered_fps"], "frames decoded": ld["frames_decoded"],
                 "**sustained frames/s** ((decoded - 1) / first-to-last decode)": ld["sustained_fps"],
                 "receiver capacity frames/s (decoded / busy time)": ld["receiver_capacity_fps"],
                 "kept up (every frame decoded)": ld["keeps_up"], "kernel drops (datagrams)": ld["kernel_drops"],
                 "not received (datagrams)": ld["not_received"], "frames lost": ld["lost_frames"],
                 "datagrams dropped by the assembler": sum(ld["datagrams_dropped"].values()),
                 "frames rejected": sum(ld["frames_rejected"].values()), "accounting holds": ld["accounting_ok"],
                 "receiver uptime (s)": ld["receiver_uptime_s"]}, ("figure", "value")), "",
        "## Limits (receiver defaults)", "", *_table(fz["limits"], ("limit", "value")), "",
        "Accounting definition: every received datagram except the exact control datagram `END` ends in one "
        "bucket: fragments of decoded frames, fragments of rejected frames (by frame reason), or dropped datagrams "
        "(by assembler reason); `pending` (fragments of incomplete frames) is 0 after the final flush. See the "
        "docstrings of `examples/udp_loopback/receiver.py` and `jscc_rt/runtime/framing.py`.", "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="deepjscc-1_16")
    p.add_argument("--datagrams", type=int, default=12000)
    p.add_argument("--flood", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate", type=float, default=8.0)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--size", type=int, nargs=2, default=(256, 256))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(OUT))
    a = p.parse_args(argv)
    rx_args = ("--threads", str(a.threads), "--timeout", "900")
    load0 = round(os.getloadavg()[0], 2)
    fz = run_fuzz(a.model, datagrams=a.datagrams, seed=a.seed, flood=a.flood, receiver_args=rx_args)
    ld = run_load(a.model, rate=a.rate, seconds=a.seconds, size=tuple(a.size), receiver_args=rx_args)
    args = argv if argv is not None else sys.argv[1:]
    cmd = ".venv/bin/python examples/udp_loopback/reliability.py " + shlex.join(args)
    res = {"command": cmd, "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
           "threads": a.threads, "loadavg_start": load0, "loadavg_end": round(os.getloadavg()[0], 2),
           "fuzz": fz, "load": ld}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reliability.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "reliability.md").write_text(markdown(res))
    print(json.dumps({"fuzz_ok": fz["accounting_ok"] and fz["alive_before_end"] and not fz["must_decode_missing"],
                      "load_sustained_fps": ld["sustained_fps"], "out": str(out)}))
    return 0 if fz["accounting_ok"] and ld["accounting_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
