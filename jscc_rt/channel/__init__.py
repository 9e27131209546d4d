"""Differentiable, batched link simulation: symbols, power normalization, AWGN, Rayleigh fading, equalization."""
from jscc_rt.channel.awgn import awgn, complex_normal
from jscc_rt.channel.complex_ops import abs2, cmul, conj
from jscc_rt.channel.fading import FadingDraw, draw_rayleigh, draw_rayleigh_blocks, equalize
from jscc_rt.channel.model import Channel, ChannelConfig, ChannelOutput
from jscc_rt.channel.modulation import ber_theory, demodulate_hard, modulate
from jscc_rt.channel.power import average_power, power_normalize
from jscc_rt.channel.snr import linear_to_snr_db, noise_var_to_snr_db, snr_db_to_linear, snr_db_to_noise_var
from jscc_rt.channel.symbols import bandwidth_ratio, from_symbols, to_symbols

__all__ = [
    "Channel", "ChannelConfig", "ChannelOutput", "FadingDraw", "abs2", "average_power", "awgn", "bandwidth_ratio",
    "ber_theory", "cmul", "complex_normal", "conj", "demodulate_hard", "draw_rayleigh", "draw_rayleigh_blocks", "equalize",
    "from_symbols", "linear_to_snr_db", "modulate", "noise_var_to_snr_db", "power_normalize",
    "snr_db_to_linear", "snr_db_to_noise_var", "to_symbols",
]
