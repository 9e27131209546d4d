"""Triton tx_channel_rx vs the float64 PyTorch reference, in-kernel noise statistics, odd sizes, low precision."""
from __future__ import annotations

import pytest
import torch

from jscc_rt.kernels.tx_channel_rx.fused import tx_channel_rx_triton
from jscc_rt.kernels.tx_channel_rx.naive import n_blocks, tx_channel_rx_naive

from .conftest import device_params, normwise_rel_err

TABLE = torch.linspace(0.9999, 1e-3, 1000)  # any decreasing alpha_bar table
TOL_FP32 = 1e-5  # max normwise relative error, fp32 kernel vs float64 reference


def _inputs(batch: int, k: int, block_len: int | None, fading: bool, csi: float, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, 2 * k, generator=g) * 3.0
    noise = torch.randn(batch, 2 * k, generator=g)
    snr = torch.rand(batch, generator=g) * 30 - 5
    if not fading:
        return z, noise, snr, None, None
    nb = n_blocks(k, block_len)
    h = torch.randn(batch, nb, 2, generator=g) * 0.7
    h_hat = h + csi**0.5 * torch.randn(batch, nb, 2, generator=g) * 0.7
    return z, noise, snr, h, h_hat


CASES = [
    # (batch, k, block_len, fading, csi_err_var, equalizer, output)
    (1, 777, None, False, 0.0, "zf", "equalized"),
    (37, 257, None, False, 0.0, "zf", "diffusion"),
    (3, 1000, None, True, 0.0, "zf", "equalized"),
    (5, 999, 32, True, 0.05, "mmse", "equalized"),
    (4, 515, 1, True, 0.1, "mmse", "diffusion"),
    (2, 4099, 100, True, 0.0, "zf", "diffusion"),
]


@pytest.mark.parametrize("device", device_params())
@pytest.mark.parametrize(("batch", "k", "block_len", "fading", "csi", "eq", "output"), CASES)
def test_matches_float64_reference(device, batch, k, block_len, fading, csi, eq, output) -> None:
    z, noise, snr, h, h_hat = _inputs(batch, k, block_len, fading, csi)
    to = lambda t: None if t is None else t.to(device)  # noqa: E731
    kw = dict(block_len=block_len, csi_err_var=csi, equalizer=eq, output=output)
    got = tx_channel_rx_triton(to(z), to(snr), h=to(h), h_hat=to(h_hat), noise=to(noise), alpha_bar_table=to(TABLE), **kw)
    d = lambda t: None if t is None else t.double()  # noqa: E731
    ref = tx_channel_rx_naive(d(z), d(snr), h=d(h), h_hat=d(h_hat), noise=d(noise), alpha_bar_table=d(TABLE), **kw)
    assert normwise_rel_err(got.out, ref.out) < TOL_FP32, "out"
    assert normwise_rel_err(got.alpha_bar, ref.alpha_bar) < TOL_FP32, "alpha_bar"
    assert float((got.snr_eff_db.cpu().double() - ref.snr_eff_db.double()).abs().max()) < 1e-4, "snr_eff_db (dB)"
    assert torch.equal(got.start_step.cpu(), ref.start_step), "start_step"


@pytest.mark.parametrize("device", device_params())
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float16, 2e-3), (torch.bfloat16, 1.6e-2)])
def test_low_precision_inputs(device, dtype, tol) -> None:
    """fp16/bf16 in and out, float32 math inside: error is the output rounding (about one ulp of the dtype)."""
    z, noise, snr, h, h_hat = _inputs(6, 333, 16, True, 0.02, seed=3)
    z = z.to(dtype)
    got = tx_channel_rx_triton(z.to(device), snr.to(device), h=h.to(device), h_hat=h_hat.to(device),
                               noise=noise.to(device), block_len=16, csi_err_var=0.02, output="diffusion")
    assert got.out.dtype == dtype
    ref = tx_channel_rx_naive(z.double(), snr.double(), h=h.double(), h_hat=h_hat.double(), noise=noise.double(),
                              block_len=16, csi_err_var=0.02, output="diffusion")
    assert normwise_rel_err(got.out, ref.out) < tol, "out"


def _kernel_noise(device: str, seed: int, batch: int = 4, k: int = 1 << 15) -> torch.Tensor:
    """Recover the in-kernel AWGN draws (per real component, unit variance) from an AWGN pass."""
    z = torch.randn(batch, 2 * k, generator=torch.Generator().manual_seed(9))
    snr = torch.zeros(batch)
    out = tx_channel_rx_triton(z.to(device), snr.to(device), seed=seed).out.cpu().double()
    x = z.double() * torch.sqrt(k / z.double().square().sum(1, keepdim=True))  # unit power per complex symbol
    return (out - x) / (0.5**0.5)  # noise_var = 1 at 0 dB -> std sqrt(1/2) per component


@pytest.mark.parametrize("device", device_params())
def test_in_kernel_noise_statistics(device) -> None:
    a = _kernel_noise(device, seed=1)
    n = a.numel()
    assert abs(float(a.mean())) < 5 / n**0.5, "mean"
    assert abs(float(a.var()) - 1.0) < 5 * (2 / n) ** 0.5, "variance"
    per = a.shape[1]
    corr = torch.corrcoef(a)  # across samples of one launch
    off = corr[~torch.eye(a.shape[0], dtype=torch.bool)]
    assert float(off.abs().max()) < 5 / per**0.5, "correlation across samples"
    b = _kernel_noise(device, seed=2)
    cross = torch.corrcoef(torch.stack((a.flatten(), b.flatten())))[0, 1]
    assert abs(float(cross)) < 5 / n**0.5, "correlation across launches with different seeds"
    assert torch.equal(a, _kernel_noise(device, seed=1)), "same seed reproduces"
    re_im = torch.corrcoef(torch.stack((a[:, 0::2].flatten(), a[:, 1::2].flatten())))[0, 1]
    assert abs(float(re_im)) < 5 / (n / 2) ** 0.5, "real/imag independence"
