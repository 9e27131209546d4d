"""TensorRT builder and runner against a test double of TensorRT 11.x (no GPU or TensorRT exists on this machine).

What is faked, and why:

* ``tensorrt``: :mod:`fake_tensorrt` (beside this file), injected with ``monkeypatch.setitem(sys.modules, ...)``. It
  exposes only TensorRT 11.x names that jscc_rt uses (weak-typing names such as ``BuilderFlag.FP16`` are absent, so
  using one fails with AttributeError). Its parser reads the *real* ONNX files' inputs with the ``onnx`` package;
  it does not compile anything.
* ``torch.cuda.is_available`` / ``current_device`` / ``get_device_name`` / ``get_device_capability``: report one
  GPU ("NVIDIA GeForce RTX 5090", compute capability 12.0 unless a test changes it), since no CUDA device exists.
* ``jscc_rt.export.trt._driver_version``: a fixed driver string (there is no NVIDIA driver here to read).
* ``jscc_rt.runtime.tensorrt_runner._GPU``: the runner's CUDA hooks (device, pinned allocation, stream, CUDA graph
  capture) replaced by a CPU stand-in that counts pinned buffers and captures; buffers live in host memory, which
  the fake execution context reads and writes through their addresses.

The ONNX graphs are real: the shipped ``unrolled-1_16`` exported by ``jscc-rt export onnx`` and a consistency
receiver (shipped ``vae-1_16`` + ``consistency-vae-1_16``, N = 3, so it has a ``noise`` input). Precision variants
are copies of the fp32 graph with a marker doc string and a sidecar naming the precision (the converter is not
under test here: the builder only has to pick the right file).
"""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest
import torch

import jscc_rt
from jscc_rt._validate import JsccInputError
from jscc_rt.cli import main
from jscc_rt.export import trt as trt_mod
from jscc_rt.runtime.variants import PRECISIONS, variant_path
from jscc_rt.export.trt import (KODAK_SIZES, EngineBuildError, MissingVariant, Profile, Target, TensorRTUnavailable,
                                build_engine, engine_key)
from jscc_rt.runtime import tensorrt_runner as runner_mod
from jscc_rt.runtime.tensorrt_runner import EngineMismatch, TensorRTRunner

onnx = pytest.importorskip("onnx")
_spec = importlib.util.spec_from_file_location("fake_tensorrt", Path(__file__).with_name("fake_tensorrt.py"))
fake_tensorrt = sys.modules.setdefault("fake_tensorrt", importlib.util.module_from_spec(_spec))  # type: ignore[arg-type]
_spec.loader.exec_module(fake_tensorrt)  # type: ignore[union-attr]

GPU = "NVIDIA GeForce RTX 5090"


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real exported graphs and their fp16/bf16/int8 variant files."""
    from jscc_rt.diffusion.schedule import NoiseSchedule
    from jscc_rt.runtime.graphs import ReceiverGraph
    from jscc_rt.export.onnx_export import SPECS, export_graph, receiver_inputs
    from jscc_rt.models import load_model
    from jscc_rt.models.registry import resolve_checkpoint

    d = tmp_path_factory.mktemp("trt_onnx")
    assert main(["export", "onnx", "--model", "unrolled-1_16", "--out", str(d)]) == 0
    model = load_model(resolve_checkpoint("vae-1_16"))
    den = load_model(resolve_checkpoint("consistency-vae-1_16"), expect="DenoiserConfig")
    c = model.config.latent_channels
    ex = (torch.randn(1, c, 4, 6), torch.tensor([0.1]), torch.tensor([10.0]), torch.randn(1, 2, c, 4, 6))
    export_graph(ReceiverGraph(model, den, NoiseSchedule(**den.meta["schedule"]), 3, eta=1.0), ex,  # a noise input
                 d / "receiver_consistency3.onnx", receiver_inputs(True), SPECS["receiver"].outputs,
                 {"graph": "receiver", "steps": 3, "sampler": "consistency", "stride": model.stride,
                  "jscc_config": model.config.to_dict()})
    out = {p.stem: p for p in d.glob("*.onnx")}
    for p in out.values():
        for q in PRECISIONS[1:]:
            m = onnx.load(str(p))
            m.doc_string = f"{q} variant of {p.name} (test copy)"
            onnx.save(m, str(variant_path(p, q)))
            side = json.loads(p.with_suffix(".json").read_text())
            variant_path(p, q).with_suffix(".json").write_text(json.dumps({**side, "precision": q}))
    return out


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, object]:
    mod, state = fake_tensorrt.make("11.4.0")
    monkeypatch.setitem(sys.modules, "tensorrt", mod)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: GPU)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (12, 0))
    monkeypatch.setattr(trt_mod, "_driver_version", lambda: "575.57.08")
    return mod, state


class CpuStandIn:
    """The runner's CUDA hooks on the CPU: counts pinned buffers and graph captures; replay re-runs the function."""

    device = torch.device("cpu")

    def __init__(self) -> None:
        self.pinned = self.captures = self.replays = 0

    def pinned_empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        self.pinned += 1
        return torch.empty(shape, dtype=dtype)

    def stream(self) -> SimpleNamespace:
        return SimpleNamespace(cuda_stream=0, synchronize=lambda: None)

    def capture(self, fn):  # noqa: ANN001, ANN201
        self.captures += 1

        def replay() -> None:
            self.replays += 1
            fn()
        return replay


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> CpuStandIn:
    s = CpuStandIn()
    monkeypatch.setattr(runner_mod, "_GPU", s)
    return s


