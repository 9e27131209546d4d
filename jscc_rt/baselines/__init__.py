"""Separate source-then-channel coding baselines: image codec -> 5G LDPC / Polar -> QAM -> channel -> decoding.

Needs the ``baselines`` extra (Sionna 2.x for the codes, Pillow for the codecs); imported lazily by the CLI.
"""
from jscc_rt.baselines.chain import MCS, ChainResult, DigitalChain, channel_uses, ideal_bits
from jscc_rt.baselines.codecs import CODECS, CodecUnavailable, Encoded, SourceCoder, decode, encode, fit_to_budget
from jscc_rt.baselines.codes import BaselineUnavailable, BlockCode, CodeConfig
from jscc_rt.baselines.qam import qam_llr, qam_map

__all__ = [
    "CODECS", "MCS", "BaselineUnavailable", "BlockCode", "ChainResult", "CodeConfig", "CodecUnavailable",
    "DigitalChain", "Encoded", "SourceCoder", "channel_uses", "decode", "encode", "fit_to_budget", "ideal_bits",
    "qam_llr", "qam_map",
]
