"""``jscc-rt export trt``: TensorRT engines from the exported ONNX through TensorRT's Python API.

Optimization profiles cover batch and latent/image sizes (min / opt / max), precision is FP32 or FP16, a timing
cache is reused across builds, and engines are cached under a key hashing the ONNX bytes, the profile, the
precision, the TensorRT version and the GPU name. Without TensorRT or a CUDA GPU, :class:`TensorRTUnavailable` is
raised (the CLI exits with code 2); no engine is ever faked.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path


class TensorRTUnavailable(RuntimeError):
    """TensorRT or a CUDA GPU is missing here."""


@dataclass(frozen=True)
class Profile:
    """Shape ranges: ``batch`` and image ``height``/``width`` (latent sizes follow from the model stride)."""

    batch: tuple[int, int, int] = (1, 1, 16)
    height: tuple[int, int, int] = (64, 512, 768)
    width: tuple[int, int, int] = (64, 768, 768)


def _require_trt():
    try:
        import tensorrt as trt
    except ImportError as e:
        raise TensorRTUnavailable("TensorRT is not installed (pip install 'jscc-rt[trt]' on an NVIDIA GPU machine)") from e
    import torch

    if not torch.cuda.is_available():
        raise TensorRTUnavailable("TensorRT needs a CUDA GPU and none is visible; engines are built on the target GPU")
    return trt, torch.cuda.get_device_name(0)


def engine_key(onnx_path: Path, profile: Profile, precision: str, trt_version: str, gpu: str) -> str:
    h = hashlib.sha256(onnx_path.read_bytes())
    h.update(json.dumps({"profile": asdict(profile), "precision": precision, "trt": trt_version, "gpu": gpu},
                        sort_keys=True).encode())
    return h.hexdigest()[:24]


def _dims(name: str, shape_rank: int, side: dict, profile: Profile, stride: int, which: int, c: int) -> tuple[int, ...]:
    b = profile.batch[which]
    hh, ww = profile.height[which], profile.width[which]
    if shape_rank == 1:
        return (b,)
    if name == "images":
        return (b, 3, hh, ww)
    if name == "noise":
        return (b, side["steps"] - 1, c, hh // stride, ww // stride)
    return (b, c, hh // stride, ww // stride)


def build_engine(onnx_path: str | Path, *, precision: str = "fp16", profile: Profile = Profile(),
                 cache_dir: str | Path = "out/trt_cache", workspace_gb: float = 4.0) -> Path:
    """Build (or fetch from the cache) a serialized engine for ``onnx_path``; returns the ``.engine`` path."""
    if precision not in ("fp32", "fp16"):
        raise ValueError(f"precision must be 'fp32' or 'fp16', got {precision!r}")
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise FileNotFoundError(f"ONNX file {str(onnx_path)!r} not found; run `jscc-rt export onnx` first")
    trt, gpu = _require_trt()
    side = json.loads(onnx_path.with_suffix(".json").read_text())
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    key = engine_key(onnx_path, profile, precision, trt.__version__, gpu)
    engine_path = cache / f"{onnx_path.stem}-{precision}-{key}.engine"
    if engine_path.is_file():
        return engine_path
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    timing_path = cache / "timing.cache"
    tcache = config.create_timing_cache(timing_path.read_bytes() if timing_path.is_file() else b"")
    config.set_timing_cache(tcache, ignore_mismatch=False)
    opt = builder.create_optimization_profile()
    c = side["jscc_config"]["latent_channels"]
    for i in range(network.num_inputs):
        t = network.get_input(i)
        rank = len(t.shape)
        opt.set_shape(t.name, *(_dims(t.name, rank, side, profile, side["stride"], j, c) for j in range(3)))
    config.add_optimization_profile(opt)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine for {onnx_path}")
    engine_path.write_bytes(bytes(serialized))
    timing_path.write_bytes(bytes(config.get_timing_cache().serialize()))
    engine_path.with_suffix(".json").write_text(json.dumps(
        {"onnx": str(onnx_path), "precision": precision, "profile": asdict(profile), "tensorrt": trt.__version__,
         "gpu": gpu, "key": key, **{k: side[k] for k in ("graph", "steps", "jscc_sha256") if k in side}}, indent=2) + "\n")
    return engine_path
