"""Backend runners with one shape (Polygraphy's): ``load()``, ``infer(feeds) -> dict``, ``close()``, context manager.

Feeds and outputs are ``{name: tensor}`` dicts (torch tensors out; numpy arrays accepted in). Every graph input
must be fed; extra feeds are ignored, so all receiver graphs take the same feeds even where an exporter dropped an
input the graph does not use (``snr_db`` of the decoder-only receiver). Backend packages (onnxruntime, openvino,
tensorrt) are imported inside ``load()``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.runtime.variants import precision_of
from jscc_rt.runtime.base import Runner, RunnerUnavailable
from jscc_rt.runtime.openvino_runner import OpenVINORunner
from jscc_rt.runtime.tensorrt_runner import TensorRTRunner

__all__ = ["OnnxRuntimeRunner", "OpenVINORunner", "Runner", "RunnerUnavailable", "TensorRTRunner", "TorchRunner"]


#: Precisions TorchRunner computes in: fp32, or autocast (bf16 on CPU; bf16 / fp16 on CUDA) with fp32 weights.
TORCH_PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")


class TorchRunner(Runner):
    """Runs a graph module eagerly (or through ``torch.compile`` with ``compile=True``).

    ``precision="bf16"`` (CPU or CUDA) / ``"fp16"`` (CUDA only) autocasts the forward pass: convolutions and matrix
    products in that dtype, precision-sensitive ops in fp32, outputs returned as float32. ``channels_last`` stores
    the module and 4-D feeds NHWC (the layout oneDNN's bf16 kernels want; default: on with bf16/fp16). ``threads``
    sets torch's intra-op threads at ``load()`` (process-wide; 0 = leave as is); after ``load()`` it holds the
    count in use, and ``device`` names the device.
    """

    name = "torch"

    def __init__(self, module: torch.nn.Module, input_names: Sequence[str], output_names: Sequence[str] = ("images",),
                 *, device: str | torch.device = "cpu", compile: bool = False, precision: str = "fp32",
                 channels_last: bool | None = None, threads: int = 0) -> None:
        super().__init__()
        if precision not in TORCH_PRECISIONS:
            raise JsccInputError(f"unknown torch precision {precision!r}; choose one of {', '.join(TORCH_PRECISIONS)}")
        if threads < 0:
            raise JsccInputError(f"threads must be >= 0 (0 = torch's current count), got {threads}")
        self.module, self.torch_device, self.compile = module, torch.device(device), compile
        if precision == "fp16" and self.torch_device.type == "cpu":
            raise JsccInputError("fp16 autocast is for CUDA; on the CPU use precision='bf16' (or 'fp32')")
        self.precision, self.threads = precision, threads
        self.channels_last = precision != "fp32" if channels_last is None else channels_last
        self.input_names, self.output_names = list(input_names), list(output_names)
        self.device = str(self.torch_device)
        self._fn = None

    def load(self) -> None:
        if self.precision == "bf16" and self.torch_device.type == "cpu" and not cpu_has_bf16():
            raise RunnerUnavailable("this CPU has no bf16 support (avx512_bf16 / AMX); use precision='fp32'")
        if self.threads:
            torch.set_num_threads(self.threads)
        self.threads = torch.get_num_threads() if self.torch_device.type == "cpu" else self.threads
        self.device = cpu_name() if self.torch_device.type == "cpu" else torch.cuda.get_device_name(self.torch_device)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.module = self.module.to(self.torch_device, memory_format=fmt).eval()
        self._fn = torch.compile(self.module, dynamic=True) if self.compile else self.module
        self.loaded = True

    def _arg(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(x).to(self.torch_device)
        return t.contiguous(memory_format=torch.channels_last) if self.channels_last and t.ndim == 4 else t

    def infer(self, feeds: Mapping[str, torch.Tensor | np.ndarray]) -> dict[str, torch.Tensor]:
        self._check_feeds(feeds)
        args = [self._arg(feeds[n]) for n in self.input_names]
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        with torch.no_grad(), torch.autocast(self.torch_device.type, dtype=dtype, enabled=dtype is not None):
            out = self._fn(*args)  # type: ignore[misc]
        outs = out if isinstance(out, tuple) else (out,)
        return {n: o.float().contiguous() for n, o in zip(self.output_names, outs)}


def _cpuinfo() -> tuple[str, set[str]]:
    """The CPU's model name and feature flags (x86 ``flags``, aarch64 ``Features``) from ``/proc/cpuinfo``; empty
    where it cannot be read."""
    name, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not name:
                name = line.split(":", 1)[1].strip()
            elif line.startswith(("flags", "Features")) and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return name, flags


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else ``platform.processor()``) with its widest matrix/vector tier in
    brackets, e.g. ``"AMD EPYC [AVX2]"`` or ``"Intel(R) Xeon(R) Processor [AMX-BF16]"``: virtual machines report
    bare names such as "AMD EPYC" for CPUs from AVX2-only to AVX512-BF16, and latency rows must tell them apart."""
    import platform

    name, flags = _cpuinfo()
    name = name or platform.processor() or platform.machine()
    tier = next((t for f, t in (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"), ("avx512f", "AVX512"),
                                ("avx2", "AVX2"), ("bf16", "BF16"), ("asimd", "NEON")) if f in flags), None)
    return f"{name} [{tier}]" if tier else name


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (x86 ``avx512_bf16`` or ``amx_bf16`` flags; aarch64 ``bf16``)."""
    return not _cpuinfo()[1].isdisjoint(("avx512_bf16", "amx_bf16", "bf16"))


class OnnxRuntimeRunner(Runner):
    """onnxruntime session; ``providers`` e.g. ``["CPUExecutionProvider"]`` or ``["CUDAExecutionProvider", ...]``.

    ``threads``: intra-op threads (0 = one per CPU, set explicitly so the recorded count is the one used).
    ``precision`` is the graph variant's (``NAME.<precision>.onnx``; fp32 for ``NAME.onnx``).
    """

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike, *, providers: Sequence[str] = ("CPUExecutionProvider",),
                 threads: int = 0) -> None:
        super().__init__()
        if threads < 0:
            raise JsccInputError(f"threads must be >= 0 (0 = one per CPU), got {threads}")
        self.path, self.providers, self.threads = Path(path), list(providers), threads
        self.precision = precision_of(self.path)
        self.device = providers[0] if providers else "CPUExecutionProvider"
        self.session = None

    def load(self) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise RunnerUnavailable("onnxruntime is not installed: pip install 'jscc-rt[onnx]'") from e
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model {str(self.path)!r} not found; create it with `jscc-rt export onnx`")
        missing = [p for p in self.providers if p not in ort.get_available_providers()]
        if missing:
            raise RunnerUnavailable(f"onnxruntime providers {missing} unavailable here (have {ort.get_available_providers()})")
        so = ort.SessionOptions()
        self.threads = self.threads or os.cpu_count() or 1
        so.intra_op_num_threads = self.threads
        if self.providers[0] == "CPUExecutionProvider":
            self.device = cpu_name()
        self.session = ort.InferenceSession(str(self.path), so, providers=self.providers)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.loaded = True

    def infer(self, feeds: Mapping[str, torch.Tensor | np.ndarray]) -> dict[str, torch.Tensor]:
        self._check_feeds(feeds)
        np_feeds = {k: (feeds[k].detach().cpu().numpy() if isinstance(feeds[k], torch.Tensor) else np.asarray(feeds[k]))
                    for k in self.input_names}
        outs = self.session.run(self.output_names, np_feeds)  # type: ignore[union-attr]
        return {n: torch.from_numpy(o) for n, o in zip(self.output_names, outs)}

    def close(self) -> None:
        self.session = None
        super().close()
