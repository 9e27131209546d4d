"""Metrics against scikit-image and pytorch-msssim on real images (within 1e-3), and LPIPS availability."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from jscc_rt.data import sample_images
from jscc_rt.eval import MetricUnavailable, lpips_distance, ms_ssim, psnr, ssim
from jscc_rt.eval.lpips import LPIPS_ENV


@pytest.fixture(scope="module")
def pairs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Real photos with three distortion kinds (noise, blur, quantization)."""
    g = torch.Generator().manual_seed(0)
    out = []
    for i, (_, img) in enumerate(sample_images("natural")[:3]):
        x = img[None]
        if i == 0:
            y = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
        elif i == 1:
            y = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        else:
            y = torch.round(x * 15) / 15
        out.append((x, y))
    return out


def test_psnr_matches_skimage(pairs) -> None:
    from skimage.metrics import peak_signal_noise_ratio

    for x, y in pairs:
        ref = peak_signal_noise_ratio(x[0].double().numpy(), y[0].double().numpy(), data_range=1.0)
        assert abs(float(psnr(x, y)[0]) - ref) < 1e-3


def test_ssim_matches_skimage(pairs) -> None:
    from skimage.metrics import structural_similarity

    for x, y in pairs:
        ref = structural_similarity(
            x[0].permute(1, 2, 0).double().numpy(), y[0].permute(1, 2, 0).double().numpy(),
            data_range=1.0, channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        )
        got = float(ssim(x, y)[0])
        assert abs(got - ref) < 1e-3, (got, ref)
        assert 0.3 < got < 1.0


def test_ms_ssim_matches_pytorch_msssim(pairs) -> None:
    from pytorch_msssim import ms_ssim as ref_ms_ssim

    for x, y in pairs:
        ref = float(ref_ms_ssim(x.double(), y.double(), data_range=1.0, size_average=False)[0])
        got = float(ms_ssim(x, y)[0])
        assert abs(got - ref) < 1e-3, (got, ref)


def test_identical_and_batched() -> None:
    x = torch.rand(3, 3, 200, 200)
    assert math.isinf(float(psnr(x, x)[0]))
    torch.testing.assert_close(ssim(x, x), torch.ones(3), atol=1e-6, rtol=0)
    torch.testing.assert_close(ms_ssim(x, x), torch.ones(3), atol=1e-6, rtol=0)
    y = (x + 0.1).clamp(0, 1)
    per = torch.stack([psnr(x[i : i + 1], y[i : i + 1])[0] for i in range(3)])
    torch.testing.assert_close(psnr(x, y), per)


def test_metric_bad_input() -> None:
    from jscc_rt._validate import JsccInputError

    with pytest.raises(JsccInputError, match="shapes differ"):
        psnr(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(JsccInputError, match="MS-SSIM needs images larger than 160x160"):
        ms_ssim(torch.rand(1, 3, 100, 100), torch.rand(1, 3, 100, 100))


def test_lpips_unavailable_names_env_var(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LPIPS_ENV, str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    from jscc_rt.eval import lpips as mod

    mod._model.cache_clear()
    with pytest.raises(MetricUnavailable, match=LPIPS_ENV):
        lpips_distance(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))
