"""ONNX export: checker-clean graphs with dynamic axes and sidecars; torch vs onnxruntime parity on real images."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from jscc_rt import JSCCConfig, JSCCModel, save_model
from jscc_rt.cli import main
from jscc_rt.train.diffusion import DiffusionTrainConfig, train_diffusion

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small trained-for-a-few-steps JSCC + denoiser + consistency student, exported once."""
    import os

    os.environ.pop("JSCC_DATA", None)
    d = tmp_path_factory.mktemp("exp")
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), d / "jscc.pt")
    train_diffusion(DiffusionTrainConfig(jscc=str(d / "jscc.pt"), crop=64, n_latents=32, latent_crop=8,
                                         batch_size=4, steps=5, cd_steps=3, width=16, threads=1), d / "diff",
                    show_progress=False)
    assert main(["export", "onnx", "--model", str(d / "jscc.pt"), "--denoiser", str(d / "diff" / "denoiser.pt"),
                 "--consistency", str(d / "diff" / "consistency.pt"), "--out", str(d / "onnx"),
                 "--precision", "fp32"]) == 0
    return d / "onnx"


def test_graphs_checker_clean_with_sidecars(exported: Path) -> None:
    import onnx

    names = sorted(p.stem for p in exported.glob("*.onnx"))
    assert names == sorted(["encoder", "decoder", "denoiser", "receiver_decoder"] +
                           [f"receiver_{s}{n}" for s in ("ddim", "consistency") for n in (1, 2, 4)])
    for p in exported.glob("*.onnx"):
        onnx.checker.check_model(onnx.load(str(p)), full_check=True)
        side = json.loads(p.with_suffix(".json").read_text())
        assert side["opset"] == 17 and len(side["jscc_sha256"]) == 64
        if side["graph"] == "receiver" and side["steps"]:
            assert side["steps"] in (1, 2, 4) and side["sampler"] in ("ddim", "consistency")
            assert len(side["denoiser_sha256"]) == 64
            assert side["denoiser_snr_range_db"] == [-5.0, 20.0]  # DiffusionTrainConfig's defaults


def test_dynamic_batch_and_size(exported: Path) -> None:
    from jscc_rt.runtime import OnnxRuntimeRunner

    with OnnxRuntimeRunner(exported / "receiver_ddim2.onnx") as r:
        for b, (h, w) in [(1, (4, 6)), (3, (5, 9))]:
            out = r.infer({"received": torch.randn(b, 24, h, w), "noise_var": torch.full((b,), 0.3),
                           "snr_db": torch.full((b,), 5.0)})["images"]
            assert out.shape == (b, 3, 8 * h, 8 * w)


def test_parity_psnr_delta_below_0p01_db(exported: Path) -> None:
    """fp32 onnxruntime vs torch on the embedded photos, every receiver graph, at 0 and 10 dB."""
    from jscc_rt.export.check import check_parity

    rows = check_parity(exported, snrs=(0.0, 10.0), max_images=2)
    assert len(rows) == 2 * 7
    for r in rows:
        assert r["psnr_delta_db"] < 0.01, r
        assert r["max_abs_err"] < 1e-4, r


