"""Consistency models (Song et al. 2023) distilled from the epsilon-prediction teacher.

The student keeps the teacher's architecture and is parameterized so the boundary condition ``f(x, 0) = x`` holds:
``f(x, t) = c_skip(t) x + c_out(t) x0_hat(x, t)`` with ``x0_hat = (x - sqrt(1 - ab_t) F(x, t)) / sqrt(ab_t)`` and
the LCM coefficients ``c_skip = sd^2 / ((10 t)^2 + sd^2)``, ``c_out = 10 t / sqrt((10 t)^2 + sd^2)``, ``sd = 0.5``
(``t`` in steps; ``t <= 0`` returns ``x``).
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from jscc_rt.diffusion.denoiser import LatentDenoiser
from jscc_rt.diffusion.schedule import NoiseSchedule

SIGMA_DATA = 0.5
TIMESTEP_SCALING = 10.0


def boundary_coefficients(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(c_skip, c_out)`` ``(B,)`` for steps ``t`` (clamped at 0)."""
    s = TIMESTEP_SCALING * t.to(torch.float64).clamp(min=0)
    c_skip = SIGMA_DATA**2 / (s**2 + SIGMA_DATA**2)
    c_out = s / torch.sqrt(s**2 + SIGMA_DATA**2)
    return c_skip, c_out


class ConsistencyModel(nn.Module):
    """``f(x_t, t, snr_db) -> x0`` wrapping an epsilon network (initialized from the teacher)."""

    def __init__(self, net: LatentDenoiser, schedule: NoiseSchedule) -> None:
        super().__init__()
        self.net = net
        self.schedule = schedule
        self.config = net.config

    @classmethod
    def from_teacher(cls, teacher: LatentDenoiser, schedule: NoiseSchedule) -> "ConsistencyModel":
        return cls(copy.deepcopy(teacher), schedule)

    def forward(self, x: torch.Tensor, t: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        ab = self.schedule.alpha_bar_at(t)
        eps = self.net(x, t, snr_db)
        shape = (-1,) + (1,) * (x.ndim - 1)
        ab_ = ab.to(x.dtype).view(shape)
        x0 = (x - torch.sqrt(1 - ab_) * eps) / torch.sqrt(ab_)
        c_skip, c_out = boundary_coefficients(t)
        return c_skip.to(x.dtype).view(shape) * x + c_out.to(x.dtype).view(shape) * x0
