"""Model-based hybrid JSCC (Shlezinger et al. 2021): a compact encoder and an unrolled receiver.

The receiver starts from the equalized latent ``z_0 = y`` and runs ``K`` iterations of a learned, preconditioned
proximal-gradient step on the channel log-likelihood:

``z_{k+1} = z_k - alpha_k * w * (z_k - y) + D_theta(z_k, snr, k)``

``(z - y) * w`` is the gradient of the AWGN negative log-likelihood ``|y - z|^2 / sigma^2`` scaled by ``sigma^2``
(so step sizes are SNR-independent); ``w`` is the per-symbol precision relative to its mean (1 for AWGN and block
fading after ZF). ``alpha_k = softplus(a_k)`` are learned step sizes and ``D_theta`` one small SNR-conditioned CNN
shared across iterations (with an iteration embedding). A compact decoder maps ``z_K`` to the image. About 100k
parameters for k/n = 1/16.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from jscc_rt._validate import JsccInputError
from jscc_rt.models.layers import SNRAttention, conv, deconv
from jscc_rt.models.rate import budget_mask


class CompactEncoder(nn.Module):
    """Image ``(B, 3, H, W)`` + SNR -> latent ``(B, c, H/8, W/8)``; three stride-2 5x5 convs."""

    def __init__(self, latent_channels: int, width: int) -> None:
        super().__init__()
        self.c1, self.c2 = conv(3, width, 5, 2), conv(width, width, 5, 2)
        self.a1, self.a2 = nn.PReLU(width), nn.PReLU(width)
        self.attn = SNRAttention(width, hidden=16)
        self.c3 = conv(width, latent_channels, 5, 2)

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        return self.c3(self.attn(self.a2(self.c2(self.a1(self.c1(x)))), snr_db))


class ProxDenoiser(nn.Module):
    """``D_theta(z, snr, k[, rate])``: conv-ReLU-conv with FiLM from (SNR, iteration[, sent fraction of the latent
    channels for a rate-adaptive model])."""

    def __init__(self, channels: int, hidden: int, iters: int, rate_adaptive: bool = False) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(channels, hidden, 3, padding=1)
        self.c2 = nn.Conv2d(hidden, channels, 3, padding=1)
        self.film = nn.Linear(1 + iters + int(rate_adaptive), 2 * hidden)
        self.iters = iters
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, z: torch.Tensor, snr_db: torch.Tensor, k: int, rate: torch.Tensor | None = None) -> torch.Tensor:
        onehot = F.one_hot(torch.full_like(snr_db, k, dtype=torch.long), self.iters).to(z.dtype)
        cond = [(snr_db / 20.0).unsqueeze(1).to(z.dtype), onehot] + ([] if rate is None else [rate.unsqueeze(1).to(z.dtype)])
        scale, shift = self.film(torch.cat(cond, 1)).chunk(2, 1)
        h = F.relu(self.c1(z) * (1 + scale[..., None, None]) + shift[..., None, None])
        return self.c2(h)


class SynthesisBlock(nn.Module):
    """``x + conv3(prelu(conv3(x)))`` at constant width, the second conv zero-initialized: a new block is the
    identity, so adding blocks to a trained decoder (:func:`deepen_from`) starts from what it computes."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1, self.act, self.c2 = conv(channels, channels, 3), nn.PReLU(channels), conv(channels, channels, 3)
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(self.act(self.c1(x)))


