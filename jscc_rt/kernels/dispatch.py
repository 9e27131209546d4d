"""Pick the implementation of each fused op: Triton on CUDA, the PyTorch reference elsewhere.

Order of precedence: the explicit ``impl=`` argument, then ``$JSCC_KERNEL_IMPL``, then ``"auto"``.

* ``"auto"``: Triton for CUDA tensors when triton imports and no gradient is needed; else ``"torch"``.
* ``"triton"``: the fused kernels; raises :class:`KernelUnavailable` when triton is missing, the tensors are not on
  CUDA (CPU works only under ``TRITON_INTERPRET=1``, for tests) or a gradient is required (no backward).
* ``"torch"``: the pure-PyTorch reference (differentiable).
* ``"compile"``: the reference through ``torch.compile`` (CPU or CUDA).
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Callable, get_args

import torch

from jscc_rt.channel.fading import Equalizer
from jscc_rt.kernels.sampler_step.naive import sampler_step_naive
from jscc_rt.kernels.tx_channel_rx.naive import TxRxOutput, tx_channel_rx_naive

IMPL_ENV = "JSCC_KERNEL_IMPL"
IMPLS = ("auto", "triton", "torch", "compile")

#: ``tx_channel_rx(output=...)`` values.
TX_OUTPUTS = ("equalized", "diffusion")
#: Data dtypes the Triton kernels take (coefficients, SNRs and tables are cast to float32 by the host wrappers).
KERNEL_DTYPES = ("float32", "float16", "bfloat16")
#: What selects a separately compiled Triton kernel besides the dtype: per op, each keyword of the functions below
#: with its cases (``False``/``True``: that tensor omitted/passed). ``block_len`` None (one fading block per sample)
#: and 1 (fast fading) compile differently because Triton specializes integer arguments equal to 1. Every
#: combination can be launched; ``jscc_rt.kernels.aot`` compiles all of them, times :data:`KERNEL_DTYPES`.
KERNEL_CASES: dict[str, dict[str, tuple]] = {
    "tx_channel_rx": {"h": (False, True), "block_len": (None, 1), "noise": (False, True),
                      "alpha_bar_table": (False, True), "equalizer": get_args(Equalizer), "output": TX_OUTPUTS},
    "sampler_step": {"c": (False, True), "noise": (False, True)},
}


class KernelUnavailable(RuntimeError):
    """The requested kernel implementation cannot run here; the message says why and what to use instead."""


def triton_unavailable_reason(device: torch.device) -> str | None:
    """``None`` when Triton kernels can run on ``device``, else the reason."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return "triton is not installed (pip install 'jscc-rt[gpu]')"
    if device.type == "cuda":
        return None
    if device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1":
        return None
    return f"triton kernels run on CUDA tensors (or on CPU under TRITON_INTERPRET=1); got a {device.type} tensor"


def choose_impl(impl: str | None, device: torch.device, needs_grad: bool) -> str:
    """Resolve ``impl`` (argument, env var, or auto) to ``"triton"``, ``"torch"`` or ``"compile"``."""
    req = impl or os.environ.get(IMPL_ENV) or "auto"
    if req not in IMPLS:
        raise ValueError(f"kernel impl must be one of {', '.join(IMPLS)} (argument or ${IMPL_ENV}), got {req!r}")
    if req == "auto":
        if not needs_grad and device.type == "cuda" and triton_unavailable_reason(device) is None:
            return "triton"
        return "torch"
    if req == "triton":
        reason = triton_unavailable_reason(device)
        if reason is not None:
            raise KernelUnavailable(f"impl='triton' requested but {reason}; use impl='torch'")
        if needs_grad:
            raise KernelUnavailable("impl='triton' has no backward pass; use impl='torch' when gradients are needed")
    return req


@lru_cache(maxsize=None)
def _compiled(fn: Callable) -> Callable:
    return torch.compile(fn, dynamic=True)


def _needs_grad(*ts: torch.Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in ts)


def _seed_from(generator: torch.Generator | None, device: torch.device) -> int:
    dev = generator.device if generator is not None else device
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator, device=dev))


def tx_channel_rx(
    z: torch.Tensor,
    snr_db: torch.Tensor,
    *,
    power: float = 1.0,
    h: torch.Tensor | None = None,
    h_hat: torch.Tensor | None = None,
    block_len: int | None = None,
    csi_err_var: float = 0.0,
    equalizer: str = "zf",
    output: str = "equalized",
    alpha_bar_table: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    impl: str | None = None,
) -> TxRxOutput:
    """Fused transmitter -> channel -> equalizer (-> diffusion scaling); see the reference for semantics.

    Noise: ``noise`` if given; else the reference draws from ``generator`` (or ``seed``) and Triton uses in-kernel
    Philox normals seeded by ``seed`` (or a seed drawn from ``generator``). Streams differ between
    implementations; parity holds with explicit ``noise``.
    """
    which = choose_impl(impl, z.device, _needs_grad(z))
    kw = dict(power=power, h=h, h_hat=h_hat, block_len=block_len, csi_err_var=csi_err_var, equalizer=equalizer,
              output=output, alpha_bar_table=alpha_bar_table, noise=noise)
    if which == "triton":
        from jscc_rt.kernels.tx_channel_rx.fused import tx_channel_rx_triton

        s = seed if seed is not None else (0 if noise is not None else _seed_from(generator, z.device))
        return tx_channel_rx_triton(z, snr_db, seed=s, **kw)
    if generator is None and seed is not None and noise is None:
        generator = torch.Generator(device=z.device).manual_seed(seed)
    fn = _compiled(tx_channel_rx_naive) if which == "compile" else tx_channel_rx_naive
    return fn(z, snr_db, generator=generator, **kw)


def sampler_step(
    x: torch.Tensor,
    eps: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    impl: str | None = None,
) -> torch.Tensor:
    """``x_next = a*x + b*eps (+ c*noise)`` with per-sample ``(B,)`` coefficients on the chosen implementation."""
    which = choose_impl(impl, x.device, _needs_grad(x, eps))
    if which == "triton":
        from jscc_rt.kernels.sampler_step.fused import sampler_step_triton

        need_seed = c is not None and noise is None
        s = seed if seed is not None else (_seed_from(generator, x.device) if need_seed else 0)
        return sampler_step_triton(x, eps, a, b, c, noise, seed=s)
    if generator is None and seed is not None:
        generator = torch.Generator(device=x.device).manual_seed(seed)
    fn = _compiled(sampler_step_naive) if which == "compile" else sampler_step_naive
    return fn(x, eps, a, b, c, noise, generator=generator)
