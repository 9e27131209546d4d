"""Runtime: backend runners and the embeddable :class:`Receiver`."""
from jscc_rt.runtime.receiver import Receiver
from jscc_rt.runtime.runners import (OnnxRuntimeRunner, OpenVINORunner, Runner, RunnerUnavailable, TensorRTRunner,
                                     TorchRunner)

__all__ = ["OnnxRuntimeRunner", "OpenVINORunner", "Receiver", "Runner", "RunnerUnavailable", "TensorRTRunner",
           "TorchRunner"]