def test_trt_without_tensorrt_exits_2(exported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT present")
    except ImportError:
        pass
    assert main(["export", "trt", str(exported / "receiver_ddim1.onnx")]) == 2
    assert "no engine was built" in capsys.readouterr().err


def test_decoder_conditioning_after_denoising_is_exported(exported: Path, tmp_path: Path) -> None:
    """Receivers are exported with the recommended decoder conditioning (20 dB) by default; one exported with
    decoder_snr_db=None (the effective SNR) records that and matches the torch graph built with it."""
    from jscc_rt.export.onnx_export import export_all
    from jscc_rt.runtime import OnnxRuntimeRunner
    from jscc_rt.runtime.receiver import graph_from_sidecar

    src = json.loads((exported / "receiver_ddim1.json").read_text())
    assert src["decoder_snr_db"] == 20.0
    paths = export_all(src["jscc_checkpoint"], src["denoiser_checkpoint"], tmp_path, steps=(1,), decoder_snr_db=None)
    p = next(q for q in paths if q.stem == "receiver_ddim1")
    meta = json.loads(p.with_suffix(".json").read_text())
    assert meta["decoder_snr_db"] is None
    feeds = {"received": torch.randn(1, 24, 4, 6), "noise_var": torch.tensor([0.5]), "snr_db": torch.tensor([3.0])}
    with OnnxRuntimeRunner(p) as r:
        a = r.infer(feeds)["images"]
    with torch.no_grad():
        b = graph_from_sidecar(meta)(*feeds.values())
        c = graph_from_sidecar(src)(*feeds.values())
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(b, c)  # the conditioning really changed


def test_receiver_graph_schedule_math_matches_noise_schedule() -> None:
    """The graph's float32, export-friendly start step and alpha_bar interpolation track NoiseSchedule's float64."""
    from jscc_rt.diffusion import NoiseSchedule
    from jscc_rt.runtime.graphs import ReceiverGraph

    sched = NoiseSchedule()
    g = ReceiverGraph(JSCCModel(JSCCConfig(width=16)), None, sched, 0)
    ab = torch.tensor([0.05, 0.3, 0.5, 0.77, 0.95, 0.999])
    torch.testing.assert_close(g.start_step(ab).double(), sched.step_for_alpha_bar(ab.double(), "interp"),
                               rtol=0, atol=1e-3)  # steps
    t = torch.tensor([-1.0, 0.0, 10.5, 250.25, 998.0])
    torch.testing.assert_close(g.alpha_bar_at(t).double(), sched.alpha_bar_at(t.double()), rtol=1e-5, atol=0)


@pytest.fixture(scope="module")
def shipped_exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped vae-1_16 with its denoiser and consistency student: trained weights, so every step matters."""
    from jscc_rt.export.onnx_export import export_all

    d = tmp_path_factory.mktemp("shipped")
    export_all("vae-1_16", "denoiser-vae-1_16", d, steps=(1, 2, 4), consistency="consistency-vae-1_16")
    return d


def _link_and_feeds(link) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Generator]:
    """Two embedded crops (64x96) through ``link`` at 0 and 7 dB (seed 5), and the receiver-graph feeds made from the
    same channel noise, in Link's order; the returned generator is positioned for the re-noising draws that follow."""
    from jscc_rt.data import sample_images
    from jscc_rt.kernels.dispatch import tx_channel_rx

    img, snr = torch.stack([im[:, :64, :96] for _, im in sample_images()[:2]]), torch.tensor([0.0, 7.0])
    with torch.no_grad():
        ref = link(img, snr, generator=torch.Generator().manual_seed(5)).images
        g = torch.Generator().manual_seed(5)
        z, _ = link.model.encode_latent(img, snr)
        eq = tx_channel_rx(z.reshape(2, -1), snr, output="equalized", generator=g)
    feeds = {"received": eq.out.reshape(z.shape), "noise_var": 10 ** (-eq.snr_eff_db / 10), "snr_db": snr}
    return ref, feeds, g


@pytest.mark.parametrize("sampler,steps", [("ddim", 1), ("ddim", 2), ("ddim", 4), ("consistency", 1),
                                           ("consistency", 2), ("consistency", 4)])
def test_exported_receiver_equals_link_with_the_eager_sampler(shipped_exported: Path, sampler: str,
                                                               steps: int) -> None:
    """One receiver math: the exported graph (onnxruntime) and the torch ReceiverGraph decode what Link + the eager
    DiffusionReceiver decodes on the same channel noise and the same re-noising draws. Tensors and tolerances:
    images max abs diff < 2e-3 (float32 graph vs float64 start step and coefficients in the eager sampler)."""
    from jscc_rt.channel import ChannelConfig
    from jscc_rt.diffusion import DiffusionReceiver, NoiseSchedule, ReceiverConfig
    from jscc_rt.models import load_model
    from jscc_rt.pipeline import Link
    from jscc_rt.runtime import OnnxRuntimeRunner
    from jscc_rt.runtime.receiver import graph_from_sidecar

    exported = shipped_exported
    side = json.loads((exported / f"receiver_{sampler}{steps}.json").read_text())
    jscc = load_model(side["jscc_checkpoint"]).eval()
    net = load_model(side["denoiser_checkpoint"], expect="DenoiserConfig").eval()
    sched = NoiseSchedule(**side["schedule"])
    rx = DiffusionReceiver(net, sched, ReceiverConfig(sampler=sampler, steps=steps))
    link = Link(jscc, ChannelConfig("awgn"), receiver=rx, decoder_snr_db=side["decoder_snr_db"])
    ref, feeds, _ = _link_and_feeds(link)
    with torch.no_grad():
        assert ("noise" in side["inputs"]) is False  # deterministic re-noising (eta = 0) by default
        graph_out = graph_from_sidecar(side)(*feeds.values())
    with OnnxRuntimeRunner(exported / f"receiver_{sampler}{steps}.onnx") as r:
        onnx_out = r.infer(feeds)["images"]
    assert (graph_out - ref).abs().max() < 2e-3, float((graph_out - ref).abs().max())
    assert (onnx_out - ref).abs().max() < 2e-3, float((onnx_out - ref).abs().max())


@pytest.mark.parametrize("steps", [2, 4])
def test_fresh_noise_consistency_graph_equals_link(steps: int) -> None:
    """eta = 1 (Song et al.'s fresh re-noising): the torch ReceiverGraph with a ``noise`` input decodes what Link +
    the eager consistency sampler decodes on the same draws. images max abs diff < 2e-3."""
    from jscc_rt.channel import ChannelConfig
    from jscc_rt.diffusion import DiffusionReceiver, NoiseSchedule, ReceiverConfig
    from jscc_rt.models import load_model
    from jscc_rt.models.registry import resolve_checkpoint
    from jscc_rt.pipeline import Link
    from jscc_rt.runtime.graphs import ReceiverGraph

    jscc = load_model(resolve_checkpoint("vae-1_16")).eval()
    net = load_model(resolve_checkpoint("consistency-vae-1_16"), expect="DenoiserConfig").eval()
    sched = NoiseSchedule(**net.meta["schedule"])
    rx = DiffusionReceiver(net, sched, ReceiverConfig(sampler="consistency", steps=steps, eta=1.0))
    link = Link(jscc, ChannelConfig("awgn"), receiver=rx, decoder_snr_db=20.0)
    graph = ReceiverGraph(jscc, net, sched, steps, decoder_snr_db=20.0, eta=1.0).eval()
    assert graph.needs_noise
    ref, feeds, g = _link_and_feeds(link)
    shape = feeds["received"].shape
    with torch.no_grad():
        noise = torch.stack([torch.randn(shape, generator=g) for _ in range(steps - 1)], dim=1)
        out = graph(*feeds.values(), noise)
    assert (out - ref).abs().max() < 2e-3, float((out - ref).abs().max())