# (a) variants, never flags --------------------------------------------------------------------------------------

def test_builds_each_precision_from_its_variant_file(fake, graphs, tmp_path: Path) -> None:
    mod, st = fake
    src = graphs["receiver_decoder"]
    for p in PRECISIONS:
        eng = build_engine(src, precision=p, cache_dir=tmp_path)
        path, data = st.parsed[-1]
        assert Path(path) == variant_path(src, p) and data == variant_path(src, p).read_bytes()
        meta = json.loads(eng.with_suffix(".json").read_text())
        assert meta["precision"] == p and f"-{p}-sm120-" in eng.name
        assert meta["compute_capability"] == "12.0" and meta["driver"] == "575.57.08" and meta["gpu"] == GPU
        assert meta["tensorrt"] == "11.4.0" and meta["profile"]["height"] == [64, 512, 768]
    assert st.config_flags == []  # no builder flag at all, precision lives in the graph
    assert st.network_flags == [0] * 4  # 11.x: create_network() without STRONGLY_TYPED (deprecated, always on)
    # the variant path itself is accepted too
    assert build_engine(variant_path(src, "bf16"), precision="bf16", cache_dir=tmp_path).is_file()


def test_double_has_no_weak_typing_names(fake) -> None:
    mod, _ = fake
    for name in ("FP16", "INT8", "BF16", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS"):
        assert not hasattr(mod.BuilderFlag, name)
    for name in ("IInt8EntropyCalibrator2", "IInt8Calibrator", "CalibrationAlgoType"):
        assert not hasattr(mod, name)
    assert not hasattr(mod.Builder(mod.Logger()), "platform_has_fast_fp16")


def test_package_has_no_weak_typing_api() -> None:
    """No API that TensorRT 11.x removed, in the package, its docs and examples (the test double is the exception)."""
    pat = re.compile(r"BuilderFlag\.(FP16|INT8|BF16|FP8|INT4|FP4|DIRECT_IO)|OBEY_PRECISION|PREFER_PRECISION|IInt8|"
                     r"platform_has_fast|int8_calibrator|quantization_flag|calibration_profile|device_memory_size\b")
    root = Path(jscc_rt.__file__).parent.parent
    files = [*(root / "jscc_rt").rglob("*.py"), *(root / "bench").rglob("*.py"), *(root / "examples").rglob("*.py"),
             *(root / "docs").rglob("*.md"), root / "README.md"]
    hits = [f"{f}:{i}" for f in files for i, line in enumerate(f.read_text().splitlines(), 1) if pat.search(line)]
    assert hits == []


def test_double_refuses_removed_names(fake) -> None:
    """The double fails where TensorRT 11.x does: removed flags, removed builder-config properties (read or set)."""
    mod, _ = fake
    for name in ("FP16", "INT8", "BF16", "FP8", "DIRECT_IO", "OBEY_PRECISION_CONSTRAINTS"):
        with pytest.raises(AttributeError):
            getattr(mod.BuilderFlag, name)
    cfg = mod.Builder(mod.Logger()).create_builder_config()
    with pytest.raises(AttributeError):
        cfg.int8_calibrator = object()
    with pytest.raises(AttributeError):
        cfg.set_quantization_flag(0)


def test_trt10_sets_strongly_typed_and_trt9_is_refused(fake, graphs, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    mod10, st10 = fake_tensorrt.make("10.13.3")
    monkeypatch.setitem(sys.modules, "tensorrt", mod10)
    build_engine(graphs["receiver_decoder"], precision="fp16", cache_dir=tmp_path)
    assert st10.network_flags == [1 << int(mod10.NetworkDefinitionCreationFlag.STRONGLY_TYPED)] == [2]
    mod8, _ = fake_tensorrt.make("8.6.1")
    monkeypatch.setitem(sys.modules, "tensorrt", mod8)
    with pytest.raises(TensorRTUnavailable, match="TensorRT >= 10"):
        build_engine(graphs["receiver_decoder"], precision="fp16", cache_dir=tmp_path)


# (b) optimization profile ---------------------------------------------------------------------------------------

def _expected(name: str, shape: tuple[int, ...], h: int, w: int, stride: int) -> tuple[int, ...]:
    """Shape of input ``name`` for one ``h`` x ``w`` image (static dims from the ONNX file)."""
    if len(shape) == 1:
        return (1,)
    if name == "images":
        return (1, 3, h, w)
    if name == "noise":
        return (1, shape[1], shape[2] if shape[2] > 0 else 24, h // stride, w // stride)
    return (1, shape[1], h // stride, w // stride)


def test_profile_covers_both_kodak_orientations(fake, graphs, tmp_path: Path) -> None:
    mod, st = fake
    assert all(Profile().covers(h, w) for h, w in KODAK_SIZES)
    for stem in ("encoder", "decoder", "receiver_decoder", "receiver_consistency3"):
        build_engine(graphs[stem], precision="fp16", cache_dir=tmp_path)
        assert st.errors == []  # the double's TensorRT-like profile validation passed
        prof = st.profiles[-1]
        net = onnx.load(str(graphs[stem])).graph.input
        shapes = {v.name: tuple(d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim)
                  for v in net}
        assert set(prof) == set(shapes)
        stride = json.loads(graphs[stem].with_suffix(".json").read_text())["stride"]
        for name, shape in shapes.items():
            lo, opt, hi = prof[name]
            for h, w in KODAK_SIZES:
                x = _expected(name, shape, h, w, stride)
                assert all(a <= v <= b for a, v, b in zip(lo, x, hi)), (stem, name, h, w, prof[name])
            assert opt == _expected(name, shape, 512, 768, stride)
    noise = st.profiles[-1]["noise"]
    assert noise == ((1, 2, 24, 8, 8), (1, 2, 24, 64, 96), (16, 2, 24, 96, 96))


def test_profile_sizes_must_be_stride_multiples(fake, graphs, tmp_path: Path) -> None:
    with pytest.raises(JsccInputError, match="stride 8"):
        build_engine(graphs["receiver_decoder"], precision="fp32", cache_dir=tmp_path,
                     profile=Profile(height=(60, 512, 768)))
    with pytest.raises(JsccInputError, match="min <= opt <= max"):
        Profile(width=(768, 512, 64))


# (c) engine cache -----------------------------------------------------------------------------------------------

def test_cache_key_covers_gpu_driver_precision_trt(fake, graphs, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    mod, st = fake
    data, prof = b"onnx-bytes", Profile()
    base = Target(GPU, "12.0", "575.57.08", "11.4.0")
    keys = {engine_key(data, prof, "fp16", base), engine_key(data, prof, "bf16", base),
            engine_key(data, prof, "fp16", Target(GPU, "8.9", "575.57.08", "11.4.0")),
            engine_key(data, prof, "fp16", Target(GPU, "12.0", "580.1", "11.4.0")),
            engine_key(data, prof, "fp16", Target(GPU, "12.0", "575.57.08", "10.13.3")),
            engine_key(data, Profile(batch=(1, 1, 8)), "fp16", base), engine_key(b"other", prof, "fp16", base)}
    assert len(keys) == 7
    src = graphs["receiver_decoder"]
    first = build_engine(src, precision="fp16", cache_dir=tmp_path)
    assert build_engine(src, precision="fp16", cache_dir=tmp_path) == first and st.builds == 1  # reused
    monkeypatch.setattr(trt_mod, "_driver_version", lambda: "580.65.06")
    second = build_engine(src, precision="fp16", cache_dir=tmp_path)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (8, 9))
    third = build_engine(src, precision="fp16", cache_dir=tmp_path)
    assert len({first, second, third}) == 3 and st.builds == 3 and "-sm89-" in third.name
    assert st.timing_caches_in[0] == b"" and st.timing_caches_in[1] == b"t"  # timing cache reused per GPU


# (d) failed builds leave nothing ---------------------------------------------------------------------------------

def test_failed_build_or_parse_leaves_no_file(fake, graphs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod, st = fake
    st.fail_build = True
    with pytest.raises(EngineBuildError, match="failed to build"):
        build_engine(graphs["receiver_decoder"], precision="fp16", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
    st.fail_build, st.fail_parse = False, True
    with pytest.raises(EngineBuildError, match="could not parse.*INVALID_NODE"):
        build_engine(graphs["receiver_decoder"], precision="fp16", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
    st.fail_parse = False
    calls = []

    def failing_fsync(fd: int) -> None:  # the disk fills up while the sidecar is written
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
    monkeypatch.setattr(trt_mod.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        build_engine(graphs["receiver_decoder"], precision="fp16", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# (e) clear errors -----------------------------------------------------------------------------------------------

def test_unknown_precision_and_missing_variant(fake, graphs, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    src = graphs["receiver_decoder"]
    with pytest.raises(JsccInputError, match="unknown precision 'fp8'"):
        build_engine(src, precision="fp8", cache_dir=tmp_path)
    lone = tmp_path / "lone" / "receiver_decoder.onnx"
    lone.parent.mkdir()
    lone.write_bytes(src.read_bytes())
    lone.with_suffix(".json").write_text(src.with_suffix(".json").read_text())
    with pytest.raises(MissingVariant) as e:
        build_engine(lone, precision="int8", cache_dir=tmp_path / "c")
    assert "receiver_decoder.int8.onnx" in str(e.value) and "jscc-rt export onnx --precision int8" in str(e.value)
    assert not (tmp_path / "c").exists()
    with pytest.raises(JsccInputError, match="is the fp16 variant"):
        build_engine(variant_path(src, "fp16"), precision="int8", cache_dir=tmp_path)
    assert main(["export", "trt", str(lone), "--precision", "int8", "--cache", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--precision int8" in err


def test_cli_builds_and_reports_missing_tensorrt(fake, graphs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    src = graphs["receiver_decoder"]
    assert main(["export", "trt", str(src), "--precision", "bf16", "--cache", str(tmp_path)]) == 0
    assert "-bf16-sm120-" in capsys.readouterr().out
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` raises ImportError
    assert main(["export", "trt", str(src), "--cache", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "TensorRT is not installed" in err
    with pytest.raises(SystemExit) as e:
        main(["export", "trt", str(src), "--precision", "fp8"])
    assert e.value.code == 2


# (f) runner refuses engines of another GPU / TensorRT ----------------------------------------------------------

def test_runner_refuses_other_capability_or_trt_version(fake, graphs, tmp_path: Path, gpu: CpuStandIn,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    mod, st = fake
    eng = build_engine(graphs["receiver_decoder"], precision="fp16", cache_dir=tmp_path)
    with TensorRTRunner(eng, threads=4) as r:
        assert (r.precision, r.device, r.threads) == ("fp16", GPU, 4)
        assert r.input_names == ["received", "noise_var"] and r.output_names == ["images"]
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (8, 9))
    with pytest.raises(EngineMismatch) as e:
        TensorRTRunner(eng).load()
    assert all(s in str(e.value) for s in ("12.0", "8.9", "rebuild", "--precision fp16"))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (12, 0))
    monkeypatch.setattr(mod, "__version__", "11.5.0")
    with pytest.raises(EngineMismatch) as e:
        TensorRTRunner(eng).load()
    assert "TensorRT 11.4.0" in str(e.value) and "11.5.0" in str(e.value) and "rebuild" in str(e.value)
    assert st.deserialized == 1  # only the matching load reached deserialize_cuda_engine


# (g) dtypes, pinned staging, CUDA graphs -----------------------------------------------------------------------

def _engine(tmp_path: Path, mod: ModuleType, outs: dict[str, str], in_dtype: str = "FLOAT") -> Path:
    io = [{"name": "received", "mode": "INPUT", "dtype": in_dtype, "shape": [-1, 24, -1, -1]},
          {"name": "noise_var", "mode": "INPUT", "dtype": "FLOAT", "shape": [-1]}]
    io += [{"name": n, "mode": "OUTPUT", "dtype": dt, "shape": [-1, 3, -1, -1], "rule": ["received", 3, 8]}
           for n, dt in outs.items()]
    path = tmp_path / "hand.engine"
    path.write_bytes(fake_tensorrt.engine_bytes(io, mod.__version__))
    path.with_suffix(".json").write_text(json.dumps({"precision": "bf16", "tensorrt": mod.__version__,
                                                     "compute_capability": "12.0", "gpu": GPU}))
    return path


def test_output_dtypes_follow_the_engine(fake, tmp_path: Path, gpu: CpuStandIn) -> None:
    mod, st = fake
    eng = _engine(tmp_path, mod, {"images": "BF16", "half": "HALF", "float": "FLOAT", "count": "INT32"}, "HALF")
    x = np.random.default_rng(0).standard_normal((2, 24, 4, 6)).astype(np.float32)
    with TensorRTRunner(eng) as r:
        out = r.infer({"received": x, "noise_var": np.full(2, 0.3, np.float32)})
        assert {n: t.dtype for n, t in out.items()} == {"images": torch.bfloat16, "half": torch.float16,
                                                        "float": torch.float32, "count": torch.int32}
        assert out["images"].shape == (2, 3, 32, 48) and bool((out["images"] == 0.5).all())
        seen = st.executions[-1]["received"]
        assert seen.dtype == torch.float16 and torch.equal(seen, torch.from_numpy(x).half())  # cast to engine dtype
        assert gpu.pinned == 2  # numpy feeds were staged through pinned buffers
        r.infer({"received": x, "noise_var": np.full(2, 0.3, np.float32)})
        assert gpu.pinned == 2  # and the buffers are reused for the same shapes
    with pytest.raises(Exception, match="no torch equivalent"):
        TensorRTRunner(_engine(tmp_path, mod, {"images": "FP8"})).load()


def test_cuda_graph_capture_replay_and_recapture(fake, tmp_path: Path, gpu: CpuStandIn) -> None:
    mod, st = fake
    eng = _engine(tmp_path, mod, {"images": "FLOAT"})

    def feeds(h: int, w: int, v: float) -> dict[str, torch.Tensor]:
        return {"received": torch.full((1, 24, h, w), v), "noise_var": torch.full((1,), 0.1)}
    with TensorRTRunner(eng, cuda_graphs=True) as r:
        a = r.infer(feeds(4, 6, 1.0))["images"]
        assert (gpu.captures, gpu.replays, len(st.executions)) == (1, 0, 1)  # eager first run, then captured
        b = r.infer(feeds(4, 6, 2.0))["images"]
        assert (gpu.captures, gpu.replays) == (1, 1)  # same shapes: replayed
        assert bool((st.executions[-1]["received"] == 2.0).all())  # new values copied into the static buffer
        assert a.data_ptr() != b.data_ptr()  # results are copies, not the graph's static output buffer
        c = r.infer(feeds(6, 4, 3.0))["images"]
        assert (gpu.captures, gpu.replays) == (2, 1) and c.shape == (1, 3, 48, 32)  # new shape: recaptured
