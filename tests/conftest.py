"""Test-session setup: Triton kernels run under the interpreter on CPU-only machines.

TRITON_INTERPRET must be set before a kernel module is imported (triton reads it at ``@triton.jit`` time).
"""
from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


class _Evil:
    """Unpickling this calls ``os.system("touch <marker>")``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def write_evil_pickle() -> Callable[[Path, Path, str], None]:
    """``write(path, marker, kind)``: a file whose unpickling runs ``touch marker``; ``kind`` ``raw-pickle-2`` /
    ``raw-pickle-4`` (plain pickle protocols) or ``torch-zip`` (the zip layout torch.save writes)."""

    def write(path: Path, marker: Path, kind: str) -> None:
        payload = {"format": 2, "step": 1, "x": _Evil(marker)}
        if kind.startswith("raw-pickle"):
            path.write_bytes(pickle.dumps(payload, protocol=int(kind[-1])))
        else:
            buf = io.BytesIO()
            torch.save(payload, buf)
            path.write_bytes(buf.getvalue())

    return write


@pytest.fixture
def udp_example() -> Callable[[str], Any]:
    """``load(name)``: the module ``examples/udp_loopback/<name>.py`` (not a package; loaded by path)."""
    import importlib.util

    def load(name: str) -> Any:
        path = Path(__file__).resolve().parent.parent / "examples" / "udp_loopback" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"udp_loopback_{name}", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    return load
