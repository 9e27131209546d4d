"""jscc-rt: deployment-oriented inference toolkit for diffusion-driven deep JSCC of images.

``import jscc_rt`` needs only torch and numpy; onnx, onnxruntime, tensorrt, triton, matplotlib and lpips are
imported lazily by the parts that use them.
"""
from jscc_rt._validate import JsccInputError
from jscc_rt.channel import Channel, ChannelConfig, ChannelOutput
from jscc_rt.models import JSCCConfig, JSCCModel, load_model, save_model
from jscc_rt.pipeline import Link, LinkResult
from jscc_rt.runtime.receiver import Receiver

__version__ = "0.1.0"

__all__ = [
    "Channel", "ChannelConfig", "ChannelOutput", "JSCCConfig", "JSCCModel", "JsccInputError", "Link", "LinkResult", "Receiver",
    "__version__", "load_model", "save_model",
]
