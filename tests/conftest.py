"""Test-session setup: Triton kernels run under the interpreter on CPU-only machines.

TRITON_INTERPRET must be set before a kernel module is imported (triton reads it at ``@triton.jit`` time).
"""
from __future__ import annotations

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
