"""Training loops (PyTorch)."""
from jscc_rt.train.config import TrainConfig
from jscc_rt.train.jscc import train

__all__ = ["TrainConfig", "train"]
