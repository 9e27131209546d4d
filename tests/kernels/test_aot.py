"""Ahead-of-time compilation of the Triton kernels for sm_90 / sm_120 on a machine without a GPU."""
from __future__ import annotations

import argparse
import itertools
import json
import sys

import pytest

pytest.importorskip("triton")

from jscc_rt.cli import kernels as kernels_cli, main  # noqa: E402
from jscc_rt.kernels import sass  # noqa: E402
from jscc_rt.kernels import aot  # noqa: E402
from jscc_rt.kernels.dispatch import KERNEL_CASES, KERNEL_DTYPES, KernelUnavailable  # noqa: E402

# One variant per kernel (keys a kernel lacks are ignored): fading with one block per sample, explicit noise, MMSE,
# a schedule table; the sampler with c and explicit noise. (Some in-kernel-noise variants of _apply_kernel spill a
# few bytes with ptxas 13.4: see docs/results/kernels_aot/compile.md.)
ONE_EACH = dict(dtype="float16", HAS_H=True, NB=1, HAS_NOISE=True, MMSE=True, DIFFUSION=False, HAS_TABLE=True,
                HAS_C=True)
ROW_KEYS = {
    "op": str, "kernel": str, "variant": dict, "arch": str, "target": str, "registers": int, "spills": int,
    "spill_stores": int, "spill_loads": int, "stack_bytes": int, "local_bytes": int, "local_ops": dict,
    "shared_bytes": int, "num_warps": int, "vectorized_loads": bool, "load_widths": list, "loads": dict,
    "vectorized_stores": bool, "store_widths": list, "stores": dict, "signature": dict,
}


@pytest.fixture(scope="module")
def sm120(tmp_path_factory):
    out = tmp_path_factory.mktemp("aot")
    return out, aot.compile_variants(("sm_120",), out, where=ONE_EACH, show_progress=False)


def test_one_variant_per_kernel_compiles_for_sm120(sm120):
    out, rows = sm120
    assert sorted(r["kernel"] for r in rows) == ["_apply_kernel", "_sampler_step_kernel", "_stats_kernel"]
    for r in rows:
        for k, t in ROW_KEYS.items():
            assert isinstance(r[k], t), (k, r[k])
        assert r["arch"] == "sm_120" and r["target"] == "sm_120a"
        assert r["registers"] > 0
        assert r["spills"] == 0 and r["spill_stores"] == 0 and r["spill_loads"] == 0, r
        assert r["num_warps"] > 0 and r["shared_bytes"] >= 0
        assert r["variant"]["dtype"] == "float16" and "BLOCK" in r["variant"]
        assert set(r["load_widths"]) == {sass.access_width(m) for m in r["loads"]} and r["loads"]
        assert r["vectorized_loads"] == any(w >= 64 for w in r["load_widths"])
        assert all(t.split(":")[0] in ("*fp16", "*fp32", "*i64", "i32", "fp32") for t in r["signature"].values())
        for f in r["files"].values():
            assert (out / "sm_120").joinpath(f.rsplit("/", 1)[-1]).stat().st_size > 0
        assert ".target sm_120a" in open(r["files"]["ptx"]).read()
    # the sampler streams contiguous x / eps / out: its loads must stay vectorized (fp16: 8 per 128-bit load)
    sampler = next(r for r in rows if r["kernel"] == "_sampler_step_kernel")
    assert sampler["vectorized_loads"] and 128 in sampler["load_widths"]


def test_compile_json_and_md(sm120):
    out, rows = sm120
    data = json.loads((out / "compile.json").read_text())
    assert data["rows"] == json.loads(json.dumps(rows))
    assert data["triton"] and data["tools"]["sm_120"]["ptxas_version"]
    md = (out / "compile.md").read_text()
    assert "| tx_channel_rx | `_apply_kernel` | sm_120 | 1 |" in md and "_sampler_step_kernel" in md


def test_every_constexpr_combination_is_enumerated():
    """KERNEL_CASES reaches every kernel of the fused modules and every combination of its boolean constexprs."""
    assert set(aot._OPS) == set(KERNEL_CASES)
    found = aot.launches()
    names = {k for ks in aot.op_kernels().values() for k in ks}
    assert {x["kernel"] for x in found} == names
    assert {x["dtype"] for x in found} == set(KERNEL_DTYPES)
    for name in names:
        seen = {tuple(sorted((k, v) for k, v in x["kwargs"].items() if isinstance(v, bool)))
                for x in found if x["kernel"] == name}
        flags = sorted({k for s in seen for k, _ in s})
        assert len(seen) == 2 ** len(flags), (name, flags, seen)
        assert {tuple(v for _, v in s) for s in seen} == set(itertools.product((False, True), repeat=len(flags)))


