"""Building blocks: GDN / inverse GDN (Balle et al.) and SNR-adaptive channel attention (ADJSCC's AF module)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from jscc_rt.models.upsample import up2


class GDN(nn.Module):
    """Generalized divisive normalization ``y = x / sqrt(beta + gamma * x^2)`` (or ``x * sqrt(...)`` if inverse).

    Non-negativity of ``beta``/``gamma`` is kept by squaring the stored parameters. Input/output ``(B, C, H, W)``.
    """

    def __init__(self, channels: int, *, inverse: bool = False, gamma_init: float = 0.1) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta_sqrt = nn.Parameter(torch.ones(channels))
        self.gamma_sqrt = nn.Parameter(torch.eye(channels) * gamma_init**0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        beta = self.beta_sqrt.square() + 1e-6
        gamma = self.gamma_sqrt.square().view(c, c, 1, 1)
        norm = F.conv2d(x * x, gamma, beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


#: SNR (dB) range the conditioning input is scaled over; values outside saturate smoothly through the MLP.
SNR_REF_DB: float = 20.0


class SNRAttention(nn.Module):
    """Channel-wise gating conditioned on the SNR (ADJSCC attention-feature module).

    ``x * sigmoid(MLP([mean_hw(x), snr_db / 20]))``; ``x`` is ``(B, C, H, W)``, ``snr_db`` is ``(B,)`` in dB.
    """

    def __init__(self, channels: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or max(16, channels // 2)
        self.mlp = nn.Sequential(nn.Linear(channels + 1, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        ctx = torch.cat((x.mean(dim=(2, 3)), (snr_db.to(x.dtype) / SNR_REF_DB).unsqueeze(1)), dim=1)
        return x * torch.sigmoid(self.mlp(ctx)).unsqueeze(-1).unsqueeze(-1)


def conv(cin: int, cout: int, k: int = 5, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def deconv(cin: int, cout: int, k: int = 5, upsample: str = "deconv") -> nn.Module:
    """2x upsampling ``(B, cin, H, W) -> (B, cout, 2H, 2W)``: transposed conv or its sub-pixel equivalent."""
    return up2(cin, cout, k, upsample)
