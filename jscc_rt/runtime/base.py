"""The runner contract (Polygraphy's shape): ``load()``, ``infer(feeds) -> dict``, ``close()``, context manager.

Feeds and outputs are ``{name: tensor}`` dicts (torch tensors out; numpy arrays accepted in). Every graph input
must be fed; extra feeds are ignored, so all receiver graphs take the same feeds even where an exporter dropped an
input the graph does not use (``snr_db`` of the decoder-only receiver). Backend packages (onnxruntime, openvino,
tensorrt) are imported inside ``load()``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Mapping

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