def test_sass_and_tool_output_parsing():
    text = """
        /*3ba0*/              @!P2 LDG.E.128 R24, desc[UR6][R44.64] ;     /* 0x000000062c18a981 */
        /*3bb0*/                   LDG.E.U16 R2, desc[UR6][R4.64+0x2] ;   /* 0x0000000604027981 */
        /*3bc0*/                   LDG.E.64.CONSTANT R6, desc[UR6][R4.64] ;
        /*3bd0*/                   LDG.E R8, desc[UR6][R4.64] ;
        /*3be0*/                   LDGSTS.E [R1], desc[UR6][R4.64] ;
        /*3bf0*/                   STL [R1], R0 ;
        /*3c00*/                   STG.E.U16 desc[UR6][R8.64], R3 ;
    """
    ops = sass.sass_memory_ops(text)
    assert ops == {"loads": {"LDG.E.128": 1, "LDG.E.U16": 1, "LDG.E.64.CONSTANT": 1, "LDG.E": 1},
                   "stores": {"STG.E.U16": 1}, "local": {"STL": 1}}
    assert [sass.access_width(m) for m in ops["loads"]] == [128, 16, 64, 32]
    log = ("ptxas info    : Function properties for k\n    8 bytes stack frame, 4 bytes spill stores, "
           "8 bytes spill loads\nptxas info    : Used 96 registers, used 0 barriers\n")
    assert sass.parse_ptxas(log) == {"registers": 96, "stack_bytes": 8, "spill_stores": 4, "spill_loads": 8}
    res = sass.parse_res_usage(" Function k:\n  REG:80 STACK:0 SHARED:0 LOCAL:0 CONSTANT[0]:976 TEXTURE:0\n")
    assert res == {"REG": 80, "STACK": 0, "SHARED": 0, "LOCAL": 0}


def test_bad_arch_kernel_dtype_are_clear_errors(tmp_path):
    with pytest.raises(aot.AotCompileError, match=r"unknown arch 'sm_75'; valid: .*sm_90.*sm_120") as e:
        aot.compile_variants(("sm_75",), tmp_path)
    assert isinstance(e.value, KernelUnavailable)
    with pytest.raises(aot.AotCompileError, match=r"unknown kernel 'nope'; valid: tx_channel_rx, sampler_step, "):
        aot.compile_variants(("sm_120",), tmp_path, ["nope"])
    with pytest.raises(aot.AotCompileError, match=r"unknown dtype 'float64'; valid: float32, float16, bfloat16"):
        aot.compile_variants(("sm_120",), tmp_path, dtypes=["float64"])
    assert not list(tmp_path.iterdir())


def test_triton_or_ptxas_missing(tmp_path, monkeypatch):
    from triton.backends.nvidia import compiler as nv

    def no_ptxas(arch):
        raise RuntimeError("Cannot find ptxas-blackwell")

    monkeypatch.setattr(nv, "get_ptxas", no_ptxas)
    with pytest.raises(aot.AotCompileError, match=r"ptxas for sm_120 not found.*TRITON_PTXAS_BLACKWELL_PATH"):
        aot.compile_variants(("sm_120",), tmp_path)
    monkeypatch.setitem(sys.modules, "triton", None)
    with pytest.raises(aot.AotCompileError, match=r"triton is not installed .*pip install 'jscc-rt\[dev\]'"):
        aot.compile_variants(("sm_90",), tmp_path)


def _kernels_cli(argv: list[str]) -> int:
    """``jscc-rt kernels ...`` through its own parser block (independent of the other commands' imports)."""
    p = argparse.ArgumentParser(prog="jscc-rt")
    kernels_cli.add(p.add_subparsers(dest="command", required=True))
    a = p.parse_args(argv)
    return a.func(a)


def test_cli(tmp_path, capsys):
    assert _kernels_cli(["kernels", "compile", "--arch", "sm_120", "sm_5090", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jscc-rt kernels compile: error: unknown arch 'sm_5090'") and "\n" not in err
    assert _kernels_cli(["kernels", "compile", "--arch", "sm_120", "--kernels", "_sampler_step_kernel", "--dtypes",
                         "bfloat16", "--out", str(tmp_path), "--no-artifacts", "--no-progress"]) == 0
    assert "| sampler_step | `_sampler_step_kernel` | sm_120 | 4 |" in capsys.readouterr().out
    rows = json.loads((tmp_path / "compile.json").read_text())["rows"]
    assert len(rows) == 4 and all(r["spills"] == 0 and "files" not in r for r in rows)
    assert not (tmp_path / "sm_120").exists()


def test_cli_registered(tmp_path, capsys):
    assert main(["kernels", "compile", "--arch", "sm_75", "--out", str(tmp_path)]) == 2
    assert "valid: sm_80" in capsys.readouterr().err
