"""Exponential moving average of a model's weights (validated and shipped instead of the raw weights).

``shadow <- d_n * shadow + (1 - d_n) * weights`` after every optimizer step ``n`` (0-based), with the warm-up
``d_n = min(decay, (1 + n) / (10 + n))`` so short runs and the first steps of long ones are not dominated by the
random initialization (``d_0 = 0.1``, ``d_90 = 0.91``, ``d_n -> decay``; with decay 0.999 the average spans about
the last 1000 steps of a long run). Buffers that are not floating point are copied. The shadow is float32 in the
weights' memory layout.
"""
from __future__ import annotations

import torch
from torch import nn


class EMA:
    """Float32 moving average of ``model.state_dict()``; state is plain tensors + ints (``weights_only``-safe)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.updates = 0
        self.shadow: dict[str, torch.Tensor] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def current_decay(self) -> float:
        """The decay the next :meth:`update` uses (warm-up schedule in the module docstring)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the current weights of ``model`` (same architecture) into the average."""
        w = 1.0 - self.current_decay()
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if s.is_floating_point():
                s.lerp_(v.detach(), w)
            else:
                s.copy_(v)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
        for k, v in state["shadow"].items():
            self.shadow[k].copy_(v)
