"""Backend runners with one shape (Polygraphy's): ``load()``, ``infer(feeds) -> dict``, ``close()``, context manager.

Feeds and outputs are ``{name: tensor}`` dicts (torch tensors out; numpy arrays accepted in). Every graph input
must be fed; extra feeds are ignored, so all receiver graphs take the same feeds even where an exporter dropped an
input the graph does not use (``snr_db`` of the decoder-only receiver). Backend packages (onnxruntime, tensorrt)
are imported inside ``load()``.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch


class RunnerUnavailable(RuntimeError):
    """The backend cannot run here (package or device missing); the message says what to install or use."""


class Runner(ABC):
    """Base runner. ``input_names``/``output_names`` are known after ``load()``."""

    name = "runner"

    def __init__(self) -> None:
        self.loaded = False
        self.input_names: list[str] = []
        self.output_names: list[str] = []

    @abstractmethod
    def load(self) -> None: ...

    @abstractmethod
    def infer(self, feeds: Mapping[str, torch.Tensor | np.ndarray]) -> dict[str, torch.Tensor]: ...

    def close(self) -> None:
        self.loaded = False

    def __enter__(self) -> "Runner":
        if not self.loaded:
            self.load()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_feeds(self, feeds: Mapping[str, object]) -> None:
        if not self.loaded:
            raise RuntimeError(f"{self.name}: call load() (or use it as a context manager) before infer()")
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise KeyError(f"{self.name}: feeds lack {missing}; this graph takes {self.input_names}")


class TorchRunner(Runner):
    """Runs a graph module eagerly (or through ``torch.compile`` with ``compile=True``)."""

    name = "torch"

    def __init__(self, module: torch.nn.Module, input_names: Sequence[str], output_names: Sequence[str] = ("images",),
                 *, device: str | torch.device = "cpu", compile: bool = False) -> None:
        super().__init__()
        self.module, self.device, self.compile = module, torch.device(device), compile
        self.input_names, self.output_names = list(input_names), list(output_names)
        self._fn = None

    def load(self) -> None:
        self.module = self.module.to(self.device).eval()
        self._fn = torch.compile(self.module, dynamic=True) if self.compile else self.module
        self.loaded = True

    def infer(self, feeds: Mapping[str, torch.Tensor | np.ndarray]) -> dict[str, torch.Tensor]:
        self._check_feeds(feeds)
        args = [torch.as_tensor(feeds[n]).to(self.device) for n in self.input_names]
        with torch.no_grad():
            out = self._fn(*args)  # type: ignore[misc]
        outs = out if isinstance(out, tuple) else (out,)
        return dict(zip(self.output_names, outs))


class OnnxRuntimeRunner(Runner):
    """onnxruntime session; ``providers`` e.g. ``["CPUExecutionProvider"]`` or ``["CUDAExecutionProvider", ...]``."""

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike, *, providers: Sequence[str] = ("CPUExecutionProvider",),
                 threads: int = 0) -> None:
        super().__init__()
        self.path, self.providers, self.threads = Path(path), list(providers), threads
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
        if self.threads:
            so.intra_op_num_threads = self.threads
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


class TensorRTRunner(Runner):
    """Deserializes a TensorRT engine and runs it on CUDA tensors (TensorRT 10 tensor API)."""

    name = "tensorrt"

    def __init__(self, engine_path: str | os.PathLike) -> None:
        super().__init__()
        self.engine_path = Path(engine_path)
        self.engine = self.context = None

    def load(self) -> None:
        try:
            import tensorrt as trt
        except ImportError as e:
            raise RunnerUnavailable("TensorRT is not installed: pip install 'jscc-rt[trt]' on a machine with an NVIDIA GPU") from e
        if not torch.cuda.is_available():
            raise RunnerUnavailable("TensorRT needs a CUDA GPU; none is visible")
        logger = trt.Logger(trt.Logger.WARNING)
        self.engine = trt.Runtime(logger).deserialize_cuda_engine(self.engine_path.read_bytes())
        if self.engine is None:
            raise RunnerUnavailable(f"could not deserialize {self.engine_path} (built for another TensorRT/GPU?)")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.loaded = True

    def infer(self, feeds: Mapping[str, torch.Tensor | np.ndarray]) -> dict[str, torch.Tensor]:
        self._check_feeds(feeds)
        ctx, eng = self.context, self.engine
        keep = []
        for n in self.input_names:
            t = torch.as_tensor(feeds[n]).cuda().contiguous()
            keep.append(t)
            ctx.set_input_shape(n, tuple(t.shape))  # type: ignore[union-attr]
            ctx.set_tensor_address(n, t.data_ptr())  # type: ignore[union-attr]
        outs = {}
        for n in self.output_names:
            shape = tuple(ctx.get_tensor_shape(n))  # type: ignore[union-attr]
            outs[n] = torch.empty(shape, device="cuda", dtype=torch.float32 if "float" in str(eng.get_tensor_dtype(n)).lower() else torch.float16)  # type: ignore[union-attr]
            ctx.set_tensor_address(n, outs[n].data_ptr())  # type: ignore[union-attr]
        stream = torch.cuda.current_stream()
        if not ctx.execute_async_v3(stream.cuda_stream):  # type: ignore[union-attr]
            raise RuntimeError("TensorRT execution failed")
        stream.synchronize()
        return outs

    def close(self) -> None:
        self.context = self.engine = None
        super().close()
