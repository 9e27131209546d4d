"""Image quality metrics on ``(B, 3, H, W)`` float tensors in [0, 1]: PSNR, SSIM, MS-SSIM.

SSIM uses Wang et al.'s constants (Gaussian window 11, sigma 1.5, K1=0.01, K2=0.03) over the valid region, the
convention of scikit-image (``gaussian_weights=True, use_sample_covariance=False``) and pytorch-msssim.
MS-SSIM follows pytorch-msssim: 5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2x2 average pooling.
Each returns one value per image, ``(B,)`` float32 (computed in float64 or float32, whichever is wider).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from jscc_rt._validate import JsccInputError, check_tensor

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    check_tensor(x, "reference images", ndim=4)
    check_tensor(y, "test images", ndim=4)
    if x.shape != y.shape:
        raise JsccInputError(f"image shapes differ: reference {tuple(x.shape)} vs test {tuple(y.shape)}")
    acc = torch.promote_types(torch.promote_types(x.dtype, y.dtype), torch.float32)
    return x.to(acc), y.to(acc)


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image ``(B,)``."""
    x, y = _pair(x, y)
    return (x - y).square().flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR in dB per image ``(B,)``: ``10 log10(data_range^2 / MSE)`` (inf for identical images)."""
    return 10.0 * torch.log10(data_range**2 / mse(x, y))


def _gauss_window(size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    coords = torch.arange(size, dtype=dtype, device=device) - size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(x: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    """Separable valid-mode Gaussian filter per channel."""
    c = x.shape[1]
    x = F.conv2d(x, win.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, win.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _ssim_cs(x: torch.Tensor, y: torch.Tensor, win: torch.Tensor, data_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel SSIM and contrast-structure terms, each ``(B, C)``."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = _filter(x, win), _filter(y, win)
    sxx = _filter(x * x, win) - mx * mx
    syy = _filter(y * y, win) - my * my
    sxy = _filter(x * y, win) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim_map = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
    return ssim_map.flatten(2).mean(-1), cs.flatten(2).mean(-1)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, win_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """SSIM per image ``(B,)`` (mean over channels)."""
    x, y = _pair(x, y)
    if min(x.shape[-2:]) < win_size:
        raise JsccInputError(f"SSIM needs images at least {win_size}x{win_size}, got {tuple(x.shape[-2:])}")
    s, _ = _ssim_cs(x, y, _gauss_window(win_size, sigma, x.dtype, x.device), data_range)
    return s.mean(1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, win_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """MS-SSIM per image ``(B,)``; images must be larger than ``(win_size - 1) * 16`` pixels per side."""
    x, y = _pair(x, y)
    need = (win_size - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1)
    if min(x.shape[-2:]) <= need:
        raise JsccInputError(f"MS-SSIM needs images larger than {need}x{need}, got {tuple(x.shape[-2:])}")
    win = _gauss_window(win_size, sigma, x.dtype, x.device)
    w = torch.tensor(MS_SSIM_WEIGHTS, dtype=x.dtype, device=x.device)
    mcs = []
    for level in range(len(MS_SSIM_WEIGHTS)):
        s, cs = _ssim_cs(x, y, win, data_range)
        if level < len(MS_SSIM_WEIGHTS) - 1:
            mcs.append(torch.relu(cs))
            pad = [d % 2 for d in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, padding=pad)
    vals = torch.stack(mcs + [torch.relu(s)], dim=0)  # (levels, B, C)
    return torch.prod(vals ** w.view(-1, 1, 1), dim=0).mean(1)
