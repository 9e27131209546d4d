"""Two-user semantic NOMA (downlink): superposed JSCC symbols, successive interference cancellation, distillation.

The base station encodes user 1's and user 2's images with their own JSCC encoders into power-normalized symbols
``s1``, ``s2`` ``(B, k, 2)`` over the *same* ``k`` channel uses and sends ``x = sqrt(a1) s1 + sqrt(a2) s2``
(``a1 + a2 = 1``; user 1, the weak user, gets the larger share ``a1 > 0.5``). Each user ``u`` receives
``y_u = h_u x + n_u`` at its own SNR (independent noise, and independent Rayleigh block fading with ZF on its own CSI)
and then:

* user 1 decodes ``y1 / sqrt(a1)`` directly, treating user 2's signal as noise: its SINR is
  ``a1 / (a2 + 1/snr)``;
* user 2 runs SIC: it decodes user 1's image from ``y2``, re-encodes it with user 1's encoder (known to every
  receiver), subtracts ``sqrt(a1) * s1_hat`` and decodes ``(y2 - sqrt(a1) s1_hat) / sqrt(a2)`` at SNR
  ``a2 * snr`` (what perfect cancellation would leave). With ``sic=False`` it treats user 1 as noise instead.

Each encoder and decoder is conditioned on its user's SINR in dB, so one model serves any power split.

Knowledge distillation (:func:`distillation_loss`): a single-user, interference-free *teacher* (a trained
:class:`~jscc_rt.models.jscc.JSCCModel`) sends the same image alone at the same SINR; the NOMA *student* matches the
teacher decoder's intermediate features across layers (every unrolled iterate and synthesis activation, or every
Deep JSCC decoder stage) and its output image.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from jscc_rt._validate import JsccInputError
from jscc_rt.channel import Channel, ChannelConfig
from jscc_rt.channel.symbols import from_symbols, to_symbols
from jscc_rt.models.config import JSCCConfig
from jscc_rt.models.jscc import JSCCModel


@dataclass(frozen=True)
class NOMAConfig:
    """``base``: the per-user JSCC architecture; ``sic``: user 2 cancels user 1 before decoding."""

    base: JSCCConfig
    sic: bool = True

    def to_dict(self) -> dict:
        d = asdict(self)
        d["base"] = self.base.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "NOMAConfig":
        return cls(base=JSCCConfig.from_dict(d["base"]), sic=bool(d.get("sic", True)))


def check_power_split(a1: float) -> float:
    if not 0.5 < float(a1) < 1.0:
        raise JsccInputError(f"power split a1 (user 1's share) must lie in (0.5, 1) so that SIC order holds, got {a1}")
    return float(a1)


def sinr_db(a1: float | torch.Tensor, snr_db: torch.Tensor, sic: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-user SINR in dB ``(B,)``: user 1 ``a1 / (a2 + 1/snr)``; user 2 after perfect SIC ``a2 * snr``, or
    ``a2 / (a1 + 1/snr)`` when it treats user 1 as noise (``sic=False``)."""
    snr = 10.0 ** (snr_db / 10.0)
    a2 = 1.0 - a1
    g2 = a2 * snr if sic else a2 / (a1 + 1.0 / snr)
    return 10.0 * torch.log10(a1 / (a2 + 1.0 / snr)), 10.0 * torch.log10(g2)


@dataclass
class NOMAOutput:
    """``images``: user 1's and user 2's reconstructions ``(B, 3, H, W)``; ``features``: the decoders' activations
    (when requested); ``sinr_db``: the two users' conditioning SINRs ``(B,)``."""

    images: tuple[torch.Tensor, torch.Tensor]
    features: tuple[list[torch.Tensor], list[torch.Tensor]]
    sinr_db: tuple[torch.Tensor, torch.Tensor]


