"""Triton sampler_step vs the float64 reference, in-kernel noise statistics, odd sizes, low precision."""
from __future__ import annotations

import pytest
import torch

from jscc_rt.kernels.sampler_step.fused import sampler_step_triton
from jscc_rt.kernels.sampler_step.naive import sampler_step_naive

from .conftest import device_params, normwise_rel_err


@pytest.mark.parametrize("device", device_params())
@pytest.mark.parametrize("shape", [(1, 24, 7, 9), (37, 5, 3, 3), (3, 2049)])
@pytest.mark.parametrize("with_noise", [False, True])
def test_matches_float64_reference(device, shape, with_noise) -> None:
    g = torch.Generator().manual_seed(0)
    x, eps, noise = (torch.randn(shape, generator=g) for _ in range(3))
    a, b, c = (torch.rand(shape[0], generator=g) for _ in range(3))
    to = lambda t: t.to(device)  # noqa: E731
    kw = dict(c=to(c), noise=to(noise)) if with_noise else {}
    got = sampler_step_triton(to(x), to(eps), to(a), to(b), **kw)
    kw64 = dict(c=c.double(), noise=noise.double()) if with_noise else {}
    ref = sampler_step_naive(x.double(), eps.double(), a.double(), b.double(), **kw64)
    assert got.shape == x.shape
    assert normwise_rel_err(got, ref) < 1e-5, "x_next"


@pytest.mark.parametrize("device", device_params())
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float16, 2e-3), (torch.bfloat16, 1.6e-2)])
def test_low_precision(device, dtype, tol) -> None:
    g = torch.Generator().manual_seed(1)
    x, eps = torch.randn(4, 999, generator=g).to(dtype), torch.randn(4, 999, generator=g).to(dtype)
    a, b = torch.rand(4, generator=g), torch.rand(4, generator=g)
    got = sampler_step_triton(x.to(device), eps.to(device), a.to(device), b.to(device))
    assert got.dtype == dtype
    assert normwise_rel_err(got, sampler_step_naive(x.double(), eps.double(), a.double(), b.double())) < tol


@pytest.mark.parametrize("device", device_params())
def test_in_kernel_noise_statistics(device) -> None:
    bsz, n = 4, 1 << 16
    x = torch.zeros(bsz, n, device=device)
    ones = torch.ones(bsz, device=device)

    def draw(seed: int) -> torch.Tensor:
        return sampler_step_triton(x, x, ones, ones, c=ones, seed=seed).cpu().double()

    a, b = draw(5), draw(6)
    assert abs(float(a.mean())) < 5 / a.numel() ** 0.5
    assert abs(float(a.var()) - 1) < 5 * (2 / a.numel()) ** 0.5
    off = torch.corrcoef(a)[~torch.eye(bsz, dtype=torch.bool)]
    assert float(off.abs().max()) < 5 / n**0.5, "samples independent"
    assert abs(float(torch.corrcoef(torch.stack((a.flatten(), b.flatten())))[0, 1])) < 5 / a.numel() ** 0.5
    assert torch.equal(a, draw(5))
