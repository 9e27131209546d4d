"""Evaluation: image quality metrics and link-level evaluation of trained models."""
from jscc_rt.eval.flip import flip_available, flip_error
from jscc_rt.eval.lpips import LPIPS_ENV, MetricUnavailable, lpips_distance
from jscc_rt.eval.metrics import ms_ssim, mse, psnr, ssim

__all__ = ["LPIPS_ENV", "MetricUnavailable", "flip_available", "flip_error", "lpips_distance", "ms_ssim", "mse", "psnr", "ssim"]
