"""The dispatcher: auto choice, env override, explicit impl errors, and each impl agreeing on the same inputs."""
from __future__ import annotations

import pytest
import torch

from jscc_rt.kernels import IMPL_ENV, KernelUnavailable, choose_impl, sampler_step, tx_channel_rx
from jscc_rt.kernels.dispatch import triton_unavailable_reason


def test_auto_on_cpu_is_torch_and_grad_forces_torch() -> None:
    cpu = torch.device("cpu")
    assert choose_impl(None, cpu, needs_grad=False) == "torch"
    assert choose_impl("auto", torch.device("cuda"), needs_grad=True) == "torch"


def test_env_override_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(IMPL_ENV, "compile")
    assert choose_impl(None, torch.device("cpu"), False) == "compile"
    assert choose_impl("torch", torch.device("cpu"), False) == "torch"  # argument beats env
    monkeypatch.setenv(IMPL_ENV, "cuda-graphs")
    with pytest.raises(ValueError, match=IMPL_ENV):
        choose_impl(None, torch.device("cpu"), False)


def test_explicit_triton_raises_when_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert "TRITON_INTERPRET" in (triton_unavailable_reason(torch.device("cpu")) or "")
    with pytest.raises(KernelUnavailable, match="impl='torch'"):
        choose_impl("triton", torch.device("cpu"), False)
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    with pytest.raises(KernelUnavailable, match="no backward"):
        choose_impl("triton", torch.device("cpu"), True)


def test_all_impls_agree_with_explicit_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    g = torch.Generator().manual_seed(0)
    z, noise = torch.randn(3, 2 * 301, generator=g), torch.randn(3, 2 * 301, generator=g)
    h = torch.randn(3, 10, 2, generator=g)
    snr = torch.tensor([0.0, 5.0, 10.0])
    outs = {i: tx_channel_rx(z, snr, h=h, block_len=31, noise=noise, equalizer="mmse", impl=i).out
            for i in ("torch", "triton", "compile")}
    for name in ("triton", "compile"):
        torch.testing.assert_close(outs[name], outs["torch"], rtol=1e-5, atol=1e-5, msg=name)
    x, e = torch.randn(2, 50, generator=g), torch.randn(2, 50, generator=g)
    a, b = torch.rand(2, generator=g), torch.rand(2, generator=g)
    ref = sampler_step(x, e, a, b, impl="torch")
    torch.testing.assert_close(sampler_step(x, e, a, b, impl="triton"), ref)


def test_seeded_reference_is_reproducible() -> None:
    z, snr = torch.randn(2, 64), torch.zeros(2)
    a = tx_channel_rx(z, snr, seed=3, impl="torch").out
    assert torch.equal(a, tx_channel_rx(z, snr, seed=3, impl="torch").out)
    assert not torch.equal(a, tx_channel_rx(z, snr, seed=4, impl="torch").out)
