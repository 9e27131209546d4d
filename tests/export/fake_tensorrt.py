"""A test double of the ``tensorrt`` Python module, exposing only TensorRT 11.x names (no GPU or TensorRT exists here).

:func:`make` returns ``(module, state)``. The module holds only names that TensorRT 11.x's Python bindings have
(checked against NVIDIA/TensorRT 11.1 ``python/src/infer/pyCore.cpp``, ``pyFoundationalTypes.cpp``, ``pyGraph.cpp``,
``parsers/pyOnnx.cpp``), and of those only what jscc_rt uses plus the enums' members; so code reaching for a name
11.x removed (``BuilderFlag.FP16``/``INT8``/``BF16``, ``OBEY``/``PREFER_PRECISION_CONSTRAINTS``, calibrators,
``Builder.platform_has_fast_*``) fails with ``AttributeError``. ``state`` (not part of the module) records what the
code did and lets a test make parsing or building fail.

What it models: :class:`OnnxParser` reads the real ONNX bytes with the ``onnx`` package and gives the network the
file's inputs (dynamic dims as -1) and outputs (dtype from the ONNX element type); it does not convert layers. The
builder checks the optimization profile like TensorRT (every dynamic input needs ``min <= opt <= max``, static dims
must match) and serializes a small JSON "engine". The execution context checks shapes against that profile, reads
inputs from their device addresses and fills outputs with 0.5 (1 for integer types) through ``ctypes`` (the runner
under test allocates CPU tensors, so the addresses are host memory).
"""
from __future__ import annotations

import ctypes
import enum
import json
import types
from dataclasses import dataclass, field
from typing import Any

import torch

MAGIC = b"FAKETRT\0"