class TwoUserNOMA(nn.Module):
    """Two JSCC models (``users[0]`` = user 1, ``users[1]`` = user 2) sharing channel uses by superposition."""

    def __init__(self, cfg: NOMAConfig) -> None:
        super().__init__()
        self.config = cfg
        self.users = nn.ModuleList([JSCCModel(cfg.base), JSCCModel(cfg.base)])

    @classmethod
    def from_teacher(cls, teacher: JSCCModel, sic: bool = True) -> "TwoUserNOMA":
        """Both users start from the single-user teacher's weights."""
        m = cls(NOMAConfig(teacher.config, sic))
        for u in m.users:
            u.load_state_dict(teacher.state_dict())
        return m

    @property
    def stride(self) -> int:
        return self.config.base.downsample

    def user_sinr_db(self, snr_db: torch.Tensor, a1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both users' conditioning SINR in dB ``(B,)`` (user 2: after SIC, or treating user 1 as noise)."""
        return sinr_db(a1, snr_db, self.config.sic)

    def superpose(self, img1: torch.Tensor, img2: torch.Tensor, snr_db: torch.Tensor,
                  a1: torch.Tensor) -> torch.Tensor:
        """Transmitter: ``sqrt(a1) s1 + sqrt(1 - a1) s2`` as a latent ``(B, c, h, w)`` (pairs of reals = symbols);
        ``a1`` ``(B,)``."""
        g1, g2 = self.user_sinr_db(snr_db, a1)
        r1, r2 = _col(a1.sqrt()), _col((1.0 - a1).sqrt())
        return r1 * self.users[0].transmit_latent(img1, g1) + r2 * self.users[1].transmit_latent(img2, g2)

    def receive_user1(self, y: torch.Tensor, snr_db: torch.Tensor, a1: torch.Tensor,
                      features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """User 1: decode ``y / sqrt(a1)`` (equalized latent ``(B, c, h, w)``), user 2 treated as noise."""
        g1, _ = self.user_sinr_db(snr_db, a1)
        return self.users[0].decoder(y / _col(a1.sqrt()), g1, features=features)

    def receive_user2(self, y: torch.Tensor, snr_db: torch.Tensor, a1: torch.Tensor,
                      features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """User 2: SIC (decode user 1, re-encode, subtract) then decode; or treat user 1 as noise (``sic=False``)."""
        g1, g2 = self.user_sinr_db(snr_db, a1)
        if self.config.sic:
            first = self.receive_user1(y, snr_db, a1)  # user 2 decodes user 1's image ...
            y = y - _col(a1.sqrt()) * self.users[0].transmit_latent(first, g1)  # ... re-encodes it and cancels it
        return self.users[1].decoder(y / _col((1.0 - a1).sqrt()), g2, features=features)

    def forward(self, img1: torch.Tensor, img2: torch.Tensor, snr_db: torch.Tensor, a1: float,
                channel: ChannelConfig | None = None, *, generator: torch.Generator | None = None,
                collect: bool = False) -> NOMAOutput:
        """Send ``img1`` to user 1 and ``img2`` to user 2 (each ``(B, 3, H, W)``, same size) at ``snr_db`` ``(B,)``
        with power split ``a1``: each user gets its own channel draw; see the module docstring."""
        check_power_split(a1)
        if img1.shape != img2.shape:
            raise JsccInputError(f"both users' images must have one shape, got {tuple(img1.shape)} and "
                                 f"{tuple(img2.shape)}")
        a = torch.full_like(snr_db, float(a1))
        x = self.superpose(img1, img2, snr_db, a)
        ch = Channel(channel or ChannelConfig())
        # Each user's symbols are power-normalized, so the superposition has power a1 + a2 = 1 in expectation; per
        # frame the cross term 2 sqrt(a1 a2) Re<s1, s2> / k moves it by a few percent.
        sym = to_symbols(x)
        y1 = from_symbols(ch(sym, snr_db, generator=generator, per_sample_power=False).unbiased()[0], x.shape[1:])
        y2 = from_symbols(ch(sym, snr_db, generator=generator, per_sample_power=False).unbiased()[0], x.shape[1:])
        f1: list[torch.Tensor] = []
        f2: list[torch.Tensor] = []
        rec1 = self.receive_user1(y1, snr_db, a, f1 if collect else None)
        rec2 = self.receive_user2(y2, snr_db, a, f2 if collect else None)
        return NOMAOutput((rec1, rec2), (f1, f2), self.user_sinr_db(snr_db, a))


def _col(v: torch.Tensor) -> torch.Tensor:
    """``(B,)`` -> broadcastable over ``(B, c, h, w)``."""
    return v.reshape(-1, 1, 1, 1)


def teacher_pass(teacher: JSCCModel, img: torch.Tensor, sinr: torch.Tensor, *,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The interference-free single-user reference: ``img`` alone over AWGN at ``sinr`` dB; (image, features)."""
    s = teacher.transmit(img, sinr)
    y = Channel(ChannelConfig())(s, sinr, generator=generator).y
    feats: list[torch.Tensor] = []
    rec = teacher.decoder(from_symbols(y, teacher.latent_shape(*img.shape[-2:])), sinr, features=feats)
    return rec, feats


def distillation_loss(student_feats: list[torch.Tensor], teacher_feats: list[torch.Tensor],
                      student_img: torch.Tensor, teacher_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(feature-matching loss, output loss)``: mean over layers of the squared error between matching activations
    relative to the teacher activation's energy (so layers of any scale weigh alike), and the MSE between the two
    reconstructions (teacher side detached)."""
    if len(student_feats) != len(teacher_feats):
        raise JsccInputError(f"student has {len(student_feats)} feature maps, teacher {len(teacher_feats)}; "
                             "distil between the same architecture")
    fm = torch.stack([(s - t.detach()).square().mean() / (t.detach().square().mean() + 1e-8)
                      for s, t in zip(student_feats, teacher_feats)]).mean()
    return fm, (student_img - teacher_img.detach()).square().mean()