class UnrolledDecoder(nn.Module):
    """Noisy latent ``y`` + SNR -> image, through ``iters`` unrolled iterations and a compact synthesis network.

    ``forward(y, snr_db, weights=None, return_all=False, channels=None)``: ``weights`` ``(B, c, h, w)`` per-symbol
    precision weights (None = 1); ``return_all`` returns the image decoded after every iteration (for the
    per-iteration PSNR plot). A rate-adaptive decoder (``rate_adaptive=True``, :mod:`jscc_rt.models.rate`) takes
    ``channels`` ``(B,)``, the sent channel count (None = all): latent channels from there on are ignored in ``y``
    and get zero likelihood weight, and the FiLM sees the sent fraction.
    """

    def __init__(self, latent_channels: int, width: int, iters: int, upsample: str = "deconv",
                 rate_adaptive: bool = False, blocks: int = 0) -> None:
        super().__init__()
        self.iters = iters
        self.latent_channels = latent_channels
        self.rate_adaptive = rate_adaptive
        self.step_logits = nn.Parameter(torch.full((iters,), -1.0))  # alpha_k = softplus(.) ~ 0.31 at init
        self.prox = ProxDenoiser(latent_channels, width, iters, rate_adaptive)
        self.d1, self.d2 = deconv(latent_channels, width, upsample=upsample), deconv(width, width, upsample=upsample)
        self.a1, self.a2 = nn.PReLU(width), nn.PReLU(width)
        self.blocks = nn.ModuleList(SynthesisBlock(width) for _ in range(blocks))
        self.d3 = deconv(width, 3, upsample=upsample)

    @property
    def step_sizes(self) -> torch.Tensor:
        """Learned ``alpha_k`` ``(K,)``."""
        return F.softplus(self.step_logits)

    def synthesize(self, z: torch.Tensor, features: list[torch.Tensor] | None = None) -> torch.Tensor:
        h1 = self.a1(self.d1(z))
        for b in self.blocks:
            h1 = b(h1)
        h2 = self.a2(self.d2(h1))
        if features is not None:
            features += [h1, h2]
        return torch.sigmoid(self.d3(h2))

    def forward(self, y: torch.Tensor, snr_db: torch.Tensor, weights: torch.Tensor | None = None,
                return_all: bool = False, features: list[torch.Tensor] | None = None,
                channels: torch.Tensor | None = None):
        """``features``: a list that receives every iterate ``z_k`` and the synthesis activations (for
        feature-matching distillation)."""
        w = torch.ones_like(y) if weights is None else weights
        rate = None
        if self.rate_adaptive:
            c = self.latent_channels
            sent = torch.full_like(snr_db, c) if channels is None else channels.to(snr_db.dtype)
            mask = budget_mask(sent, c, y.dtype)
            y, w, rate = y * mask, w * mask, sent / c
        elif channels is not None:
            raise JsccInputError("channels given to a fixed-rate decoder; only rate-adaptive models take a budget")
        z = y
        alphas = self.step_sizes
        outs = []
        for k in range(self.iters):
            z = z - alphas[k] * w * (z - y) + self.prox(z, snr_db, k, rate)
            if features is not None:
                features.append(z)
            if return_all:
                outs.append(self.synthesize(z))
        return outs if return_all else self.synthesize(z, features)


def deepen_from(dst: nn.Module, src: nn.Module) -> None:
    """Initialize the unrolled model ``dst`` from ``src``, the same architecture with fewer synthesis blocks
    (``decoder_blocks``): every tensor of ``src`` is copied and the added blocks stay the identity (zero-initialized
    second conv), so ``dst`` starts out computing exactly what ``src`` computes. Raises
    :class:`~jscc_rt.JsccInputError` when the configs differ in anything else or ``dst`` has fewer blocks."""
    dc, sc = dst.config.to_dict(), src.config.to_dict()  # type: ignore[union-attr]
    if ({k: v for k, v in dc.items() if k != "decoder_blocks"} != {k: v for k, v in sc.items() if k != "decoder_blocks"}
            or dc["model"] != "unrolled" or dc["decoder_blocks"] < sc["decoder_blocks"]):
        raise JsccInputError(f"cannot deepen {dc} from {sc}: only an unrolled model differing in fewer "
                             "decoder_blocks can seed another")
    missing, unexpected = dst.load_state_dict(src.state_dict(), strict=False)
    added = {f"decoder.blocks.{i}." for i in range(sc["decoder_blocks"], dc["decoder_blocks"])}
    if unexpected or any(not any(m.startswith(a) for a in added) for m in missing):
        raise JsccInputError(f"cannot deepen: unexpected {unexpected}, missing {missing}")
