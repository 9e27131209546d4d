from __future__ import annotations

import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def device_params() -> list:
    """CPU (Triton interpreter) always; CUDA, marked ``gpu``, when a GPU is present."""
    return [pytest.param(d, marks=[pytest.mark.gpu] if d == "cuda" else []) for d in DEVICES]


def normwise_rel_err(got: torch.Tensor, ref: torch.Tensor) -> float:
    """``max|got - ref| / max|ref|`` in float64."""
    g, r = got.double().cpu(), ref.double().cpu()
    return float((g - r).abs().max() / r.abs().max().clamp_min(1e-300))
