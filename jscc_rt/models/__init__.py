"""JSCC models: Deep JSCC and VAE-JSCC, SNR-adaptive, with checkpoint I/O."""
from jscc_rt.models.checkpoint import load_model, save_model
from jscc_rt.models.config import MODEL_NAMES, JSCCConfig
from jscc_rt.models.jscc import Decoder, Encoder, JSCCModel

__all__ = ["Decoder", "Encoder", "JSCCConfig", "JSCCModel", "MODEL_NAMES", "load_model", "save_model"]
