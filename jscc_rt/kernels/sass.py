"""What ptxas and cuobjdump say about one compiled Triton kernel: registers, spills, stack / local / shared memory,
and the width of every global load and store in its SASS (``LDG.E.128`` is a 128-bit vector load per thread)."""
from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from jscc_rt.kernels.dispatch import KernelUnavailable


class AotCompileError(KernelUnavailable):
    """Ahead-of-time compilation cannot run: an unknown architecture, kernel or dtype, or triton / ptxas missing."""


def nvidia_tools(cap: int) -> dict[str, str]:
    """Paths of the ptxas Triton uses for ``cap`` and of cuobjdump; clear errors when missing."""
    try:
        from triton import knobs
        from triton.backends.nvidia import compiler as nv
    except ImportError as e:
        raise AotCompileError(f"triton's NVIDIA backend is missing ({e}); pip install 'jscc-rt[dev]'") from None
    out = {}
    for what, get in (("ptxas", lambda: nv.get_ptxas(cap)), ("cuobjdump", lambda: knobs.nvidia.cuobjdump)):
        try:
            tool = get()
        except RuntimeError as e:
            raise AotCompileError(
                f"{what} for sm_{cap} not found ({e}): Triton's bundled binary is missing; reinstall triton "
                f"(pip install 'jscc-rt[dev]') or set $TRITON_{what.upper()}_PATH (ptxas for sm_90+: "
                f"$TRITON_PTXAS_BLACKWELL_PATH) to a CUDA >= 12.8 {what}") from None
        out[what], out[what + "_version"] = tool.path, tool.version
    return out


def run_tool(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AotCompileError(f"{Path(cmd[0]).name} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[:500]}")
    return r.stdout + r.stderr


MEM_OP = re.compile(r"(?<![\w.])(LDG|STG|LDL|STL)((?:\.[A-Z0-9]+)*)(?=\s)")


def access_width(mnemonic: str) -> int:
    """Bits moved per thread by an ``LDG``/``STG`` (``.64``/``.128``/``.256``; ``.U8``/``.S16``...; else 32)."""
    for part in mnemonic.split(".")[1:]:
        if part in ("64", "128", "256"):
            return int(part)
        if part in ("U8", "S8"):
            return 8
        if part in ("U16", "S16"):
            return 16
    return 32


def sass_memory_ops(sass: str) -> dict[str, dict[str, int]]:
    """Counts of each global load / store and local-memory mnemonic in SASS text.

    ``{"loads": {"LDG.E.128": 4, ...}, "stores": {"STG.E.128": 2}, "local": {"STL": 1, "LDL": 2}}``.
    """
    out: dict[str, dict[str, int]] = {"loads": {}, "stores": {}, "local": {}}
    for line in sass.splitlines():
        m = MEM_OP.search(line)
        if m:
            d = out[{"LDG": "loads", "STG": "stores"}.get(m.group(1), "local")]
            d[m.group(0)] = d.get(m.group(0), 0) + 1
    return out


def parse_ptxas(log: str) -> dict[str, int]:
    """Registers, stack frame and spill bytes from ``ptxas -v`` output."""
    regs = re.search(r"Used (\d+) registers", log)
    fr = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", log)
    if not regs or not fr:
        raise AotCompileError(f"could not read registers / spills from ptxas -v output: {log.strip()[:300]}")
    return {"registers": int(regs.group(1)), "stack_bytes": int(fr.group(1)), "spill_stores": int(fr.group(2)),
            "spill_loads": int(fr.group(3))}


def parse_res_usage(text: str) -> dict[str, int]:
    """``REG``, ``STACK``, ``SHARED`` and ``LOCAL`` from ``cuobjdump -res-usage`` output."""
    m = re.search(r"REG:(\d+) STACK:(\d+) SHARED:(\d+) LOCAL:(\d+)", text)
    if not m:
        raise AotCompileError(f"could not read cuobjdump -res-usage output: {text.strip()[:300]}")
    return dict(zip(("REG", "STACK", "SHARED", "LOCAL"), map(int, m.groups())))


def inspect_kernel(ck: Any, opts: Any, target_name: str, tools: dict[str, str], keep: Path | None) -> dict:
    """Resource usage and load / store widths of one compiled kernel (``ck``: Triton's CompiledKernel)."""
    with tempfile.TemporaryDirectory() as td:
        base = keep if keep is not None else Path(td) / "kernel"
        base.parent.mkdir(parents=True, exist_ok=True)
        ptx, cubin = Path(f"{base}.ptx"), Path(f"{base}.cubin")
        ptx.write_text(ck.asm["ptx"])
        cubin.write_bytes(ck.asm["cubin"])
        # ptxas -v on the same PTX with Triton's flags (make_cubin): the registers and spills of the kernel it built
        fmad = [] if opts.enable_fp_fusion else ["--fmad=false"]
        extra = opts.ptx_options.split(" ") if opts.ptx_options else []
        log = run_tool([tools["ptxas"], "-lineinfo", *fmad, "-v", "--regAllocOptLevel=2", *extra,
                    f"--gpu-name={target_name}", str(ptx), "-o", str(Path(td) / "check.cubin")])
        usage = parse_ptxas(log)
        res = parse_res_usage(run_tool([tools["cuobjdump"], "-res-usage", str(cubin)]))
        sass_text = run_tool([tools["cuobjdump"], "-sass", str(cubin)])
        if keep is not None:
            Path(f"{base}.sass").write_text(sass_text)
    mem = sass_memory_ops(sass_text)
    lw = sorted({access_width(k) for k in mem["loads"]})
    sw = sorted({access_width(k) for k in mem["stores"]})
    row = {
        "registers": res["REG"], "spills": usage["spill_stores"] + usage["spill_loads"],
        "spill_stores": usage["spill_stores"], "spill_loads": usage["spill_loads"],
        "stack_bytes": res["STACK"], "local_bytes": res["LOCAL"], "local_ops": mem["local"],
        "shared_bytes": int(ck.metadata.shared),
        "num_warps": int(ck.metadata.num_warps),
        "vectorized_loads": any(w >= 64 for w in lw), "load_widths": lw, "loads": mem["loads"],
        "vectorized_stores": any(w >= 64 for w in sw), "store_widths": sw, "stores": mem["stores"],
    }
    if usage["registers"] != res["REG"]:
        row["ptxas_registers"] = usage["registers"]
    return row
