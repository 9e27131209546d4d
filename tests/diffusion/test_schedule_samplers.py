"""Schedules, the channel -> step mapping, samplers (exact with an oracle), consistency boundary, receiver errors."""
from __future__ import annotations

import pytest
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.channel import power_normalize
from jscc_rt.diffusion import (
    ConsistencyModel,
    DDIMSampler,
    DDPMSampler,
    DenoiserConfig,
    DiffusionReceiver,
    LatentDenoiser,
    NoiseSchedule,
    ReceiverConfig,
)
from jscc_rt.diffusion.consistency import boundary_coefficients
from jscc_rt.kernels import tx_channel_rx


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedule_monotone_and_interp_exact(kind: str) -> None:
    s = NoiseSchedule(kind=kind)
    ab = s.alpha_bar()
    assert ab.shape == (1000,) and bool((ab[1:] < ab[:-1]).all()) and 0 < float(ab[-1]) < float(ab[0]) < 1
    target = torch.tensor([0.3, 0.5, 0.77, 0.95], dtype=torch.float64)
    u = s.step_for_alpha_bar(target, "interp")
    torch.testing.assert_close(s.alpha_bar_at(u), target, rtol=1e-10, atol=0)
    near = s.step_for_alpha_bar(target, "nearest")
    assert bool(((ab[near] - target).abs() <= (ab[(near + 1).clamp(max=999)] - target).abs()).all())


def test_channel_snr_maps_to_matching_step() -> None:
    """alpha_bar_u = 1/(1+sigma^2) with sigma^2 = 1/SNR: 10 dB -> 1/1.1."""
    s = NoiseSchedule()
    u = s.step_for_snr_db(torch.tensor([10.0]), "interp")
    assert abs(float(s.alpha_bar_at(u)) - 1 / 1.1) < 1e-10