class DataType(enum.Enum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4
    UINT8 = 5
    FP8 = 6
    BF16 = 7
    INT64 = 8
    INT4 = 9
    FP4 = 10
    E8M0 = 11


_TORCH = {"FLOAT": torch.float32, "HALF": torch.float16, "BF16": torch.bfloat16, "INT8": torch.int8,
          "INT32": torch.int32, "INT64": torch.int64, "BOOL": torch.bool, "UINT8": torch.uint8}
#: ONNX TensorProto element type -> DataType name.
_ONNX = {1: "FLOAT", 10: "HALF", 16: "BF16", 3: "INT8", 2: "UINT8", 6: "INT32", 7: "INT64", 9: "BOOL"}


class TensorIOMode(enum.Enum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class MemoryPoolType(enum.Enum):
    WORKSPACE = 0
    DLA_MANAGED_SRAM = 1
    DLA_LOCAL_DRAM = 2
    DLA_GLOBAL_DRAM = 3
    TACTIC_DRAM = 4
    TACTIC_SHARED_MEMORY = 5


#: BuilderFlag members of TensorRT 11.x (pyCore.cpp): no FP16, INT8, BF16, FP8, INT4, FP4, *_PRECISION_CONSTRAINTS,
#: DIRECT_IO (NVIDIA's "Removed Python APIs" list for 10.x -> 11.x).
BuilderFlag = enum.Enum("BuilderFlag", [
    "DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "EDITABLE_TIMING_CACHE", "TF32", "SPARSE_WEIGHTS",
    "SAFETY_SCOPE", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "ERROR_ON_TIMING_CACHE_MISS",
    "DISABLE_COMPILATION_CACHE", "STRIP_PLAN", "REFIT_IDENTICAL", "WEIGHT_STREAMING", "REFIT_INDIVIDUAL",
    "STRICT_NANS", "MONITOR_MEMORY", "DISTRIBUTIVE_INDEPENDENCE"])


@dataclass
class State:
    """What the code under test did, and switches that make TensorRT fail."""

    version: str = "11.4.0"
    network_flags: list[int] = field(default_factory=list)
    parsed: list[tuple[str | None, bytes]] = field(default_factory=list)
    config_flags: list[Any] = field(default_factory=list)
    profiles: list[dict[str, tuple]] = field(default_factory=list)
    timing_caches_in: list[bytes] = field(default_factory=list)
    builds: int = 0
    deserialized: int = 0
    executions: list[dict[str, torch.Tensor]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    fail_parse: bool = False
    fail_build: bool = False


def engine_bytes(io: list[dict], version: str, profile: dict[str, tuple] | None = None) -> bytes:
    """A serialized fake engine. ``io``: ``{"name", "mode": "INPUT"|"OUTPUT", "dtype": DataType name, "shape"}``;
    outputs may carry ``"rule": [input_name, channels, scale]``: shape (B, channels, H*scale, W*scale) of that input."""
    return MAGIC + json.dumps({"version": version, "io": io, "profile": profile or {}}).encode()


def _read(addr: int, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    n = int(torch.Size(shape).numel()) * torch.empty((), dtype=dtype).element_size()
    if n == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray((ctypes.c_char * n).from_address(addr)), dtype=dtype).reshape(shape)


def _write(addr: int, t: torch.Tensor) -> None:
    t = t.contiguous()
    ctypes.memmove(addr, t.data_ptr(), t.numel() * t.element_size())


class _Bound:
    """Like a pybind11 object without ``py::dynamic_attr``: after ``__init__`` no new attribute can be set, so code
    assigning a property 11.x removed (``config.int8_calibrator = ...``) fails with ``AttributeError``."""

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        init = cls.__init__

        def sealed_init(self: Any, *a: Any, **k: Any) -> None:
            init(self, *a, **k)
            if type(self) is cls:
                object.__setattr__(self, "_sealed", True)

        cls.__init__ = sealed_init  # type: ignore[method-assign]

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_sealed") and name not in self.__dict__:
            raise AttributeError(f"'tensorrt.{type(self).__name__}' object has no attribute '{name}'")
        object.__setattr__(self, name, value)


def make(version: str = "11.4.0") -> tuple[types.ModuleType, State]:
    """A fresh fake ``tensorrt`` module of ``version`` and its :class:`State`. For 10.x versions only the
    ``NetworkDefinitionCreationFlag`` values change (EXPLICIT_BATCH = 0, STRONGLY_TYPED = 1)."""
    st = State(version=version)
    major = int(version.split(".")[0])
    m = types.ModuleType("tensorrt")
    m.__version__ = version
    if major >= 11:  # STRONGLY_TYPED: deprecated in 11.0, kept for API compatibility, ignored
        flag = enum.IntEnum("NetworkDefinitionCreationFlag",
                            {"STRONGLY_TYPED": 0, "PREFER_AOT_PYTHON_PLUGINS": 1, "PREFER_JIT_PYTHON_PLUGINS": 2})
    else:
        flag = enum.IntEnum("NetworkDefinitionCreationFlag",
                            {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1, "PREFER_AOT_PYTHON_PLUGINS": 2,
                             "PREFER_JIT_PYTHON_PLUGINS": 3})

    class ILogger(_Bound):
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)

    class Logger(ILogger):
        def __init__(self, min_severity: int = ILogger.WARNING) -> None:
            self.min_severity = min_severity

    class ITensor(_Bound):
        def __init__(self, name: str, shape: tuple[int, ...], dtype: DataType) -> None:
            self.name, self.shape, self.dtype = name, shape, dtype

    class INetworkDefinition(_Bound):
        def __init__(self, flags: int) -> None:
            self.flags, self._inputs, self._outputs = flags, [], []

        num_inputs = property(lambda self: len(self._inputs))
        num_outputs = property(lambda self: len(self._outputs))

        def get_input(self, index: int) -> ITensor:
            return self._inputs[index]

        def get_output(self, index: int) -> ITensor:
            return self._outputs[index]

    class OnnxParser(_Bound):
        def __init__(self, network: INetworkDefinition, logger: ILogger) -> None:
            self.network, self.logger, self._errors = network, logger, []

        def parse(self, model: bytes, path: str | None = None) -> bool:
            import onnx

            st.parsed.append((path, bytes(model)))
            if st.fail_parse:
                self._errors = ["In node 0 (parseGraph): INVALID_NODE: fake parse failure"]
                return False
            g = onnx.load_from_string(bytes(model)).graph

            def tensor(v: Any) -> ITensor:
                dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim)
                return ITensor(v.name, dims, DataType[_ONNX[v.type.tensor_type.elem_type]])

            inits = {i.name for i in g.initializer}
            self.network._inputs = [tensor(v) for v in g.input if v.name not in inits]
            self.network._outputs = [tensor(v) for v in g.output]
            return True

        num_errors = property(lambda self: len(self._errors))

        def get_error(self, index: int) -> str:
            return self._errors[index]

    class IOptimizationProfile(_Bound):
        def __init__(self) -> None:
            self.shapes: dict[str, tuple] = {}

        def set_shape(self, input: str, min: Any, opt: Any, max: Any) -> None:  # noqa: A002 (TensorRT's names)
            self.shapes[input] = (tuple(min), tuple(opt), tuple(max))

    class ITimingCache(_Bound):
        def __init__(self, data: bytes) -> None:
            self.data = data

        def serialize(self) -> bytes:
            return self.data

    class IBuilderConfig(_Bound):
        def __init__(self) -> None:
            self.profiles: list[IOptimizationProfile] = []
            self.pool_limits: dict[Any, int] = {}
            self._cache: ITimingCache | None = None

        def set_memory_pool_limit(self, pool: MemoryPoolType, pool_size: int) -> None:
            self.pool_limits[pool] = pool_size

        def set_flag(self, flag: Any) -> None:
            st.config_flags.append(flag)

        def create_timing_cache(self, serialized_timing_cache: bytes) -> ITimingCache:
            st.timing_caches_in.append(bytes(serialized_timing_cache))
            return ITimingCache(bytes(serialized_timing_cache))

        def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
            self._cache = cache
            return True

        def get_timing_cache(self) -> ITimingCache | None:
            return self._cache

        def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

    class Builder(_Bound):
        def __init__(self, logger: ILogger) -> None:
            self.logger = logger

        def create_network(self, flags: int = 0) -> INetworkDefinition:
            st.network_flags.append(flags)
            return INetworkDefinition(flags)

        def create_builder_config(self) -> IBuilderConfig:
            return IBuilderConfig()

        def create_optimization_profile(self) -> IOptimizationProfile:
            return IOptimizationProfile()

        def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) -> bytes | None:
            st.builds += 1
            prof = config.profiles[0].shapes if config.profiles else {}
            st.profiles.append(prof)
            errors: list[str] = []
            for t in network._inputs:
                if t.name not in prof:
                    if -1 in t.shape:
                        errors.append(f"{t.name}: dynamic input without a profile")
                    continue
                lo, mid, hi = prof[t.name]
                if not len(lo) == len(mid) == len(hi) == len(t.shape):
                    errors.append(f"{t.name}: profile rank {len(lo)} != input rank {len(t.shape)}")
                elif any(not (a <= b <= c) for a, b, c in zip(lo, mid, hi)):
                    errors.append(f"{t.name}: profile min <= opt <= max violated: {lo} {mid} {hi}")
                elif any(d >= 0 and not (a == b == c == d) for d, a, b, c in zip(t.shape, lo, mid, hi)):
                    errors.append(f"{t.name}: profile {lo} {mid} {hi} disagrees with static dims {t.shape}")
            st.errors += errors
            if st.fail_build or errors:
                return None
            if config._cache is not None:
                config._cache.data += b"t"
            ins = [t for t in network._inputs]
            rank4 = [t.name for t in ins if len(t.shape) == 4]
            io = [{"name": t.name, "mode": "INPUT", "dtype": t.dtype.name, "shape": list(t.shape)} for t in ins]
            io += [{"name": t.name, "mode": "OUTPUT", "dtype": t.dtype.name, "shape": list(t.shape),
                    "rule": [rank4[0], t.shape[1], 1] if rank4 and len(t.shape) == 4 else None}
                   for t in network._outputs]
            return engine_bytes(io, version, prof)

    class IExecutionContext(_Bound):
        def __init__(self, engine: "ICudaEngine") -> None:
            self.engine, self.shapes, self.addresses = engine, {}, {}

        def set_input_shape(self, name: str, shape: Any) -> bool:
            shape = tuple(shape)
            rng = self.engine._spec["profile"].get(name)
            if rng is not None and not all(a <= s <= c for a, s, c in zip(rng[0], shape, rng[2])):
                return False
            self.shapes[name] = shape
            return True

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            io = self.engine._io[name]
            if io["mode"] == "INPUT":
                return self.shapes[name]
            src, ch, scale = io["rule"]
            b, _, h, w = self.shapes[src]
            return (b, ch, h * scale, w * scale)

        def set_tensor_address(self, name: str, memory: int) -> bool:
            self.addresses[name] = int(memory)
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            seen = {}
            for name, io in self.engine._io.items():
                dtype, shape = _TORCH[io["dtype"]], self.get_tensor_shape(name)
                if io["mode"] == "INPUT":
                    seen[name] = _read(self.addresses[name], shape, dtype)
                else:
                    fill = 0.5 if dtype.is_floating_point else 1
                    _write(self.addresses[name], torch.full(shape, fill, dtype=dtype))
            st.executions.append(seen)
            return True

    class ICudaEngine(_Bound):
        def __init__(self, spec: dict) -> None:
            self._spec, self._io = spec, {t["name"]: t for t in spec["io"]}

        num_io_tensors = property(lambda self: len(self._spec["io"]))

        def get_tensor_name(self, index: int) -> str:
            return self._spec["io"][index]["name"]

        def get_tensor_mode(self, name: str) -> TensorIOMode:
            return TensorIOMode[self._io[name]["mode"]]

        def get_tensor_dtype(self, name: str) -> DataType:
            return DataType[self._io[name]["dtype"]]

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            return tuple(self._io[name]["shape"])

        def create_execution_context(self) -> IExecutionContext:
            return IExecutionContext(self)

    class Runtime(_Bound):
        def __init__(self, logger: ILogger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, serialized_engine: bytes) -> ICudaEngine | None:
            st.deserialized += 1
            data = bytes(serialized_engine)
            if not data.startswith(MAGIC):
                return None
            spec = json.loads(data[len(MAGIC):])
            return ICudaEngine(spec) if spec["version"] == m.__version__ else None

    for name, obj in {"Logger": Logger, "ILogger": ILogger, "Builder": Builder, "Runtime": Runtime,
                      "OnnxParser": OnnxParser, "INetworkDefinition": INetworkDefinition, "ITensor": ITensor,
                      "IBuilderConfig": IBuilderConfig, "IOptimizationProfile": IOptimizationProfile,
                      "ITimingCache": ITimingCache, "ICudaEngine": ICudaEngine,
                      "IExecutionContext": IExecutionContext, "NetworkDefinitionCreationFlag": flag,
                      "BuilderFlag": BuilderFlag, "MemoryPoolType": MemoryPoolType, "DataType": DataType,
                      "TensorIOMode": TensorIOMode}.items():
        setattr(m, name, obj)
    return m, st
