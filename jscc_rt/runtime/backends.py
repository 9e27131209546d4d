"""Named CPU/GPU backends: one table that the latency harness, the Pareto harness and ``Receiver`` share.

A backend name picks a runner and its precision:

====================  =========================================================================================
``torch``             eager PyTorch, fp32, NCHW
``torch-bf16``        eager PyTorch, bf16 autocast + channels_last (CPUs with avx512_bf16 / AMX, or CUDA)
``compile``           ``torch.compile`` of the fp32 graph
``onnxruntime``       onnxruntime on the fp32 graph ``NAME.onnx``
``onnxruntime-int8``  onnxruntime on the int8 Q/DQ variant ``NAME.int8.onnx``
``openvino``          OpenVINO CPU, f32 inference precision, on ``NAME.onnx``
``openvino-bf16``     OpenVINO CPU, bf16 inference precision (AMX / AVX512-BF16), on ``NAME.onnx``
``tensorrt``          a TensorRT engine (built by ``jscc-rt export trt``; needs a CUDA GPU)
====================  =========================================================================================
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.runtime.base import Runner, RunnerUnavailable
from jscc_rt.runtime.openvino_runner import OpenVINORunner
from jscc_rt.runtime.runners import OnnxRuntimeRunner, TorchRunner, cpu_has_bf16

BACKENDS: tuple[str, ...] = ("torch", "torch-bf16", "compile", "onnxruntime", "onnxruntime-int8", "openvino",
                             "openvino-bf16", "tensorrt")
#: Backends ``Receiver.from_onnx`` can run an ONNX receiver graph on.
ONNX_BACKENDS: tuple[str, ...] = ("onnxruntime", "onnxruntime-int8", "openvino", "openvino-bf16")


def check_backends(names: Sequence[str]) -> list[str]:
    """``names`` unchanged if every one is in :data:`BACKENDS`; else :class:`JsccInputError` naming the bad ones."""
    bad = [n for n in names if n not in BACKENDS]
    if bad or not names:
        raise JsccInputError(f"unknown backend(s) {bad or names!r}; choose from {', '.join(BACKENDS)}")
    return list(names)


def unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot run on this machine (None when it can); no model is loaded."""
    import importlib.util

    if name == "torch-bf16" and not (cpu_has_bf16() or torch.cuda.is_available()):
        return "this CPU has no bf16 (avx512_bf16 / AMX); use 'torch' (fp32) or 'openvino' (f32) here"
    if name.startswith("onnxruntime") and importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed (pip install 'jscc-rt[onnx]')"
    if name.startswith("openvino"):
        if importlib.util.find_spec("openvino") is None:
            return "OpenVINO is not installed (pip install 'jscc-rt[openvino]')"
        if name == "openvino-bf16" and not cpu_has_bf16():
            return "this CPU has no bf16 (avx512_bf16 / AMX); use 'openvino' (f32) here"
    if name == "tensorrt" and (importlib.util.find_spec("tensorrt") is None or not torch.cuda.is_available()):
        return "TensorRT needs the tensorrt package and a CUDA GPU"
    return None


def fastest_cpu_backend() -> str:
    """The quality-preserving CPU backend measured fastest on this kind of CPU (docs/results.md, side-by-side runs):
    ``openvino-bf16`` where the CPU has bf16 (2.7-11x torch eager fp32 on the shipped decoders), else ``openvino``
    (f32; 1.3-1.6x on an AVX2 EPYC), else ``torch``."""
    for name in ("openvino-bf16", "openvino"):
        if unavailable_reason(name) is None:
            return name
    return "torch"


def onnx_runner(name: str, onnx_path: str | Path, *, threads: int = 0) -> Runner:
    """Runner of ONNX backend ``name`` (one of :data:`ONNX_BACKENDS`) for the fp32 graph ``onnx_path``."""
    from jscc_rt.runtime.variants import variant_path

    if name not in ONNX_BACKENDS:
        raise JsccInputError(f"backend {name!r} does not run ONNX graphs; choose one of {', '.join(ONNX_BACKENDS)}")
    reason = unavailable_reason(name)
    if reason:
        raise RunnerUnavailable(f"backend {name}: {reason}")
    p = Path(onnx_path)
    if name == "onnxruntime-int8":
        q = variant_path(p, "int8")
        if not q.is_file():
            raise JsccInputError(f"int8 variant {q.name} not found; write it with `jscc-rt export onnx ... "
                                 "--precision int8`")
        return OnnxRuntimeRunner(q, threads=threads)
    if name == "onnxruntime":
        return OnnxRuntimeRunner(p, threads=threads)
    return OpenVINORunner(p, precision="bf16" if name == "openvino-bf16" else "f32", threads=threads)


def make_runner(name: str, *, onnx_path: str | Path | None, module: torch.nn.Module | None,
                input_names: Sequence[str], threads: int = 0, device: str | torch.device = "cpu",
                engine: str | Path | None = None) -> Runner:
    """Runner of backend ``name``: torch backends run ``module``; ONNX ones ``onnx_path``; tensorrt ``engine``.
    Raises :class:`RunnerUnavailable` (with the reason) where the backend cannot run here."""
    check_backends([name])
    if name in ONNX_BACKENDS and onnx_path is not None:
        return onnx_runner(name, onnx_path, threads=threads)  # refuses a backend that cannot run here itself
    reason = unavailable_reason(name)
    if reason:
        raise RunnerUnavailable(f"backend {name}: {reason}")
    if name in ("torch", "torch-bf16", "compile"):
        if module is None:
            raise JsccInputError(f"backend {name} needs the torch module")
        return TorchRunner(module, input_names, device=device, compile=name == "compile",
                           precision="bf16" if name == "torch-bf16" else "fp32", threads=threads)
    if name == "tensorrt":
        from jscc_rt.runtime.tensorrt_runner import TensorRTRunner

        if engine is None:
            raise JsccInputError("backend tensorrt needs an engine (jscc-rt export trt)")
        return TensorRTRunner(engine)
    raise JsccInputError(f"backend {name} needs an ONNX graph (jscc-rt export onnx)")  # ONNX backend, no onnx_path