def test_received_latent_is_the_forward_process() -> None:
    """Channel output in the diffusion domain has the statistics of x_u = sqrt(ab) x0 + sqrt(1-ab) eps."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, 2 * 50000, generator=g)
    snr = torch.tensor([0.0, 5.0, 10.0, 15.0])
    out = tx_channel_rx(z, snr, output="diffusion", seed=1, impl="torch")
    x0 = power_normalize(z.reshape(4, -1, 2)).reshape(4, -1) * 2**0.5
    ab = out.alpha_bar.double().unsqueeze(1)
    torch.testing.assert_close(out.alpha_bar, (1 / (1 + 10 ** (-snr / 10))).float())
    eps = (out.out.double() - ab.sqrt() * x0.double()) / (1 - ab).sqrt()
    assert bool(((eps.var(dim=1) - 1).abs() < 0.03).all()), eps.var(dim=1)


def test_schedule_rejects_too_noisy_and_bad_kind() -> None:
    with pytest.raises(JsccInputError, match="below the schedule's last step"):
        NoiseSchedule().step_for_alpha_bar(torch.tensor([1e-9]))
    with pytest.raises(JsccInputError, match="kind"):
        NoiseSchedule(kind="sigmoid")  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [1, 2, 4, 50])
def test_ddim_with_oracle_epsilon_recovers_x0_exactly(n: int) -> None:
    """With the true epsilon, deterministic DDIM lands exactly on x0 from any (fractional) start step."""
    s = NoiseSchedule()
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(3, 8, 4, 4, generator=g, dtype=torch.float64), torch.randn(3, 8, 4, 4, generator=g, dtype=torch.float64)
    u = torch.tensor([10.5, 250.0, 700.25], dtype=torch.float64)
    ab = s.alpha_bar_at(u).view(-1, 1, 1, 1)
    x = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    sampler = DDIMSampler(s, eta=0.0, impl="torch")
    sampler.set_timesteps(n, u)
    assert sampler.timesteps.shape == (n, 3)
    for i in range(n):
        x = sampler.step(eps, sampler.timesteps[i], x).prev_sample
    torch.testing.assert_close(x, x0, rtol=1e-9, atol=1e-9)


def test_ddpm_full_chain_statistics() -> None:
    """Ancestral sampling with the oracle epsilon keeps x0 + noise that shrinks to zero at t=-1."""
    s = NoiseSchedule()
    x0 = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    u = torch.tensor([100.0, 100.0], dtype=torch.float64)
    sampler = DDPMSampler(s, impl="torch")
    sampler.set_timesteps(5, u)
    ab = s.alpha_bar_at(u).view(-1, 1, 1, 1)
    x = ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn_like(x0)
    for i in range(5):
        t = sampler.timesteps[i]
        abt = s.alpha_bar_at(t).view(-1, 1, 1, 1)
        eps = (x - abt.sqrt() * x0) / (1 - abt).sqrt()  # exact epsilon of the current sample
        x = sampler.step(eps, t, x, generator=torch.Generator().manual_seed(i)).prev_sample
    torch.testing.assert_close(x, x0, rtol=1e-8, atol=1e-8)


def test_sampler_api_errors() -> None:
    s = DDIMSampler(NoiseSchedule())
    with pytest.raises(JsccInputError, match="set_timesteps"):
        s.step(torch.zeros(1, 2), torch.zeros(1), torch.zeros(1, 2))
    with pytest.raises(JsccInputError, match=">= 1"):
        s.set_timesteps(0, torch.tensor([5.0]))
    with pytest.raises(JsccInputError, match=r"\[-1, 999\]"):
        s.set_timesteps(2, torch.tensor([1200.0]))
    s.set_timesteps(1, torch.tensor([5.0]))
    with pytest.raises(JsccInputError, match="expected"):
        s.step(torch.zeros(1, 2), torch.tensor([3.0]), torch.zeros(1, 2))
    with pytest.raises(JsccInputError, match="eta"):
        DDIMSampler(NoiseSchedule(), eta=2.0)


def test_consistency_boundary_condition() -> None:
    c_skip, c_out = boundary_coefficients(torch.tensor([0.0, 500.0]))
    assert float(c_skip[0]) == 1.0 and float(c_out[0]) == 0.0 and float(c_skip[1]) < 1e-6
    cm = ConsistencyModel(LatentDenoiser(DenoiserConfig(latent_channels=8, width=16)), NoiseSchedule())
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(cm(x, torch.zeros(2), torch.zeros(2)), x)


def test_receiver_config_errors() -> None:
    net = LatentDenoiser(DenoiserConfig(latent_channels=8, width=16))
    with pytest.raises(JsccInputError, match="steps must be an int >= 0"):
        ReceiverConfig(steps=-1)
    with pytest.raises(JsccInputError, match="exceeds the schedule"):
        DiffusionReceiver(net, NoiseSchedule(num_steps=10), ReceiverConfig(steps=11))
    with pytest.raises(JsccInputError, match="ConsistencyModel"):
        DiffusionReceiver(net, NoiseSchedule(), ReceiverConfig(sampler="consistency"))
    with pytest.raises(JsccInputError, match="trained for another JSCC model"):
        net(torch.randn(1, 24, 4, 4), torch.zeros(1), torch.zeros(1))


def test_consistency_coefficients_span_fresh_and_deterministic_renoising() -> None:
    """eta = 1: ``x_prev = sqrt(ab_prev) x0 + sqrt(1 - ab_prev) z`` (Song et al.); eta = 0: the DDIM update with
    the same x0 (deterministic, keeps the received latent's noise); after the last step x0 itself."""
    from jscc_rt.diffusion.samplers import consistency_coefficients, ddim_coefficients

    ab_t, ab_p, t_p = torch.tensor([0.3, 0.6]), torch.tensor([0.7, 0.9]), torch.tensor([10.0, 3.0])
    a, b, c = consistency_coefficients(ab_t, ab_p, t_p, eta=1.0)
    torch.testing.assert_close(a, torch.zeros(2))
    torch.testing.assert_close(b, ab_p.sqrt())
    torch.testing.assert_close(c, (1 - ab_p).sqrt())
    x, eps = torch.randn(2, 5), torch.randn(2, 5)
    x0 = (x - (1 - ab_t).sqrt()[:, None] * eps) / ab_t.sqrt()[:, None]
    a0, b0, c0 = consistency_coefficients(ab_t, ab_p, t_p, eta=0.0)
    da, db, _ = ddim_coefficients(ab_t, ab_p, torch.tensor([20.0, 8.0]))
    torch.testing.assert_close(a0[:, None] * x + b0[:, None] * x0, da[:, None] * x + db[:, None] * eps)
    assert not c0.any()
    last = consistency_coefficients(ab_t, ab_p, torch.tensor([-1.0, -1.0]), eta=0.5)
    assert [v.tolist() for v in last] == [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
