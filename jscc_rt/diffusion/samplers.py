"""Samplers with diffusers' two-step API: ``set_timesteps(n, start_step)`` then ``step(model_output, t, sample)``.

Every update is ``x_next = a*x + b*model_output (+ c*noise)`` with per-sample coefficients, executed by
:func:`jscc_rt.kernels.sampler_step` (one fused Triton launch per step on CUDA). Start steps are per sample
``(B,)`` and may be fractional (the channel's noise level between grid steps).

* :class:`DDIMSampler`: ``model_output`` is epsilon; ``eta`` 0 (deterministic) .. 1.
* :class:`DDPMSampler`: ancestral sampling = DDIM with ``eta = 1`` (exact DDPM when every step is taken).
* :class:`ConsistencySampler`: ``model_output`` is the student's ``x0``; multi-step sampling re-noises to the next
  step, with fresh noise (``eta = 1``, Song et al. 2023, Alg. 1) or the noise the estimate implies (``eta = 0``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.diffusion.schedule import NoiseSchedule
from jscc_rt.kernels.dispatch import sampler_step


@dataclass
class SamplerOutput:
    """``prev_sample`` ``(B, ...)``: the sample at the next (lower) step; ``pred_original_sample``: the x0 estimate."""

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


def _coef(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample coefficients in float32 (float64 for float64 samples, so references stay exact)."""
    return v.to(torch.float64 if x.dtype == torch.float64 else torch.float32)


