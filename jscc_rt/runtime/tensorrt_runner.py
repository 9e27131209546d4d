"""TensorRT runner: deserializes an engine and runs it on CUDA tensors (TensorRT tensor API)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from jscc_rt.runtime.base import Runner, RunnerUnavailable


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
