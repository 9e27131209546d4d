"""Export: ONNX graphs (encoder, decoder, denoiser, unrolled receivers), TensorRT engines, parity checks."""
from jscc_rt.runtime.graphs import DecoderGraph, DenoiserGraph, EncoderGraph, ReceiverGraph

__all__ = ["DecoderGraph", "DenoiserGraph", "EncoderGraph", "ReceiverGraph"]
