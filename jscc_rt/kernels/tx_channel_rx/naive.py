"""Pure-PyTorch reference for ``tx_channel_rx``, composed from the channel package (the semantics to match).

Per sample ``b`` with real latent ``z[b]`` (``N = 2k`` reals, consecutive pairs = one complex symbol):

1. power-normalize to ``P`` per complex symbol;
2. multiply by the fading coefficient ``h`` of the symbol's block (AWGN: ``h = 1``);
3. add complex AWGN with ``noise_var = P / 10**(snr_db/10)`` (``sqrt(noise_var/2) * noise`` per real component);
4. equalize with the estimate ``h_hat`` (ZF or MMSE, see :mod:`jscc_rt.channel.fading`);
5. per-sample effective SNR ``snr_eff = mean_i(P * gain_i^2 / var_i)`` (linear) and the diffusion mapping
   ``sigma^2 = 1 / snr_eff``, ``alpha_bar = 1 / (1 + sigma^2)``; the start step is the index of the schedule's
   ``alpha_bar`` table nearest to it.

``output="equalized"`` returns the equalizer output ``y`` (what the JSCC decoder takes);
``output="diffusion"`` returns ``sqrt(alpha_bar) * sqrt(2/P) * y_unbiased`` (unit variance per real component
for the signal, so the channel is exactly the forward diffusion step ``x_u = sqrt(ab) x0 + sqrt(1-ab) eps`` for
AWGN and block fading).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from jscc_rt._validate import JsccInputError, check_block_len
from jscc_rt.channel import Channel, ChannelConfig, power_normalize


@dataclass
class TxRxOutput:
    """Result of ``tx_channel_rx``.

    Attributes:
        out: ``(B, N)`` equalized symbols (``output="equalized"``) or diffusion start latent (``"diffusion"``),
            in the latent's dtype, pairs = (real, imag).
        snr_eff_db: ``(B,)`` float32 post-equalization SNR in dB (the decoder's conditioning).
        alpha_bar: ``(B,)`` float32 ``1 / (1 + 10**(-snr_eff_db/10))``.
        start_step: ``(B,)`` int64 index into the schedule table nearest ``alpha_bar`` (``None`` without a table).
    """

    out: torch.Tensor
    snr_eff_db: torch.Tensor
    alpha_bar: torch.Tensor
    start_step: torch.Tensor | None


def n_blocks(k: int, block_len: int | None) -> int:
    """Number of fading blocks for ``k`` symbols (``block_len=None``: one per sample)."""
    return 1 if block_len is None else -(-k // block_len)


def expand_blocks(h: torch.Tensor, k: int, block_len: int | None) -> torch.Tensor:
    """Per-block coefficients ``(B, NB, 2)`` -> per-symbol ``(B, k, 2)``; symbol ``i`` uses block ``i // block_len``.

    ``block_len`` must be None or an int >= 1; one longer than ``k`` is one block (bounded by ``k`` before expanding,
    so nothing larger than ``(B, k, 2)`` is allocated).
    """
    bl = check_block_len(block_len, k)
    nb = n_blocks(k, bl)
    if h.ndim != 3 or h.shape[1] != nb:
        raise JsccInputError(f"h has shape {tuple(h.shape)}, but {k} symbols with block_len={block_len} need "
                             f"(B, {nb}, 2): one coefficient per fading block")
    return h.repeat_interleave(k if bl is None else bl, dim=1)[:, :k]


def nearest_step(alpha_bar: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Index of the entry of ``table`` ``(T,)`` nearest to each ``alpha_bar`` ``(B,)`` (first on ties)."""
    return (table.to(alpha_bar.dtype).unsqueeze(0) - alpha_bar.unsqueeze(1)).abs().argmin(dim=1)


def tx_channel_rx_naive(
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
) -> TxRxOutput:
    """Reference ``tx_channel_rx``; differentiable.

    ``z`` ``(B, N)``; ``h``/``h_hat`` ``(B, NB, 2)`` per fading block of ``block_len`` symbols (``None``: one
    block per sample), ``h=None`` for AWGN; ``snr_db`` ``(B,)``; ``alpha_bar_table`` ``(T,)``.

    Noise is ``noise`` ``(B, N)`` (standard normal per real component) when given, else drawn from ``generator``.
    Computes in ``z``'s dtype promoted to at least float32 (float64 stays float64).
    """
    acc = torch.promote_types(z.dtype, torch.float32)
    b, n = z.shape
    k = n // 2
    s = power_normalize(z.to(acc).reshape(b, k, 2), power, validate=False)
    if h is None:
        cfg = ChannelConfig("awgn", power=power)
        hs = hh = None
    else:
        cfg = ChannelConfig("rayleigh", csi_err_var=csi_err_var, equalizer=equalizer, power=power)  # type: ignore[arg-type]
        hs = expand_blocks(h.to(acc), k, block_len)
        hh = hs if h_hat is None else expand_blocks(h_hat.to(acc), k, block_len)
    nz = None if noise is None else noise.to(acc).reshape(b, k, 2)
    ch = Channel(cfg)(s, snr_db.to(acc), noise=nz, generator=None if nz is not None else generator, h=hs, h_hat=hh)
    snr_eff = (power * ch.gain.square() / ch.noise_var).mean(dim=1)  # linear
    alpha_bar = snr_eff / (1.0 + snr_eff)
    if output == "equalized":
        out = ch.y
    elif output == "diffusion":
        y_u, _ = ch.unbiased()
        out = y_u * (torch.sqrt(alpha_bar) * (2.0 / power) ** 0.5).view(b, 1, 1)
    else:
        raise ValueError(f"output must be 'equalized' or 'diffusion', got {output!r}")
    step = None if alpha_bar_table is None else nearest_step(alpha_bar, alpha_bar_table.to(acc))
    return TxRxOutput(out.reshape(b, n).to(z.dtype), (10 * torch.log10(snr_eff)).float(), alpha_bar.float(), step)
