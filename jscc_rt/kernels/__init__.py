"""Fused ops (Triton) beside their pure-PyTorch references, and the dispatcher that picks one.

Triton is imported only when a Triton implementation is chosen.
"""
from jscc_rt.kernels.dispatch import IMPL_ENV, KernelUnavailable, choose_impl, sampler_step, tx_channel_rx
from jscc_rt.kernels.sampler_step.naive import sampler_step_naive
from jscc_rt.kernels.tx_channel_rx.naive import TxRxOutput, tx_channel_rx_naive

__all__ = [
    "IMPL_ENV", "KernelUnavailable", "TxRxOutput", "choose_impl", "sampler_step", "sampler_step_naive",
    "tx_channel_rx", "tx_channel_rx_naive",
]
