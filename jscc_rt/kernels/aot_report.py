"""Reports of the ahead-of-time kernel compile: the per-kernel summary and ``compile.md``."""
from __future__ import annotations

from typing import Any, Mapping


def _range(vals: list[int]) -> str:
    return f"{min(vals)}" if min(vals) == max(vals) else f"{min(vals)}-{max(vals)}"


def summary(rows: list[dict]) -> list[dict]:
    """Per (op, kernel, arch): variant count, register range, max spills / shared, vectorized loads, widths."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["op"], r["kernel"], r["arch"]), []).append(r)
    out = []
    for (op, kernel, arch), rs in groups.items():
        nvec = sum(r["vectorized_loads"] for r in rs)
        out.append({
            "op": op, "kernel": kernel, "arch": arch, "variants": len(rs),
            "registers": _range([r["registers"] for r in rs]), "max_spills": max(r["spills"] for r in rs),
            "max_shared_bytes": max(r["shared_bytes"] for r in rs),
            "vectorized_loads": "yes" if nvec == len(rs) else "no" if nvec == 0 else f"{nvec}/{len(rs)}",
            "load_widths": sorted({w for r in rs for w in r["load_widths"]}),
            "store_widths": sorted({w for r in rs for w in r["store_widths"]}),
        })
    return out


def _fmt_variant(v: dict) -> str:
    return ", ".join(f"{k}={int(x) if isinstance(x, bool) else x}" for k, x in v.items() if k != "dtype")


def summary_markdown(rows: list[dict]) -> str:
    """The per-kernel summary table of :func:`summary`."""
    lines = ["| op | kernel | arch | variants | registers | max spills (B) | max shared (B) | vectorized loads "
             "| load widths | store widths |", "|---|---|---|---:|---:|---:|---:|---|---|---|"]
    for s in summary(rows):
        lines.append(f"| {s['op']} | `{s['kernel']}` | {s['arch']} | {s['variants']} | {s['registers']} | "
                     f"{s['max_spills']} | {s['max_shared_bytes']} | {s['vectorized_loads']} | "
                     f"{', '.join(map(str, s['load_widths']))} | {', '.join(map(str, s['store_widths']))} |")
    return "\n".join(lines)


def markdown(rows: list[dict], meta: Mapping[str, Any] | None = None) -> str:
    """``compile.md``: the per-kernel summary, then one line per (variant, arch)."""
    lines = ["# Triton kernels compiled ahead of time", ""]
    if meta:
        tools = "; ".join(f"{a}: ptxas {t.get('ptxas_version')}, cuobjdump {t.get('cuobjdump_version')}"
                          for a, t in meta.get("tools", {}).items())
        lines += [f"Triton {meta.get('triton')} ({tools}). Specialization: {meta.get('specialization')}.", ""]
    lines += ["Registers from `cuobjdump -res-usage`, spills from `ptxas -v` (bytes), shared memory from Triton's "
              "metadata. Vectorized = a global load of >= 64 bits per thread (`LDG.E.64`/`.128`) in the SASS; "
              "widths in bits.", "", summary_markdown(rows), ""]
    lines += ["| kernel | dtype | constexprs | arch | regs | spills (B) | shared (B) | warps | vectorized | "
              "loads (SASS) | stores (SASS) | local (SASS) |", "|---|---|---|---|---:|---:|---:|---:|---|---|---|---|"]
    for r in rows:
        def ops(d: dict) -> str:
            return ", ".join(f"{k} x{n}" for k, n in sorted(d.items())) or "-"

        lines.append(f"| `{r['kernel']}` | {r['variant']['dtype']} | {_fmt_variant(r['variant'])} | {r['arch']} | "
                     f"{r['registers']} | {r['spills']} | {r['shared_bytes']} | {r['num_warps']} | "
                     f"{'yes' if r['vectorized_loads'] else 'no'} | {ops(r['loads'])} | {ops(r['stores'])} | "
                     f"{ops(r['local_ops'])} |")
    return "\n".join(lines)
