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

from jscc_rt.runtime.base import Runner, RunnerUnavailable
from jscc_rt.runtime.tensorrt_runner import TensorRTRunner

__all__ = ["OnnxRuntimeRunner", "Runner", "RunnerUnavailable", "TensorRTRunner", "TorchRunner"]


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
