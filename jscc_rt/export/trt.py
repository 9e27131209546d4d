"""``jscc-rt export trt``: TensorRT engines from the exported ONNX, strongly typed (TensorRT 10.x and 11.x).

TensorRT 11 builds strongly typed networks only: there are no FP16/INT8/BF16 builder flags and no INT8 calibrators;
an engine computes in the types its ONNX graph carries. So ``precision`` picks which ONNX *variant* is built
(``NAME.onnx`` for fp32, ``NAME.<precision>.onnx`` from ``jscc-rt export onnx --precision ...``; see
:mod:`jscc_rt.export.precision`) and never sets a builder flag. On TensorRT 10.x the network is created with
``NetworkDefinitionCreationFlag.STRONGLY_TYPED``; on 11.x that flag is deprecated and ignored (strong typing is always
on), so ``create_network()`` gets no flags.

One optimization profile covers batch and image sizes (min / opt / max); latent inputs get ``image // stride``.
The timing cache is kept per GPU and TensorRT version. Engines are cached under a key hashing the ONNX bytes, the
profile, the precision, the TensorRT version, the GPU's compute capability and the driver version; engine and
sidecar are written to temporary files and moved into place, so a failed build leaves nothing in the cache. Without
TensorRT (>= 10) or a CUDA GPU, :class:`TensorRTUnavailable` is raised (the CLI exits with code 2); no engine is
ever faked.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jscc_rt._validate import JsccInputError
from jscc_rt.runtime.variants import check_precision, precision_of, variant_path

#: The two Kodak orientations (height, width) in pixels that the default profile must cover.
KODAK_SIZES: tuple[tuple[int, int], ...] = ((512, 768), (768, 512))


class TensorRTUnavailable(RuntimeError):
    """TensorRT (>= 10) or a CUDA GPU is missing here."""


class EngineBuildError(RuntimeError):
    """TensorRT could not parse the ONNX graph or build an engine from it (the message carries its errors)."""


class MissingVariant(JsccInputError):
    """The ONNX variant for the requested precision has not been exported."""


@dataclass(frozen=True)
class Profile:
    """Optimization-profile ranges as ``(min, opt, max)``: ``batch`` (images) and image ``height``/``width`` (pixels).

    Latent inputs (``received``, ``noise``, ...) get ``height // stride`` and ``width // stride`` of the model
    stride. The default covers both Kodak orientations: 512x768 (the opt shape) and 768x512, since height and width
    each range over [64, 768].
    """

    batch: tuple[int, int, int] = (1, 1, 16)
    height: tuple[int, int, int] = (64, 512, 768)
    width: tuple[int, int, int] = (64, 768, 768)

    def __post_init__(self) -> None:
        for field in ("batch", "height", "width"):
            v = tuple(getattr(self, field))
            if len(v) != 3 or not all(isinstance(x, int) and x >= 1 for x in v) or not v[0] <= v[1] <= v[2]:
                raise JsccInputError(f"Profile.{field} must be three positive ints min <= opt <= max, got {v}")

    def covers(self, height: int, width: int, batch: int = 1) -> bool:
        """Whether an input of ``batch`` images of ``height`` x ``width`` pixels lies inside the profile."""
        return (self.batch[0] <= batch <= self.batch[2] and self.height[0] <= height <= self.height[2]
                and self.width[0] <= width <= self.width[2])


@dataclass(frozen=True)
class Target:
    """What an engine is specific to: GPU name, compute capability (``"12.0"``), driver and TensorRT versions."""

    gpu: str
    compute_capability: str
    driver: str
    tensorrt: str


def _driver_version() -> str:
    """NVIDIA driver version (``"575.57.08"``), from /proc, NVML or the CUDA driver API; ``"unknown"`` if none."""
    try:
        m = re.search(r"Kernel Module\s+(?:for\s+\S+\s+)?([0-9][0-9.]+)", Path("/proc/driver/nvidia/version").read_text())
        if m:
            return m.group(1)
    except OSError:
        pass
    try:
        import pynvml

        pynvml.nvmlInit()
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:  # pynvml absent or NVML failed: fall through
        pass
    try:
        import torch

        return f"cuda-driver-api-{torch._C._cuda_getDriverVersion()}"  # type: ignore[attr-defined]
    except Exception:
        return "unknown"


def trt_major(version: str) -> int:
    """Major version of a TensorRT version string (``"11.4.0.5"`` -> 11)."""
    try:
        return int(version.split(".")[0])
    except ValueError as e:
        raise TensorRTUnavailable(f"cannot read the TensorRT version {version!r}") from e


def require_trt() -> tuple[Any, Target]:
    """Import TensorRT and describe the GPU; raises :class:`TensorRTUnavailable` naming what is missing."""
    try:
        import tensorrt as trt
    except ImportError as e:
        raise TensorRTUnavailable("TensorRT is not installed (pip install 'jscc-rt[trt]' on an NVIDIA GPU machine)") from e
    if trt_major(trt.__version__) < 10:
        raise TensorRTUnavailable(f"TensorRT {trt.__version__} is too old: strongly typed builds need TensorRT >= 10")
    import torch

    if not torch.cuda.is_available():
        raise TensorRTUnavailable("TensorRT needs a CUDA GPU and none is visible; engines are built on the target GPU")
    dev = torch.cuda.current_device()
    major, minor = torch.cuda.get_device_capability(dev)
    return trt, Target(torch.cuda.get_device_name(dev), f"{major}.{minor}", _driver_version(), str(trt.__version__))


def network_flags(trt: Any) -> int | None:
    """``create_network`` flags: STRONGLY_TYPED on 10.x; ``None`` (no argument) on 11.x, where it is always on."""
    if trt_major(trt.__version__) >= 11:
        return None
    return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)


def engine_key(onnx_bytes: bytes, profile: Profile, precision: str, target: Target) -> str:
    """24 hex digits of SHA-256 over the ONNX bytes, profile, precision, TensorRT/driver versions and GPU."""
    h = hashlib.sha256(onnx_bytes)
    h.update(json.dumps({"profile": asdict(profile), "precision": precision, **asdict(target)},
                        sort_keys=True).encode())
    return h.hexdigest()[:24]


#: Fallback dynamic axes by input name, for sidecars without ``dynamic_axes`` (what onnx_export.py writes).
_DEFAULT_AXES = {"images": {0: "batch", 2: "height", 3: "width"},
                 "noise": {0: "batch", 2: "lat_c", 3: "lat_h", 4: "lat_w"}}
_LAT_AXES = {0: "batch", 2: "lat_h", 3: "lat_w"}


def _axes(name: str, rank: int, side: dict) -> dict[int, str]:
    if name in side.get("dynamic_axes", {}):
        return {int(k): v for k, v in side["dynamic_axes"][name].items()}
    if name.startswith("images") or name == "noise":
        return _DEFAULT_AXES["images" if name.startswith("images") else "noise"]
    return {0: "batch"} if rank == 1 else _LAT_AXES


def _latent_channels(inputs: list[tuple[str, tuple[int, ...]]], side: dict) -> int | None:
    for name, shape in inputs:
        if len(shape) == 4 and "lat_h" in _axes(name, 4, side).values() and shape[1] > 0:
            return shape[1]
    cfg = side.get("jscc_config") or side.get("noma_config", {}).get("base") or {}
    return cfg.get("latent_channels")


def profile_shapes(name: str, shape: tuple[int, ...], side: dict, profile: Profile, stride: int,
                   channels: int | None) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(min, opt, max) shapes of one network input. Static dims (>= 0) are kept; dynamic ones (-1) are sized by
    their axis name: ``batch``, ``height``/``width`` (pixels), ``lat_h``/``lat_w`` (pixels // stride), ``lat_c``
    (latent channels). E.g. ``noise`` (B, N-1, c, h, w) of a consistency receiver, stride 8, default profile:
    min (1, N-1, c, 8, 8), opt (1, N-1, c, 64, 96), max (16, N-1, c, 96, 96)."""
    axes = _axes(name, len(shape), side)
    out = []
    for which in range(3):
        size = {"batch": profile.batch[which], "height": profile.height[which], "width": profile.width[which],
                "lat_h": profile.height[which] // stride, "lat_w": profile.width[which] // stride, "lat_c": channels}
        dims = []
        for i, d in enumerate(shape):
            if d >= 0:
                dims.append(int(d))
            elif size.get(axes.get(i, "")) is None:
                raise JsccInputError(f"input {name!r} dim {i} of {tuple(shape)} is dynamic with no known size "
                                     f"(axis {axes.get(i)!r}); re-export it with `jscc-rt export onnx`")
            else:
                dims.append(int(size[axes[i]]))  # type: ignore[arg-type]
        out.append(tuple(dims))
    return out[0], out[1], out[2]


def _atomic_write(files: list[tuple[Path, bytes]]) -> None:
    """Write each ``(path, data)`` to a temporary file in the path's folder, then ``os.replace`` them all into
    place; if any write fails, every temporary file is removed and no target is touched."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)


def resolve_variant(onnx_path: str | Path, precision: str) -> Path:
    """The ONNX file to build for ``precision``; raises :class:`MissingVariant` / ``FileNotFoundError`` naming it."""
    check_precision(precision)
    onnx_path = Path(onnx_path)
    named = precision_of(onnx_path)
    if named not in ("fp32", precision):
        raise JsccInputError(f"{onnx_path} is the {named} variant but precision {precision!r} was asked; "
                             f"pass the fp32 graph {variant_path(onnx_path, 'fp32')} and --precision {precision}")
    src = variant_path(onnx_path, precision)
    if src.is_file():
        return src
    if precision == "fp32":
        raise FileNotFoundError(f"ONNX file {str(src)!r} not found; run `jscc-rt export onnx` first")
    raise MissingVariant(f"the {precision} variant {src} is missing; create it with "
                         f"`jscc-rt export onnx --precision {precision}` (TensorRT takes precision from the graph)")


def _sidecar(src: Path, precision: str) -> dict:
    """Graph metadata: the fp32 graph's sidecar overlaid with the variant's own (which must name ``precision``)."""
    base, own = variant_path(src, "fp32").with_suffix(".json"), src.with_suffix(".json")
    if not own.is_file() and not base.is_file():
        raise FileNotFoundError(f"sidecar {own} not found; re-export the graph with `jscc-rt export onnx`")
    side = json.loads(base.read_text()) if base.is_file() else {}
    if own != base and own.is_file():
        mine = json.loads(own.read_text())
        if mine.get("precision", precision) != precision:
            raise JsccInputError(f"{own} records precision {mine['precision']!r}, not {precision!r}; re-export it")
        side.update(mine)
    return side


def build_engine(onnx_path: str | Path, *, precision: str = "fp16", profile: Profile = Profile(),
                 cache_dir: str | Path = "out/trt_cache", workspace_gb: float = 4.0) -> Path:
    """Build (or fetch from the cache) a serialized, strongly typed engine; returns the ``.engine`` path.

    ``onnx_path``: the fp32 graph ``NAME.onnx`` (or the variant itself); ``precision`` (fp32/fp16/bf16/int8) selects
    ``NAME.<precision>.onnx``. ``profile``: batch and image-size ranges (pixels). ``workspace_gb``: builder workspace
    limit in GiB. Beside the engine, ``.json`` records precision, profile, TensorRT version, GPU name, compute
    capability and driver version (the runner checks them before loading).
    """
    src = resolve_variant(onnx_path, precision)
    side = _sidecar(src, precision)
    stride = int(side.get("stride", 1))
    bad = [v for v in (*profile.height, *profile.width) if v % stride]
    if bad:
        raise JsccInputError(f"profile image sizes {bad} are not multiples of the model stride {stride}")
    if workspace_gb <= 0:
        raise JsccInputError(f"workspace_gb must be > 0, got {workspace_gb}")
    trt, target = require_trt()
    onnx_bytes = src.read_bytes()
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    key = engine_key(onnx_bytes, profile, precision, target)
    cc = target.compute_capability.replace(".", "")
    stem = variant_path(src, "fp32").stem
    engine_path = cache / f"{stem}-{precision}-sm{cc}-{key}.engine"
    if engine_path.is_file() and engine_path.with_suffix(".json").is_file():
        return engine_path
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = network_flags(trt)
    network = builder.create_network() if flags is None else builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes, str(src)):
        errs = "; ".join(str(parser.get_error(i)).replace("\n", " ") for i in range(parser.num_errors))
        raise EngineBuildError(f"TensorRT {target.tensorrt} could not parse {src}: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    slug = re.sub(r"[^A-Za-z0-9]+", "_", target.gpu).strip("_")
    timing_path = cache / f"timing-{slug}-sm{cc}-trt{target.tensorrt}.cache"
    tcache = config.create_timing_cache(timing_path.read_bytes() if timing_path.is_file() else b"")
    config.set_timing_cache(tcache, ignore_mismatch=False)
    opt = builder.create_optimization_profile()
    inputs = [(network.get_input(i).name, tuple(network.get_input(i).shape)) for i in range(network.num_inputs)]
    channels = _latent_channels(inputs, side)
    shapes = {n: profile_shapes(n, s, side, profile, stride, channels) for n, s in inputs}
    for name, (lo, mid, hi) in shapes.items():
        opt.set_shape(name, lo, mid, hi)
    config.add_optimization_profile(opt)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(f"TensorRT {target.tensorrt} failed to build an engine for {src} on {target.gpu}; "
                               "see its log above")
    meta = {"onnx": str(variant_path(src, "fp32")), "source": str(src), "precision": precision, "key": key,
            "profile": asdict(profile), "input_shapes": {n: [list(s) for s in v] for n, v in shapes.items()},
            **asdict(target), **{k: side[k] for k in ("graph", "steps", "sampler", "stride", "jscc_sha256") if k in side}}
    _atomic_write([(engine_path, bytes(serialized)),
                   (engine_path.with_suffix(".json"), (json.dumps(meta, indent=2) + "\n").encode()),
                   (timing_path, bytes(config.get_timing_cache().serialize()))])
    return engine_path
