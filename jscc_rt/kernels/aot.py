"""Compile every Triton kernel variant ahead of time for chosen NVIDIA architectures, on a machine without a GPU.

Triton compiles one binary per *specialization* of a kernel: its constexpr values, each pointer's dtype, and
whether each pointer / integer argument is 16-byte aligned / divisible by 16 (an integer equal to 1 becomes a
constant). This module finds the specializations the host wrappers really launch, then compiles each one:

1. Enumerate: for every case of :data:`jscc_rt.kernels.dispatch.KERNEL_CASES` times
   :data:`~jscc_rt.kernels.dispatch.KERNEL_DTYPES`, call the Triton host wrapper on small CPU tensors with its
   ``@triton.jit`` kernels swapped for recorders, and derive each recorded launch's signature, constexprs and
   alignment attributes with Triton's own JIT binder (what ``kernel[grid](...)`` computes before compiling).
   Sizes are multiples of 16 (latents of a multiple of 16 reals), ``seed`` is not; distinct specializations
   are compiled once.
2. Compile: ``triton.compile(ASTSource(...), target=GPUTarget("cuda", capability, 32))``: no driver, no device.
3. Inspect (:mod:`jscc_rt.kernels.sass`): registers, spills, stack / local / shared memory, warps, and the width of
   every global load / store in the SASS (``LDG.E.128`` / ``.64`` are vector loads).

:func:`compile_variants` writes ``compile.json`` and ``compile.md`` (and, unless ``artifacts=False``, each
variant's PTX, cubin and SASS under ``<out>/<arch>/``); ``jscc-rt kernels compile`` is its command line. Under
``TRITON_INTERPRET=1`` (the test suite) Triton's own ``@jit`` library functions (``tl.randn``...) are built for the
interpreter and cannot be compiled, so the compilation then runs in a child process without that variable.
"""
from __future__ import annotations

import importlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch

from jscc_rt._progress import progress
from jscc_rt.kernels.aot_report import markdown
from jscc_rt.kernels.dispatch import KERNEL_CASES, KERNEL_DTYPES
from jscc_rt.kernels.sass import AotCompileError, inspect_kernel, nvidia_tools

#: Architectures this tool compiles for (name -> compute capability); the default is Hopper and RTX 50-series.
ARCHS: dict[str, int] = {"sm_80": 80, "sm_86": 86, "sm_89": 89, "sm_90": 90, "sm_100": 100, "sm_120": 120}
DEFAULT_ARCHS: tuple[str, ...] = ("sm_90", "sm_120")
DEFAULT_OUT = "out/kernels_aot"

#: Per op: the module holding its Triton kernels and the name of its host wrapper.
_OPS: dict[str, tuple[str, str]] = {
    "tx_channel_rx": ("jscc_rt.kernels.tx_channel_rx.fused", "tx_channel_rx_triton"),
    "sampler_step": ("jscc_rt.kernels.sampler_step.fused", "sampler_step_triton"),
}
# Example sizes: multiples of 16 like real latents; the seed is not (15 in 16 random seeds are not).
_BATCH, _SYMBOLS, _LATENT, _STEPS, _SEED = 2, 1024, (4, 16, 16), 1000, 12345

_lock = threading.Lock()



