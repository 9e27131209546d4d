"""TensorRT runner: deserializes a strongly typed engine and runs it on CUDA tensors (TensorRT 10.x / 11.x tensor API).

Before deserializing, the engine's sidecar (``.json`` beside the ``.engine``, written by ``jscc-rt export trt``) is
compared with this machine: an engine built for another compute capability or TensorRT version is refused with
:class:`EngineMismatch`, which names both and says to rebuild. Outputs are allocated in the dtype the engine reports
(fp32 for the exported receivers, whose variants keep fp32 inputs and outputs). Numpy / CPU feeds are staged through
pinned host buffers. With ``cuda_graphs=True`` the first call for a set of input shapes runs eagerly and is then
captured into a CUDA graph; later calls with the same shapes replay it, and a new shape is recaptured.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.runtime.base import Runner, RunnerUnavailable

#: TensorRT ``DataType`` member names and the torch dtypes they map to (FP8/INT4/FP4 have no torch IO equivalent).
TRT_TO_TORCH: dict[str, torch.dtype] = {"FLOAT": torch.float32, "HALF": torch.float16, "BF16": torch.bfloat16,
                                        "INT8": torch.int8, "UINT8": torch.uint8, "INT32": torch.int32,
                                        "INT64": torch.int64, "BOOL": torch.bool}


class EngineMismatch(RunnerUnavailable):
    """The engine was built for another GPU compute capability or TensorRT version; rebuild it on this machine."""


def torch_dtype(trt: Any, dtype: Any) -> torch.dtype:
    """torch dtype of a ``trt.DataType`` (FLOAT -> float32, HALF -> float16, BF16 -> bfloat16, INT32 -> int32, ...)."""
    for name, td in TRT_TO_TORCH.items():
        if hasattr(trt.DataType, name) and dtype == getattr(trt.DataType, name):
            return td
    raise RunnerUnavailable(f"engine tensor type {dtype} has no torch equivalent; export fp32/fp16/bf16 I/O")


class _Cuda:
    """Every call that needs a CUDA device, in one place (tests swap in a CPU stand-in: no GPU exists there)."""

    device = torch.device("cuda")

    @staticmethod
    def pinned_empty(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        return torch.empty(shape, dtype=dtype, pin_memory=True)

    @staticmethod
    def stream() -> Any:
        """The current CUDA stream (``.cuda_stream``: its handle, ``.synchronize()``)."""
        return torch.cuda.current_stream()

    @staticmethod
    def capture(fn: Callable[[], None]) -> Callable[[], None]:
        """Capture ``fn`` into a CUDA graph; returns its ``replay``."""
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            fn()
        return graph.replay


_GPU: Any = _Cuda()


class TensorRTRunner(Runner):
    """Runs a serialized TensorRT engine. ``feeds``: ``{name: tensor or array}`` in any dtype (cast to the engine's
    input dtype, e.g. ``received`` (B, c, H/s, W/s) float32, ``noise_var``/``snr_db`` (B,) float32); returns
    ``{name: CUDA tensor}`` in the engine's output dtype (``images`` (B, 3, H, W), values in [0, 1]).

    ``cuda_graphs``: capture each new set of input shapes after its first run and replay it on later calls.
    ``threads``: accepted for a signature uniform with the other runners and recorded; it does not apply to a GPU.
    After :meth:`load`: ``precision`` (from the engine's sidecar, None without one) and ``device`` (the GPU name).
    """

    name = "tensorrt"

    def __init__(self, engine_path: str | os.PathLike, *, cuda_graphs: bool = False, threads: int | None = None) -> None:
        super().__init__()
        self.engine_path = Path(engine_path)
        self.cuda_graphs, self.threads = cuda_graphs, threads
        self.precision: str | None = None
        self.device: str | None = None
        self.meta: dict = {}
        self.engine = self.context = None
        self._in_dtype: dict[str, torch.dtype] = {}
        self._out_dtype: dict[str, torch.dtype] = {}
        self._reset_buffers()

    def _reset_buffers(self) -> None:
        self._pinned: dict[str, torch.Tensor] = {}
        self._dev_in: dict[str, torch.Tensor] = {}
        self._dev_out: dict[str, torch.Tensor] = {}
        self._graph_key: tuple | None = None
        self._replay: Callable[[], None] | None = None

    def _check_target(self, trt: Any) -> None:
        side = self.engine_path.with_suffix(".json")
        self.meta = json.loads(side.read_text()) if side.is_file() else {}
        dev = torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(dev)
        self.device, cc = torch.cuda.get_device_name(dev), f"{major}.{minor}"
        self.precision = self.meta.get("precision")
        built_cc, built_trt = self.meta.get("compute_capability"), self.meta.get("tensorrt")
        bad = []
        if built_cc is not None and str(built_cc) != cc:
            bad.append(f"compute capability {built_cc} ({self.meta.get('gpu', '?')}) but this GPU ({self.device}) is {cc}")
        if built_trt is not None and str(built_trt) != str(trt.__version__):
            bad.append(f"TensorRT {built_trt} but TensorRT {trt.__version__} is installed")
        if bad:
            onnx = self.meta.get("onnx", "NAME.onnx")
            raise EngineMismatch(f"{self.engine_path} was built for {'; '.join(bad)}: engines do not carry over; "
                                 f"rebuild it here with `jscc-rt export trt {onnx} --precision {self.precision or 'fp16'}`")
        if self.meta.get("gpu") not in (None, self.device):
            warnings.warn(f"{self.engine_path} was built on {self.meta['gpu']}, running on {self.device} "
                          "(same compute capability); rebuild for best performance", stacklevel=3)

    def load(self) -> None:
        try:
            import tensorrt as trt
        except ImportError as e:
            raise RunnerUnavailable("TensorRT is not installed: pip install 'jscc-rt[trt]' on a machine with an NVIDIA GPU") from e
        if not torch.cuda.is_available():
            raise RunnerUnavailable("TensorRT needs a CUDA GPU; none is visible")
        if not self.engine_path.is_file():
            raise FileNotFoundError(f"engine {str(self.engine_path)!r} not found; build it with `jscc-rt export trt`")
        self._check_target(trt)
        logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(logger)
        self.engine = self._runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
        if self.engine is None:
            raise RunnerUnavailable(f"could not deserialize {self.engine_path} (see the TensorRT log above); "
                                    "rebuild it with `jscc-rt export trt`")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = {n: self.engine.get_tensor_mode(n) for n in names}
        self.input_names = [n for n in names if mode[n] == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if mode[n] == trt.TensorIOMode.OUTPUT]
        self._in_dtype = {n: torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in self.input_names}
        self._out_dtype = {n: torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in self.output_names}
        self._reset_buffers()
        self.loaded = True

    def _host(self, name: str, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(x)
        return t if t.dtype == self._in_dtype[name] else t.to(self._in_dtype[name])

    def _upload(self, name: str, t: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """``t`` on the GPU (into ``out`` when given); CPU tensors go through a pinned host buffer kept per input."""
        if t.device.type != "cuda":
            pin = self._pinned.get(name)
            if pin is None or pin.shape != t.shape or pin.dtype != t.dtype:
                pin = self._pinned[name] = _GPU.pinned_empty(tuple(t.shape), t.dtype)
            pin.copy_(t)
            t = pin
        if out is not None:
            return out.copy_(t, non_blocking=True)
        return t.to(_GPU.device, non_blocking=True).contiguous()

    def _bind(self, dev_in: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Set input shapes and addresses, allocate outputs in the engine's dtypes and bind them."""
        ctx = self.context
        for n, t in dev_in.items():
            if not ctx.set_input_shape(n, tuple(t.shape)):  # type: ignore[union-attr]
                raise JsccInputError(f"{self.name}: input {n!r} of shape {tuple(t.shape)} is outside the engine's "
                                     f"optimization profile {self.meta.get('input_shapes', {}).get(n, '')}; "
                                     "rebuild with a Profile that covers it")
            ctx.set_tensor_address(n, t.data_ptr())  # type: ignore[union-attr]
        outs = {}
        for n in self.output_names:
            shape = tuple(ctx.get_tensor_shape(n))  # type: ignore[union-attr]
            outs[n] = torch.empty(shape, dtype=self._out_dtype[n], device=_GPU.device)
            ctx.set_tensor_address(n, outs[n].data_ptr())  # type: ignore[union-attr]
        return outs

    def _execute(self) -> None:
        if not self.context.execute_async_v3(_GPU.stream().cuda_stream):  # type: ignore[union-attr]
            raise RuntimeError(f"{self.name}: TensorRT execution of {self.engine_path} failed")

    def infer(self, feeds: Mapping[str, torch.Tensor | np.ndarray]) -> dict[str, torch.Tensor]:
        self._check_feeds(feeds)
        host = {n: self._host(n, feeds[n]) for n in self.input_names}
        if not self.cuda_graphs:
            dev_in = {n: self._upload(n, t) for n, t in host.items()}
            outs = self._bind(dev_in)
            self._execute()
            _GPU.stream().synchronize()
            return outs
        key = tuple((n, tuple(t.shape)) for n, t in host.items())
        if key == self._graph_key:
            for n, t in host.items():
                self._upload(n, t, out=self._dev_in[n])
            (self._replay or self._execute)()
        else:  # new shapes: static buffers, one eager run, then capture
            self._replay, self._graph_key = None, key
            self._dev_in = {n: torch.empty(tuple(t.shape), dtype=t.dtype, device=_GPU.device) for n, t in host.items()}
            for n, t in host.items():
                self._upload(n, t, out=self._dev_in[n])
            self._dev_out = self._bind(self._dev_in)
            self._execute()
            _GPU.stream().synchronize()
            try:
                self._replay = _GPU.capture(self._execute)
            except Exception as e:  # e.g. an engine layer that cannot be captured: stay eager for these shapes
                warnings.warn(f"{self.name}: CUDA graph capture failed ({e}); running eagerly", stacklevel=2)
        _GPU.stream().synchronize()
        return {n: o.clone() for n, o in self._dev_out.items()}

    def close(self) -> None:
        self._reset_buffers()
        self.context = self.engine = None
        super().close()
