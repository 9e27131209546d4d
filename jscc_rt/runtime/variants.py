"""Precision variants on disk: the fp32 graph ``NAME.onnx`` and one ``NAME.<precision>.onnx`` per exported
precision, side by side. The runners use this naming to find and label the graph they run; the exporter writes it."""
from __future__ import annotations

from pathlib import Path

from jscc_rt._validate import JsccInputError

#: Precisions a graph can be exported in. fp32 is the reference every variant is gated against.
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16", "int8")


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`, else raise :class:`JsccInputError` naming it."""
    if precision not in PRECISIONS:
        raise JsccInputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return precision


def variant_path(onnx_path: str | Path, precision: str) -> Path:
    """Path of the ``precision`` variant of the fp32 graph ``onnx_path``: ``NAME.onnx`` for fp32, else
    ``NAME.<precision>.onnx`` in the same folder."""
    p = Path(onnx_path)
    check_precision(precision)
    base = p.name[: -len(".onnx")] if p.name.endswith(".onnx") else p.stem
    for q in PRECISIONS[1:]:
        if base.endswith("." + q):
            base = base[: -len(q) - 1]
    return p.with_name(base + ".onnx" if precision == "fp32" else f"{base}.{precision}.onnx")


def precision_of(onnx_path: str | Path) -> str:
    """Precision named by a variant's file name (``NAME.fp16.onnx`` -> ``"fp16"``; ``NAME.onnx`` -> ``"fp32"``)."""
    name = Path(onnx_path).name
    for q in PRECISIONS[1:]:
        if name.endswith(f".{q}.onnx"):
            return q
    return "fp32"