def _example_call(op: str, case: Mapping[str, Any], dtype: torch.dtype) -> tuple[tuple, dict]:
    """Positional and keyword arguments of ``op``'s host wrapper for one case of ``KERNEL_CASES[op]``."""
    known = {"tx_channel_rx": {"h", "block_len", "noise", "alpha_bar_table", "equalizer", "output"},
             "sampler_step": {"c", "noise"}}[op]
    if set(case) - known:
        raise AotCompileError(f"jscc_rt.kernels.aot cannot build {op} arguments for the case keys "
                              f"{sorted(set(case) - known)}; extend _example_call with KERNEL_CASES")
    b = _BATCH
    if op == "tx_channel_rx":
        from jscc_rt.kernels.tx_channel_rx.naive import n_blocks

        z = torch.zeros(b, 2 * _SYMBOLS, dtype=dtype)
        kw: dict[str, Any] = {"equalizer": case["equalizer"], "output": case["output"], "seed": _SEED}
        if case["h"]:
            nb = n_blocks(_SYMBOLS, case["block_len"])
            kw.update(h=torch.ones(b, nb, 2, dtype=dtype), block_len=case["block_len"])
        if case["noise"]:
            kw["noise"] = torch.zeros_like(z)
        if case["alpha_bar_table"]:
            kw["alpha_bar_table"] = torch.linspace(0.0, 1.0, _STEPS)
        return (z, torch.zeros(b)), kw
    x = torch.zeros(b, *_LATENT, dtype=dtype)
    kw = {"seed": _SEED}
    if case["c"]:
        kw["c"] = torch.ones(b)
    if case["noise"]:
        kw["noise"] = torch.zeros_like(x)
    return (x, torch.zeros_like(x), torch.ones(b), torch.ones(b)), kw


def _is_kernel(obj: object) -> bool:
    from triton.runtime.jit import JITFunction

    try:
        from triton.runtime.interpreter import InterpretedFunction
    except ImportError:  # pragma: no cover
        InterpretedFunction = JITFunction  # type: ignore[misc,assignment]
    return isinstance(obj, (JITFunction, InterpretedFunction))


class _Recorder:
    """Stands in for a ``@triton.jit`` kernel: ``kernel[grid](*args, **kwargs)`` records the call."""

    def __init__(self, name: str, kernel: object, sink: list) -> None:
        self.name, self.kernel, self.sink = name, kernel, sink

    def __getitem__(self, grid: object) -> Callable[..., None]:
        return lambda *args, **kwargs: self.sink.append((self.name, self.kernel, args, kwargs))


def _capture(module: Any, wrapper: Callable, args: tuple, kwargs: dict) -> list[tuple[str, object, tuple, dict]]:
    """Run ``wrapper`` with every kernel of ``module`` recorded instead of launched."""
    sink: list = []
    with _lock:
        kernels = {n: v for n, v in vars(module).items() if _is_kernel(v)}
        try:
            for n, v in kernels.items():
                setattr(module, n, _Recorder(n, v, sink))
            wrapper(*args, **kwargs)
        finally:
            for n, v in kernels.items():
                setattr(module, n, v)
    return sink


def op_kernels() -> dict[str, list[str]]:
    """Every op and the names of the ``@triton.jit`` kernels in its module."""
    _import_triton()
    out = {}
    for op, (mod, _) in _OPS.items():
        m = importlib.import_module(mod)
        out[op] = sorted(n for n, v in vars(m).items() if _is_kernel(v))
    return out


def launches(ops: Iterable[str] | None = None, dtypes: Iterable[str] | None = None) -> list[dict]:
    """Every kernel launch of the host wrappers over ``KERNEL_CASES`` x ``dtypes`` (CPU only, nothing compiled).

    Each item: ``op``, ``kernel`` (name), ``fn`` (the module's kernel object), ``dtype``, ``case`` and the
    recorded ``args`` / ``kwargs``. Launches repeat across cases (e.g. the stats kernel ignores ``noise``).
    """
    _import_triton()
    out = []
    for op in ops if ops is not None else _OPS:
        mod, wrapper_name = _OPS[op]
        module = importlib.import_module(mod)
        space = KERNEL_CASES[op]
        for dt in dtypes if dtypes is not None else KERNEL_DTYPES:
            for values in itertools.product(*space.values()):
                case = dict(zip(space, values))
                args, kwargs = _example_call(op, case, getattr(torch, dt))
                for name, fn, a, kw in _capture(module, getattr(module, wrapper_name), args, kwargs):
                    out.append({"op": op, "kernel": name, "fn": fn, "dtype": dt, "case": case, "args": a,
                                "kwargs": kw})
    return out



