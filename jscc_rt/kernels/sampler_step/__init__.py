"""``sampler_step``: fused DDPM / DDIM / consistency update with per-sample coefficients."""
from jscc_rt.kernels.sampler_step.naive import sampler_step_naive

__all__ = ["sampler_step_naive"]
