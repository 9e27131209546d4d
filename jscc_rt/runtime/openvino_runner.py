"""OpenVINO runner: the exported ONNX graphs on the CPU plugin, in bf16 on AMX / AVX512-BF16 CPUs.

OpenVINO's CPU plugin picks its arithmetic from the *inference precision hint*, not from the graph: ``bf16``
runs convolutions and matrix products on AMX (Sapphire Rapids and later) and keeps precision-sensitive ops in fp32;
``f32`` computes what the graph says. The default ``precision="auto"`` is ``bf16`` where the CPU reports BF16 in
``OPTIMIZATION_CAPABILITIES``, else ``f32``. One compiled model per input-shape signature is cached (static shapes
compile to faster kernels than a dynamic model). Package ``openvino`` (extra ``openvino``), imported in ``load()``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.runtime.base import Runner, RunnerUnavailable

#: Precision hints this runner accepts (OpenVINO's names) plus "auto".
OV_PRECISIONS: tuple[str, ...] = ("auto", "f32", "bf16", "f16")
#: Layer types that carry the multiply-adds of the JSCC decoders and denoisers (OpenVINO CPU plugin names).
HEAVY_LAYERS: tuple[str, ...] = ("Convolution", "GroupConvolution", "Deconvolution", "FullyConnected", "MatMul")


class OpenVINORunner(Runner):
    """``OpenVINORunner(path, precision="auto"|"f32"|"bf16"|"f16", threads=0, device="CPU")``.

    ``threads``: ``INFERENCE_NUM_THREADS`` (0 = one per CPU, set explicitly so the recorded count is the one used). After ``load()``, ``precision`` is the resolved
    hint and ``device`` names the CPU. Feeds ``{name: (B, ...) float32}``; outputs float32 torch tensors.
    """

    name = "openvino"

    def __init__(self, path: str | os.PathLike, *, precision: str = "auto", threads: int = 0,
                 device: str = "CPU") -> None:
        super().__init__()
        if precision not in OV_PRECISIONS:
            raise JsccInputError(f"unknown OpenVINO precision {precision!r}; choose one of {', '.join(OV_PRECISIONS)}")
        if threads < 0:
            raise JsccInputError(f"threads must be >= 0 (0 = backend default), got {threads}")
        self.path, self.precision, self.threads, self.ov_device = Path(path), precision, threads, device
        self.device = device
        self._core = self._model = None
        self._compiled: dict[tuple, object] = {}

    def load(self) -> None:
        try:
            import openvino as ov
        except ImportError as e:
            raise RunnerUnavailable("OpenVINO is not installed: pip install 'jscc-rt[openvino]'") from e
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model {str(self.path)!r} not found; create it with `jscc-rt export onnx`")
        core = ov.Core()
        if self.ov_device not in core.available_devices:
            raise RunnerUnavailable(f"OpenVINO device {self.ov_device!r} not available (have {core.available_devices})")
        caps = core.get_property(self.ov_device, "OPTIMIZATION_CAPABILITIES")
        want = {"bf16": "BF16", "f16": "FP16"}.get(self.precision)
        if self.precision == "auto":
            self.precision = "bf16" if "BF16" in caps else "f32"
        elif want and want not in caps:
            raise RunnerUnavailable(f"this {self.ov_device} has no {self.precision} support (capabilities {caps}); "
                                    "use precision='f32' (or 'auto')")
        self.device = f"{core.get_property(self.ov_device, 'FULL_DEVICE_NAME')} (OpenVINO {ov.get_version()})"
        self.threads = self.threads or os.cpu_count() or 1
        self._core, self._model = core, core.read_model(str(self.path))
        self.input_names = [p.get_any_name() for p in self._model.inputs]
        self.output_names = [p.get_any_name() for p in self._model.outputs]
        self._compiled = {}
        self.loaded = True

    def _compile(self, shapes: tuple[tuple[int, ...], ...]):
        """The compiled model (and its infer request) for one input-shape signature, cached."""
        hit = self._compiled.get(shapes)
        if hit is None:
            model = self._model.clone()  # type: ignore[union-attr]
            model.reshape({n: list(s) for n, s in zip(self.input_names, shapes)})
            cfg = {"INFERENCE_PRECISION_HINT": self.precision, "PERFORMANCE_HINT": "LATENCY",
                   "INFERENCE_NUM_THREADS": self.threads}
            compiled = self._core.compile_model(model, self.ov_device, cfg)  # type: ignore[union-attr]
            hit = self._compiled[shapes] = (compiled, compiled.create_infer_request())
        return hit

    def infer(self, feeds: Mapping[str, torch.Tensor | np.ndarray]) -> dict[str, torch.Tensor]:
        self._check_feeds(feeds)
        arrs = [np.ascontiguousarray(feeds[n].detach().cpu().numpy() if isinstance(feeds[n], torch.Tensor)
                                     else np.asarray(feeds[n]), dtype=np.float32) for n in self.input_names]
        compiled, req = self._compile(tuple(a.shape for a in arrs))
        res = req.infer(dict(zip(self.input_names, arrs)))
        return {n: torch.from_numpy(np.array(res[compiled.output(i)])) for i, n in enumerate(self.output_names)}

    def runtime_precisions(self, layer_types: tuple[str, ...] = HEAVY_LAYERS) -> dict[str, dict[str, int]]:
        """``{layer type: {precision: count}}`` of the layers OpenVINO actually runs (its runtime model's
        ``layerType`` / ``runtimePrecision``), over every compiled input shape, for ``layer_types``. Tells whether a
        bf16 hint reached every heavy layer or one stayed f32 for lack of a low-precision kernel (e.g.
        ``Deconvolution`` in some plugin versions). Empty before the first :meth:`infer`."""
        out: dict[str, dict[str, int]] = {}
        for compiled, _ in self._compiled.values():
            for op in compiled.get_runtime_model().get_ordered_ops():  # type: ignore[attr-defined]
                info = op.get_rt_info()
                lt = info["layerType"].astype(str) if "layerType" in info else "?"
                if lt in layer_types:
                    pr = info["runtimePrecision"].astype(str) if "runtimePrecision" in info else "?"
                    out.setdefault(lt, {})
                    out[lt][pr] = out[lt].get(pr, 0) + 1
        return out

    def close(self) -> None:
        self._compiled, self._model, self._core = {}, None, None
        super().close()
