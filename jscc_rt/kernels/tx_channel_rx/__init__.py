"""``tx_channel_rx``: fused transmitter power normalization, channel, equalization and diffusion scaling."""
from jscc_rt.kernels.tx_channel_rx.naive import TxRxOutput, expand_blocks, n_blocks, nearest_step, tx_channel_rx_naive

__all__ = ["TxRxOutput", "expand_blocks", "n_blocks", "nearest_step", "tx_channel_rx_naive"]
