"""Triton sampler update ``x_next = a*x + b*eps (+ c*noise)``, per-sample coefficients, one launch per step.

Grid ``(ceil(N / BLOCK), B)``: each program reads its sample's three coefficients once, then streams ``x`` and
``eps`` (and explicit noise, if given; otherwise Philox normals generated in registers) and writes ``x_next``.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _sampler_step_kernel(
    x_ptr, eps_ptr, noise_ptr, a_ptr, b_ptr, c_ptr, out_ptr, N, seed,
    HAS_C: tl.constexpr, HAS_NOISE: tl.constexpr, BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    s = tl.program_id(1)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < N
    base = s * N + offs
    a = tl.load(a_ptr + s).to(tl.float32)
    b = tl.load(b_ptr + s).to(tl.float32)
    x = tl.load(x_ptr + base, mask=m, other=0.0).to(tl.float32)
    e = tl.load(eps_ptr + base, mask=m, other=0.0).to(tl.float32)
    y = a * x + b * e
    if HAS_C:
        c = tl.load(c_ptr + s).to(tl.float32)
        if HAS_NOISE:
            z = tl.load(noise_ptr + base, mask=m, other=0.0).to(tl.float32)
        else:
            z = tl.randn(seed, base)
        y = y + c * z
    tl.store(out_ptr + base, y.to(out_ptr.dtype.element_ty), mask=m)


def sampler_step_triton(
    x: torch.Tensor,
    eps: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    *,
    seed: int = 0,
    block: int = 2048,
) -> torch.Tensor:
    """Host wrapper (inference only). ``seed`` drives in-kernel Philox noise when ``c`` is given without ``noise``."""
    x = x.contiguous()
    eps = eps.contiguous()
    bsz = x.shape[0]
    n = x[0].numel()
    f32 = dict(device=x.device, dtype=torch.float32)
    a, b = a.to(**f32).contiguous(), b.to(**f32).contiguous()
    cc = c.to(**f32).contiguous() if c is not None else a
    nz = noise.contiguous() if noise is not None else x
    out = torch.empty_like(x)
    _sampler_step_kernel[(triton.cdiv(n, block), bsz)](
        x, eps, nz, a, b, cc, out, n, int(seed), HAS_C=c is not None, HAS_NOISE=noise is not None, BLOCK=block,
    )
    return out