def _import_triton() -> Any:
    try:
        import triton
    except ImportError as e:
        raise AotCompileError(f"triton is not installed ({e}); pip install 'jscc-rt[dev]'") from None
    return triton


_jit_cache: dict[int, Any] = {}


def _as_jit(fn: Any) -> Any:
    """The ``JITFunction`` for a kernel (under ``TRITON_INTERPRET=1`` the module holds an interpreted one)."""
    from triton.runtime.jit import JITFunction

    if isinstance(fn, JITFunction):
        return fn
    if id(fn) not in _jit_cache:
        _jit_cache[id(fn)] = (fn, JITFunction(fn.fn, **getattr(fn, "kwargs", {})))
    return _jit_cache[id(fn)][1]


def _specialize(jit: Any, backend: Any, args: tuple, kwargs: dict) -> tuple[Any, dict, dict, dict]:
    """``(options, signature, constexprs, attrs)`` exactly as ``JITFunction.run`` derives them for this launch."""
    from triton import knobs
    from triton.runtime.jit import create_function_from_signature

    kw = dict(kwargs)
    kw["debug"] = kw.get("debug", jit.debug) or knobs.runtime.debug
    for k in ("instrumentation_mode", "fpsan_homomorphic_casts"):  # what run() adds in Triton 3.9
        if hasattr(knobs.compilation, k):
            kw[k] = getattr(knobs.compilation, k)
    binder = create_function_from_signature(jit.signature, jit.params, backend)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*TRITON_DEFAULT_FP_FUSION.*")
        bound, spec, opts = binder(*args, **kw)
        return jit._pack_args(backend, kw, bound, spec, opts)


def _check_archs(archs: Sequence[str]) -> list[str]:
    if isinstance(archs, str):
        archs = [archs]
    bad = [a for a in archs if a not in ARCHS]
    if bad or not archs:
        raise AotCompileError(f"unknown arch {', '.join(map(repr, bad)) or '(none given)'}; "
                              f"valid: {', '.join(ARCHS)}")
    return list(dict.fromkeys(archs))


def _variant(jit: Any, dtype: str, constexprs: dict) -> dict:
    names = jit.arg_names
    return {"dtype": dtype, **{names[k[0]]: v for k, v in sorted(constexprs.items())}}


def _signature(jit: Any, signature: dict, attrs: dict) -> dict[str, str]:
    names = jit.arg_names
    aligned = {names[k[0]] for k, v in attrs.items() if ["tt.divisibility", 16] in [list(x) for x in v]}
    return {n: t + (":16" if n in aligned else "") for n, t in signature.items() if t != "constexpr"}


def _matches(variant: dict, arg_names: Sequence[str], where: Mapping[str, Any] | None) -> bool:
    """``where`` keys that name this kernel's parameters (or ``dtype``) must equal the variant's values."""
    missing = object()
    for k, v in (where or {}).items():
        if k == "dtype" or k in arg_names:
            if variant.get(k, missing) != v:
                return False
    return True


def _slug(kernel: str, variant: dict) -> str:
    short = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}
    parts = [kernel.strip("_"), short.get(variant["dtype"], variant["dtype"])]
    parts += [f"{k}{int(v) if isinstance(v, bool) else v}" for k, v in variant.items() if k != "dtype"]
    return "-".join(parts)


def _resolve_kernels(kernels: Iterable[str] | None) -> tuple[list[str], set[str] | None]:
    """``kernels`` (op names or kernel function names) -> the ops to run and the kernel names to keep."""
    if kernels is None:
        return list(_OPS), None
    if isinstance(kernels, str):
        kernels = [kernels]
    table = op_kernels()
    valid = list(table) + sorted({k for ks in table.values() for k in ks})
    bad = [k for k in kernels if k not in valid]
    if bad:
        raise AotCompileError(f"unknown kernel {', '.join(map(repr, bad))}; valid: {', '.join(valid)}")
    keep: set[str] = set()
    ops = []
    for op, ks in table.items():
        sel = set(ks) if op in kernels else {k for k in ks if k in kernels}
        if sel:
            ops.append(op)
            keep |= sel
    return ops, keep