def _view(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.to(x.dtype).view((-1,) + (1,) * (x.ndim - 1))


def plan_steps(start_step: torch.Tensor, n: int) -> torch.Tensor:
    """``(n + 1, B)``: ``n`` steps evenly spaced from each sample's ``start_step`` ``(B,)`` down (``u, u(n-1)/n, ...,
    u/n``), then ``-1`` (clean data). A sample with ``u <= 0`` (already at or above the clean level) takes no step:
    all ``-1``. Export-safe for a Python ``n``; the eager samplers and the exported receiver graph share it."""
    uc = start_step.clamp(min=0)
    ts = torch.stack([uc * (1.0 - i / n) for i in range(n)] + [torch.full_like(uc, -1.0)])
    return torch.where(start_step.unsqueeze(0) <= 0, torch.full_like(ts, -1.0), ts)


def ddim_coefficients(ab_t: torch.Tensor, ab_prev: torch.Tensor, t: torch.Tensor,
                      eta: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(a, b, sigma)`` ``(B,)`` of the DDIM update ``x_prev = a x + b eps + sigma z`` from ``alpha_bar`` at the
    step ``t`` and at the next (lower) step; samples with ``t < 0`` pass through (``a = 1``, ``b = sigma = 0``).
    ``eta = 0`` is deterministic DDIM (``sigma = 0``), ``eta = 1`` ancestral DDPM."""
    if eta > 0:
        sigma = eta * torch.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev)).nan_to_num(0.0)
    else:
        sigma = torch.zeros_like(ab_t)
    a = torch.sqrt(ab_prev / ab_t)
    b = torch.sqrt((1 - ab_prev - sigma**2).clamp(min=0)) - torch.sqrt(ab_prev * (1 - ab_t) / ab_t)
    done = t < 0
    return torch.where(done, 1.0, a), torch.where(done, 0.0, b), torch.where(done, 0.0, sigma)


def consistency_coefficients(ab_t: torch.Tensor, ab_prev: torch.Tensor, t_prev: torch.Tensor,
                             eta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(a, b, c)`` ``(B,)`` of the multistep consistency update ``x_prev = a x + b x0 + c z``: re-noise the ``x0``
    estimate to the next planned level, ``x_prev = sqrt(ab_prev) x0 + sqrt(1 - ab_prev) (sqrt(1 - eta^2) eps_hat +
    eta z)`` with the noise the estimate implies, ``eps_hat = (x - sqrt(ab_t) x0) / sqrt(1 - ab_t)``. ``eta = 1`` is
    Song et al.'s fresh noise (the next step sees ``x0`` only and samples the posterior); ``eta = 0`` re-noises
    deterministically, so every step keeps what the received latent says (DDIM with the student as ``x0``
    predictor). After the last step (``t_prev < 0``) ``x0`` itself (``a = c = 0``, ``b = 1``)."""
    last = t_prev < 0
    keep = torch.sqrt((1 - ab_prev) * (1.0 - eta * eta) / (1 - ab_t))
    a, b = keep, torch.sqrt(ab_prev) - keep * torch.sqrt(ab_t)
    c = eta * torch.sqrt(1 - ab_prev)
    return torch.where(last, 0.0, a), torch.where(last, 1.0, b), torch.where(last, 0.0, c)


def consistency_needs_noise(steps: int, eta: float) -> bool:
    """Whether a ``steps``-step consistency receiver draws fresh noise (an input of its exported graph)."""
    return steps > 1 and eta > 0


class _Base:
    def __init__(self, schedule: NoiseSchedule, *, impl: str | None = None) -> None:
        self.schedule = schedule
        self.impl = impl
        self.timesteps: torch.Tensor | None = None  # (n, B) float64, descending per column
        self._final: torch.Tensor | None = None  # (B,) the step after the last planned one: -1
        self._i = 0

    def set_timesteps(self, num_inference_steps: int, start_step: torch.Tensor) -> None:
        """Plan ``num_inference_steps`` steps from each sample's ``start_step`` ``(B,)`` down to clean data.

        Steps are evenly spaced in ``[0, start_step]`` (the first is the start step itself). Raises if
        ``num_inference_steps < 1`` or any start step lies outside ``[-1, T-1]``.
        """
        t_max = self.schedule.num_steps - 1
        if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise JsccInputError(f"num_inference_steps must be an int >= 1, got {num_inference_steps!r}")
        u = start_step.to(torch.float64)
        if bool((u < -1).any()) or bool((u > t_max).any()):
            raise JsccInputError(f"start steps must lie in [-1, {t_max}], got [{float(u.min())}, {float(u.max())}]")
        plan = plan_steps(u, num_inference_steps)  # (n + 1, B), the last row -1
        self.timesteps, self._final = plan[:-1], plan[-1]
        self._i = 0

    @property
    def num_steps(self) -> int:
        return 0 if self.timesteps is None else self.timesteps.shape[0]

    def _next_t(self) -> torch.Tensor:
        assert self.timesteps is not None
        return self.timesteps[self._i + 1] if self._i + 1 < self.timesteps.shape[0] else self._final

    def _check(self, t: torch.Tensor) -> None:
        if self.timesteps is None:
            raise JsccInputError("call set_timesteps(n, start_step) before step()")
        if self._i >= self.timesteps.shape[0]:
            raise JsccInputError(f"all {self.timesteps.shape[0]} steps already taken; call set_timesteps again")
        if not torch.allclose(t.to(torch.float64), self.timesteps[self._i]):
            raise JsccInputError(f"step() got timestep {t.tolist()}, expected {self.timesteps[self._i].tolist()}")


class DDIMSampler(_Base):
    """DDIM (Song et al. 2021) with configurable ``eta``; ``model_output`` = predicted epsilon."""

    def __init__(self, schedule: NoiseSchedule, *, eta: float = 0.0, impl: str | None = None) -> None:
        super().__init__(schedule, impl=impl)
        if not 0.0 <= eta <= 1.0:
            raise JsccInputError(f"eta must lie in [0, 1], got {eta}")
        self.eta = eta

    def step(self, model_output: torch.Tensor, timestep: torch.Tensor, sample: torch.Tensor,
             *, generator: torch.Generator | None = None) -> SamplerOutput:
        self._check(timestep)
        t, t_prev = self.timesteps[self._i], self._next_t()  # type: ignore[index]
        ab_t = self.schedule.alpha_bar_at(t)
        a, b, sigma = ddim_coefficients(ab_t, self.schedule.alpha_bar_at(t_prev), t, self.eta)
        done = t < 0  # samples with no steps pass through unchanged
        x0 = (sample - _view(torch.sqrt(1 - ab_t), sample) * model_output) / _view(torch.sqrt(ab_t), sample)
        x0 = torch.where(_view(done, sample).bool(), sample, x0)
        c = _coef(sigma, sample) if self.eta > 0 else None
        prev = sampler_step(sample, model_output, _coef(a, sample), _coef(b, sample), c, generator=generator,
                            impl=self.impl)
        self._i += 1
        return SamplerOutput(prev, x0)


class DDPMSampler(DDIMSampler):
    """Ancestral DDPM sampling over the planned steps (DDIM with ``eta = 1``)."""

    def __init__(self, schedule: NoiseSchedule, *, impl: str | None = None) -> None:
        super().__init__(schedule, eta=1.0, impl=impl)


class ConsistencySampler(_Base):
    """Multi-step consistency sampling; ``model_output`` = the consistency function's ``x0`` estimate; ``eta`` as
    in :func:`consistency_coefficients` (1: fresh noise, 0: deterministic re-noising)."""

    def __init__(self, schedule: NoiseSchedule, *, eta: float = 1.0, impl: str | None = None) -> None:
        super().__init__(schedule, impl=impl)
        if not 0.0 <= eta <= 1.0:
            raise JsccInputError(f"eta must lie in [0, 1], got {eta}")
        self.eta = eta

    def step(self, model_output: torch.Tensor, timestep: torch.Tensor, sample: torch.Tensor,
             *, generator: torch.Generator | None = None) -> SamplerOutput:
        self._check(timestep)
        t, t_prev = self.timesteps[self._i], self._next_t()  # type: ignore[index]
        a, b, c = (_coef(v, sample) for v in consistency_coefficients(
            self.schedule.alpha_bar_at(t), self.schedule.alpha_bar_at(t_prev), t_prev, self.eta))
        prev = sampler_step(sample, model_output, a, b, c if self.eta > 0 else None, generator=generator,
                            impl=self.impl)
        self._i += 1
        return SamplerOutput(prev, model_output)
