"""5G NR channel codes through NVIDIA Sionna 2.x (PyTorch): LDPC (BP) and Polar (CRC-aided SCL).

Sionna is an optional extra (``pip install 'jscc-rt[baselines]'``, package ``sionna-no-rt``); it keeps torch 2.13
CPU. Each code block carries a CRC so the receiver *detects* a failed block the way a real link does:

* LDPC: CRC24B over the info bits (38.212 code-block CRC), then 5G LDPC (base graph chosen by Sionna), rate-matched
  to ``n`` coded bits, with the QAM bit interleaver of 38.212 5.4.2.2; BP with ``num_iter`` flooding iterations.
  Below rate 1/5 (the lowest Sionna's rate matching reaches) the rate-1/5 codeword is repeated cyclically to ``n``
  bits, as the 38.212 circular buffer does, and the receiver adds the repeated LLRs (chase combining).
* Polar: 5G uplink polar code (``n <= 1088``, CRC11 inside the code), SCL decoding with ``list_size`` paths; the
  decoder's CRC check is the block's error flag.

For both, ``rate = (payload + CRC) / n`` (the 5G convention), and ``block.k`` counts payload bits (after the CRC
overhead), which is what the image codec may spend.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Literal

import torch

from jscc_rt._validate import JsccInputError

CodeKind = Literal["ldpc", "polar"]


class BaselineUnavailable(ImportError):
    """A baseline's optional dependency (Sionna) is missing."""


def _sionna_fec():
    try:
        from sionna.phy.fec import crc, ldpc, polar
    except ImportError as e:
        raise BaselineUnavailable(
            "the LDPC / Polar baselines need Sionna 2.x (PyTorch): pip install 'jscc-rt[baselines]' "
            "(package sionna-no-rt; it keeps the installed torch)"
        ) from e
    return crc, ldpc, polar


@dataclass(frozen=True)
class CodeConfig:
    """One code block: ``kind``, coded length ``n`` (bits), rate ``k_info / n`` before CRC, decoder settings."""

    kind: CodeKind = "ldpc"
    n: int = 1920
    rate: float = 0.5
    bits_per_symbol: int = 2
    ldpc_iters: int = 20
    polar_list: int = 8

    def __post_init__(self) -> None:
        if self.kind not in ("ldpc", "polar"):
            raise JsccInputError(f"code kind must be 'ldpc' or 'polar', got {self.kind!r}")
        if not 0.0 < self.rate < 1.0:
            raise JsccInputError(f"code rate must lie in (0, 1), got {self.rate}")
        if self.kind == "polar" and not 32 <= self.n <= 1088:
            raise JsccInputError(f"5G polar codes need 32 <= n <= 1088 coded bits, got n={self.n}")
        if self.kind == "ldpc" and not 64 <= self.n <= 8 * 8448:
            raise JsccInputError(f"LDPC block length n={self.n} out of range [64, 67584]")
        if self.n % self.bits_per_symbol:
            raise JsccInputError(f"n={self.n} must be a multiple of bits_per_symbol={self.bits_per_symbol}")

    @property
    def k_info(self) -> int:
        """Payload + CRC bits per block, ``round(n * rate)``."""
        return int(round(self.n * self.rate))

    @property
    def crc_bits(self) -> int:
        return 24 if self.kind == "ldpc" else 11

    @property
    def payload_bits(self) -> int:
        """Payload bits per block (``k_info`` minus the CRC): what the source may spend."""
        return self.k_info - self.crc_bits

    def to_dict(self) -> dict:
        return asdict(self)


class BlockCode:
    """Encode ``(B, k)`` payload bits to ``(B, n)`` coded bits; decode ``(B, n)`` LLRs to payload and a CRC flag.

    ``k`` (payload bits per block) = ``k_info - 24`` for LDPC (CRC24B), ``k_info - 11`` for polar (CRC11).
    """

    def __init__(self, cfg: CodeConfig) -> None:
        crc, ldpc, polar = _sionna_fec()
        self.cfg, self.n = cfg, cfg.n
        self.k = cfg.payload_bits
        if self.k < 12:
            raise JsccInputError(f"{cfg.kind} block n={cfg.n} at rate {cfg.rate} leaves {self.k} payload bits after "
                                 "the CRC (< 12); raise n or the rate")
        if cfg.kind == "ldpc":
            self._crc_enc = crc.CRCEncoder("CRC24B")
            self._crc_dec = crc.CRCDecoder(self._crc_enc)
            m = cfg.bits_per_symbol
            n_inner = cfg.n if cfg.k_info * 5 >= cfg.n else m * (cfg.k_info * 5 // m)  # rate >= 1/5
            self._rep = torch.arange(cfg.n) % n_inner if n_inner < cfg.n else None
            with warnings.catch_warnings():  # CQI 15 (r = 948/1024) warns about its effective rate; it is in spec
                warnings.simplefilter("ignore", UserWarning)
                self._enc = ldpc.LDPC5GEncoder(cfg.k_info, n_inner, num_bits_per_symbol=m)
            self._dec = ldpc.LDPC5GDecoder(self._enc, num_iter=cfg.ldpc_iters, hard_out=True, return_infobits=True)
        else:
            self._enc = polar.Polar5GEncoder(self.k, cfg.n, channel_type="uplink")
            self._dec = polar.Polar5GDecoder(self._enc, dec_type="SCL", list_size=cfg.polar_list,
                                             return_crc_status=True)

    def encode(self, bits: torch.Tensor) -> torch.Tensor:
        """``(B, k)`` 0/1 payload -> ``(B, n)`` 0/1 coded bits (float32)."""
        if bits.ndim != 2 or bits.shape[1] != self.k:
            raise JsccInputError(f"payload must be (B, {self.k}) bits for this code, got {tuple(bits.shape)}")
        u = bits.float()
        if self.cfg.kind != "ldpc":
            return self._enc(u)
        c = self._enc(self._crc_enc(u))
        return c if self._rep is None else c[:, self._rep]

    def decode(self, llr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, n)`` LLRs (positive = bit 1) -> ``(payload (B, k) uint8, ok (B,) bool)``: ``ok`` is the CRC check."""
        if llr.ndim != 2 or llr.shape[1] != self.n:
            raise JsccInputError(f"LLRs must be (B, {self.n}) for this code, got {tuple(llr.shape)}")
        if self.cfg.kind == "ldpc":
            llr = llr.float()
            if self._rep is not None:  # chase-combine the repeated bits
                llr = torch.zeros(llr.shape[0], self._enc.n, dtype=llr.dtype).index_add_(1, self._rep, llr)
            u_hat, ok = self._crc_dec(self._dec(llr))
        else:
            u_hat, ok = self._dec(llr.float())
        return u_hat.round().to(torch.uint8), ok.reshape(-1).bool()
