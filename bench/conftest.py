"""pytest-benchmark suites (not installed with the package).

Run: ``pytest bench/ --benchmark-json out.json`` (timed) or ``pytest bench/ --benchmark-disable`` (each once, as
CI does). Inputs are built in fixtures, outside the timed part. CUDA cases run when a GPU is present.
"""
from __future__ import annotations

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
