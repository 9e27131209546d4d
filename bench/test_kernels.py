"""Channel op and sampler step: unfused eager vs reference vs torch.compile (vs Triton on CUDA).

Kodak-sized latents: 768x512 at k/n = 1/16 (k = 73728 complex symbols per image), batch 1 / 16 / 64.
"""
from __future__ import annotations

import pytest
import torch

from jscc_rt.bench.kernels import KODAK_K, _unfused_eager, available_impls
from jscc_rt.kernels import sampler_step, tx_channel_rx

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
IMPLS = available_impls(DEVICE)


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


@pytest.fixture(scope="module", params=[1, 16, 64], ids=lambda b: f"batch{b}")
def latents(request: pytest.FixtureRequest) -> dict[str, torch.Tensor]:
    b = request.param
    g = torch.Generator(device=DEVICE).manual_seed(0)
    z = torch.randn(b, 2 * KODAK_K, device=DEVICE, generator=g)
    return {"z": z, "eps": torch.randn_like(z), "snr": torch.full((b,), 10.0, device=DEVICE),
            "coef": torch.rand(b, device=DEVICE), "table": torch.linspace(0.9999, 1e-3, 1000, device=DEVICE)}


def test_tx_channel_rx_unfused_eager(benchmark, latents) -> None:
    benchmark.group = f"tx_channel_rx-{latents['z'].shape[0]}"
    y, _ = benchmark(lambda: (_unfused_eager(latents["z"], latents["snr"], latents["table"]), _sync())[0])
    assert y.shape == latents["z"].shape and bool(torch.isfinite(y).all())


@pytest.mark.parametrize("impl", IMPLS)
def test_tx_channel_rx(benchmark, latents, impl: str) -> None:
    benchmark.group = f"tx_channel_rx-{latents['z'].shape[0]}"
    with torch.no_grad():
        out = benchmark(lambda: (tx_channel_rx(latents["z"], latents["snr"], output="diffusion",
                                               alpha_bar_table=latents["table"], seed=1, impl=impl), _sync())[0])
    assert out.out.shape == latents["z"].shape and bool(torch.isfinite(out.out).all())


@pytest.mark.parametrize("impl", IMPLS)
def test_sampler_step(benchmark, latents, impl: str) -> None:
    benchmark.group = f"sampler_step-{latents['z'].shape[0]}"
    c = latents["coef"]
    with torch.no_grad():
        out = benchmark(lambda: (sampler_step(latents["z"], latents["eps"], c, c, c, seed=1, impl=impl), _sync())[0])
    assert out.shape == latents["z"].shape
