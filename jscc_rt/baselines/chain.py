"""The separate source-then-channel chain at a fixed channel-use budget.

image -> codec (highest quality that fits the payload) -> 32-bit length header + stream bits -> code blocks
(5G LDPC / Polar with CRC) -> Gray QAM -> channel (:class:`jscc_rt.channel.Channel`: AWGN or Rayleigh, ZF with
the receiver's CSI) -> exact LLRs -> decoding -> image decode.

Concealment: when any code block fails its CRC (or the stream does not decode), the whole image is lost: a JPEG /
WebP / AVIF stream is not decodable past an error, so the receiver shows the mid-grey image (0.5 everywhere) and
counts a failure. Because one failed block loses the image, the receiver decodes in chunks of ``chunk`` blocks
and stops at the first chunk with a CRC failure. Nothing raises for a bad channel; the result says what happened.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.baselines.codecs import Encoded, decode, fit_to_budget
from jscc_rt.baselines.codes import BlockCode, CodeConfig
from jscc_rt.baselines.qam import bits_per_symbol, qam_llr, qam_map
from jscc_rt.channel import Channel, ChannelConfig

HEADER_BITS = 32  # stream length in bytes, sent inside the coded payload
CONCEALMENT_VALUE = 0.5


@dataclass(frozen=True)
class MCS:
    """A modulation-and-coding pair: QAM ``order`` and code ``rate`` (before CRC) for ``code`` blocks of ``n`` bits."""

    code: str
    order: int
    rate: float
    n: int

    @property
    def spectral_efficiency(self) -> float:
        """Coded bits per channel use times the rate (bits / complex channel use, CRC included)."""
        return bits_per_symbol(self.order) * self.rate

    def label(self) -> str:
        return f"{self.code.upper()} {self.order}-QAM r={self.rate:.3g}"

    def code_config(self) -> CodeConfig:
        return CodeConfig(self.code, self.n, self.rate, bits_per_symbol(self.order))  # type: ignore[arg-type]

    def n_blocks(self, shape: tuple[int, int], ratio: float) -> int:
        """Code blocks that fit the channel uses of an ``H x W`` image at bandwidth ratio ``ratio``."""
        return channel_uses(shape, ratio) * bits_per_symbol(self.order) // self.n

    def payload_bits(self, shape: tuple[int, int], ratio: float) -> int:
        """Codec bits available for an ``H x W`` image (blocks x payload, minus the length header); needs no
        channel-code object."""
        return self.n_blocks(shape, ratio) * self.code_config().payload_bits - HEADER_BITS


def channel_uses(shape: tuple[int, int], ratio: float) -> int:
    """Complex channel uses for an ``H x W`` RGB image at bandwidth ratio ``k/n = ratio``."""
    return int(3 * shape[0] * shape[1] * ratio)


def ideal_bits(k_uses: int, snr_db: float) -> int:
    """Capacity-achieving ideal: ``k * log2(1 + SNR)`` error-free bits (AWGN, or per image with CSI at the
    transmitter under block fading: pass the instantaneous SNR)."""
    return int(k_uses * math.log2(1.0 + 10.0 ** (snr_db / 10.0)))


@dataclass
class ChainResult:
    """``image`` (3, H, W) as received, ``ok`` (every block passed its CRC and the stream decoded), the source
    encoding that was sent (``None`` if the budget was too small for any quality), the number of blocks and of
    failed blocks in the chunk where decoding stopped."""

    image: torch.Tensor
    ok: bool
    encoded: Encoded | None
    blocks: int
    failed_blocks: int


def _to_bits(data: bytes, total: int) -> torch.Tensor:
    head = np.frombuffer(len(data).to_bytes(4, "big"), dtype=np.uint8)
    bits = np.unpackbits(np.concatenate([head, np.frombuffer(data, dtype=np.uint8)]))
    out = np.zeros(total, dtype=np.uint8)
    out[: bits.size] = bits
    return torch.from_numpy(out)


def _from_bits(bits: torch.Tensor) -> bytes | None:
    b = bits.to(torch.uint8).numpy()
    length = int.from_bytes(np.packbits(b[:HEADER_BITS]).tobytes(), "big")
    if HEADER_BITS + 8 * length > b.size:
        return None
    return np.packbits(b[HEADER_BITS: HEADER_BITS + 8 * length]).tobytes()


class DigitalChain:
    """Codec + MCS over a channel, for images at bandwidth ratio ``ratio``.

    ``transmit(img, snr_db)`` runs one realization. Code objects are built once per chain.
    """

    def __init__(self, codec: str, mcs: MCS, channel: ChannelConfig | None = None, ratio: float = 1 / 16,
                 chunk: int = 64) -> None:
        if not 0.0 < ratio <= 1.0:
            raise JsccInputError(f"bandwidth ratio must lie in (0, 1], got {ratio}")
        self.codec, self.mcs, self.ratio = codec, mcs, ratio
        self.channel = Channel(channel or ChannelConfig())
        self.code = BlockCode(mcs.code_config())
        self.chunk = chunk

    def n_blocks(self, shape: tuple[int, int]) -> int:
        return self.mcs.n_blocks(shape, self.ratio)

    def payload_bits(self, shape: tuple[int, int]) -> int:
        """Codec bits available for an ``H x W`` image (blocks x payload, minus the length header)."""
        return self.mcs.payload_bits(shape, self.ratio)

    def source_encode(self, img: torch.Tensor) -> Encoded | None:
        shape = (int(img.shape[1]), int(img.shape[2]))
        budget = self.payload_bits(shape)
        return fit_to_budget(img, self.codec, budget) if budget > 0 else None

    def transmit(self, img: torch.Tensor, snr_db: float, *, generator: torch.Generator | None = None,
                 encoded: Encoded | None = None) -> ChainResult:
        """Send ``img`` ``(3, H, W)`` float [0, 1] at ``snr_db``. ``encoded`` reuses a source encoding (it depends
        only on the image and the budget, not on the SNR)."""
        shape = (int(img.shape[1]), int(img.shape[2]))
        nb = self.n_blocks(shape)
        enc = encoded if encoded is not None else self.source_encode(img)
        conceal = torch.full_like(img, CONCEALMENT_VALUE)
        if enc is None or nb == 0:
            return ChainResult(conceal, False, None, nb, nb)
        payload = _to_bits(enc.data, nb * self.code.k).reshape(nb, self.code.k)
        coded = self.code.encode(payload)  # (nb, n)
        x = qam_map(coded.reshape(1, -1).round().long(), self.mcs.order)  # (1, nb*n/m, 2)
        out = self.channel(x, snr_db, generator=generator, per_sample_power=False)  # QAM: unit energy on average
        y, nv = out.unbiased()
        llr = qam_llr(y, nv, self.mcs.order).reshape(nb, self.code.n)
        parts = []
        for i in range(0, nb, self.chunk):
            bits, ok = self.code.decode(llr[i: i + self.chunk])
            if not bool(ok.all()):
                return ChainResult(conceal, False, enc, nb, int((~ok).sum()))
            parts.append(bits)
        data = _from_bits(torch.cat(parts).reshape(-1))
        try:
            image = decode(data, shape) if data is not None else None
        except JsccInputError:
            image = None
        if image is None:  # every block passed its CRC, yet the codec cannot decode the payload: undetected errors
            return ChainResult(conceal, False, enc, nb, 0)
        return ChainResult(image, True, enc, nb, 0)