def compile_variants(
    archs: Sequence[str] = DEFAULT_ARCHS,
    out_dir: str | Path | None = DEFAULT_OUT,
    kernels: Iterable[str] | None = None,
    *,
    dtypes: Iterable[str] | None = None,
    where: Mapping[str, Any] | None = None,
    artifacts: bool = True,
    show_progress: bool = True,
    _child_process: bool = False,
) -> list[dict]:
    """Compile every distinct kernel specialization for each of ``archs``; return one row per (variant, arch).

    Args:
        archs: names from :data:`ARCHS` (``sm_90`` H100, ``sm_120`` RTX 5090, ...).
        out_dir: writes ``compile.json`` and ``compile.md`` here (``None``: nothing written); with ``artifacts``,
            also ``<arch>/<variant>.ptx|.cubin|.sass``.
        kernels: op names (``tx_channel_rx``, ``sampler_step``) or kernel names (``_apply_kernel``); None: all.
        dtypes: subset of :data:`~jscc_rt.kernels.dispatch.KERNEL_DTYPES` (None: all).
        where: keep only variants whose constexprs / ``dtype`` equal these values (keys a kernel lacks are ignored).

    Rows: ``op``, ``kernel``, ``variant`` (dtype and constexprs, including integer arguments Triton specialized
    to 1), ``arch``, ``target`` (what ptxas built: ``sm_90a``, ``sm_120a``), ``registers``, ``spills`` (spill
    store + load bytes), ``spill_stores``, ``spill_loads``, ``stack_bytes`` / ``local_bytes`` (cubin),
    ``local_ops`` (``LDL``/``STL`` counts in the SASS), ``shared_bytes``, ``num_warps``, ``vectorized_loads`` (a
    global load of 64 bits or more per thread), ``load_widths`` (bits), ``loads`` (SASS mnemonic counts), the same
    three for stores, ``signature`` (argument types, ``:16`` = 16-aligned / divisible by 16) and, with
    ``artifacts``, ``files``.

    Raises:
        AotCompileError: unknown arch / kernel / dtype, triton not installed, ptxas or cuobjdump not found.
    """
    archs = _check_archs(archs)
    dtypes = list(dtypes) if dtypes is not None else list(KERNEL_DTYPES)
    bad = [d for d in dtypes if d not in KERNEL_DTYPES]
    if bad or not dtypes:
        raise AotCompileError(f"unknown dtype {', '.join(map(repr, bad)) or '(none given)'}; "
                              f"valid: {', '.join(KERNEL_DTYPES)}")
    triton = _import_triton()
    from triton import knobs
    from triton.backends.compiler import GPUTarget
    from triton.backends.nvidia.compiler import sm_arch_from_capability
    from triton.compiler import ASTSource, make_backend

    tools = {a: nvidia_tools(ARCHS[a]) for a in archs}
    ops, keep = _resolve_kernels(kernels)
    if _interpreter_active():
        if _child_process:
            raise AotCompileError("TRITON_INTERPRET=1 is still in effect in the compiler subprocess; unset it")
        return _compile_in_subprocess(dict(
            archs=archs, out_dir=None if out_dir is None else str(out_dir), kernels=None if kernels is None
            else [kernels] if isinstance(kernels, str) else list(kernels), dtypes=dtypes,
            where=dict(where) if where else None, artifacts=artifacts, show_progress=show_progress))
    found = [x for x in launches(ops, dtypes) if keep is None or x["kernel"] in keep]

    jobs, seen = [], set()
    for arch in archs:
        target = GPUTarget("cuda", ARCHS[arch], 32)
        backend = make_backend(target)
        for x in found:
            jit = _as_jit(x["fn"])
            opts, sig, cx, attrs = _specialize(jit, backend, x["args"], x["kwargs"])
            variant = _variant(jit, x["dtype"], cx)
            if not _matches(variant, jit.arg_names, where):
                continue
            key = (arch, x["kernel"], json.dumps(sig), repr(sorted(cx.items())), repr(sorted(attrs.items())),
                   repr(sorted(opts.__dict__.items())))
            if key in seen:
                continue
            seen.add(key)
            jobs.append((arch, target, x, jit, opts, sig, cx, attrs, variant))

    out = Path(out_dir) if out_dir is not None else None
    rows = []
    for arch, target, x, jit, opts, sig, cx, attrs, variant in progress(
            jobs, total=len(jobs), desc="compiling kernels", disable=not show_progress or len(jobs) < 4):
        with knobs.runtime.scope(), warnings.catch_warnings():
            knobs.runtime.interpret = False  # the code generator must not take the interpreter's paths
            warnings.filterwarnings("ignore", message=".*TRITON_DEFAULT_FP_FUSION.*")
            ck = triton.compile(ASTSource(jit, sig, cx, attrs), target=target, options=opts.__dict__)
        tname = sm_arch_from_capability(ARCHS[arch])
        kept = out / arch / _slug(x["kernel"], variant) if (out is not None and artifacts) else None
        row = {"op": x["op"], "kernel": x["kernel"], "variant": variant, "arch": arch, "target": tname}
        row.update(inspect_kernel(ck, opts, tname, tools[arch], kept))
        row["signature"] = _signature(jit, sig, attrs)
        if kept is not None:
            row["files"] = {e: str(kept.parent / f"{kept.name}.{e}") for e in ("ptx", "cubin", "sass")}
        rows.append(row)

    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "triton": triton.__version__, "torch": torch.__version__,
            "tools": {a: {k: v for k, v in t.items() if k.endswith("_version")} for a, t in tools.items()},
            "enable_fp_fusion": bool(jobs[0][4].enable_fp_fusion) if jobs else None,
            "specialization": (f"host wrappers called with batch {_BATCH}, {_SYMBOLS} complex symbols (tx_channel_rx),"
                               f" latent {_LATENT} (sampler_step), {_STEPS}-step table, seed {_SEED}: sizes divisible"
                               " by 16, pointers 16-byte aligned"),
        }
        (out / "compile.json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
        (out / "compile.md").write_text(markdown(rows, meta) + "\n")
    return rows


def _interpreter_active() -> bool:
    """Whether Triton's own ``@jit`` library functions were built for the interpreter (``TRITON_INTERPRET=1``)."""
    from triton import knobs

    try:
        import triton.language.random as tlr
        from triton.runtime.interpreter import InterpretedFunction
    except ImportError:  # pragma: no cover
        return bool(knobs.runtime.interpret)
    return bool(knobs.runtime.interpret) or any(isinstance(v, InterpretedFunction) for v in vars(tlr).values())


def _compile_in_subprocess(kw: dict) -> list[dict]:
    """:func:`compile_variants` in a fresh interpreter without ``TRITON_INTERPRET`` (progress and errors shown)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    root = str(Path(__file__).resolve().parents[2])  # the folder holding the jscc_rt package
    env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    with tempfile.TemporaryDirectory() as td:
        res = Path(td) / "result.json"
        code = "import sys; from jscc_rt.kernels.aot import _child_main; sys.exit(_child_main())"
        r = subprocess.run([sys.executable, "-c", code, json.dumps(kw), str(res)], env=env)
        data = json.loads(res.read_text()) if res.exists() else None
    if data is None:
        raise AotCompileError(f"the compiler subprocess (started because TRITON_INTERPRET=1 is set here) failed "
                              f"with exit code {r.returncode}; see its output above")
    if "error" in data:
        raise AotCompileError(data["error"])
    return data["rows"]


def _child_main() -> int:
    kw, res = json.loads(sys.argv[1]), Path(sys.argv[2])
    try:
        rows = compile_variants(**kw, _child_process=True)
    except AotCompileError as e:
        res.write_text(json.dumps({"error": str(e)}))
        return 2
    res.write_text(json.dumps({"rows": rows}))
    return 0
