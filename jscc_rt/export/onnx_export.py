"""``jscc-rt export onnx``: encoder, decoder, denoiser and unrolled receivers as ONNX with JSON sidecars.

Opset 17 (TorchScript exporter): supported by onnxruntime >= 1.14 and TensorRT >= 8.6; GroupNorm is decomposed.
Batch and spatial axes are dynamic. Each ``NAME.onnx`` gets ``NAME.json``: graph kind, inputs/outputs, opset, step
budget, model configs and the SHA-256 of the source checkpoints.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from jscc_rt._validate import JsccInputError, check_steps
from jscc_rt.diffusion.receiver import DECODER_SNR_AFTER_DENOISING_DB, trained_snr_range_db
from jscc_rt.diffusion.schedule import NoiseSchedule
from jscc_rt.export.precision import LOW_PRECISION_OPS, VARIANT_OPSET, low_precision_nodes, to_low_precision
from jscc_rt.runtime.variants import check_precision, variant_path
from jscc_rt.runtime.graphs import (BudgetReceiverGraph, DecoderGraph, DenoiserGraph, EncoderGraph, NOMAReceiverGraph,
                                   NOMATransmitterGraph, ReceiverGraph)
from jscc_rt.models import load_model
from jscc_rt.models.checkpoint import check_denoiser_pairing, file_sha256
from jscc_rt.models.registry import resolve_checkpoint

if TYPE_CHECKING:
    from jscc_rt.export.quantize import Calibration

OPSET = 17


@dataclass(frozen=True)
class GraphSpec:
    """Inputs (name -> dynamic axes), outputs, and example input shapes for tracing."""

    inputs: dict[str, dict[int, str]]
    outputs: dict[str, dict[int, str]]


LAT = {0: "batch", 2: "lat_h", 3: "lat_w"}
IMG = {0: "batch", 2: "height", 3: "width"}
SPECS = {
    "encoder": GraphSpec({"images": IMG, "snr_db": {0: "batch"}}, {"symbols": LAT}),
    "decoder": GraphSpec({"received": LAT, "snr_db": {0: "batch"}}, {"images": IMG}),
    "denoiser": GraphSpec({"x_t": LAT, "t": {0: "batch"}, "snr_db": {0: "batch"}}, {"eps": LAT}),
    "receiver": GraphSpec({"received": LAT, "noise_var": {0: "batch"}, "snr_db": {0: "batch"}}, {"images": IMG}),
    "noma_transmitter": GraphSpec({"images1": IMG, "images2": IMG, "snr_db": {0: "batch"}, "a1": {0: "batch"}},
                                  {"symbols": LAT}),
    "noma_user": GraphSpec({"received": LAT, "snr_db": {0: "batch"}, "a1": {0: "batch"}}, {"images": IMG}),
}


def receiver_inputs(needs_noise: bool) -> dict[str, dict[int, str]]:
    """A receiver graph's inputs: ``noise`` too when it draws fresh noise (:attr:`ReceiverGraph.needs_noise`)."""
    inputs = dict(SPECS["receiver"].inputs)
    if needs_noise:
        inputs["noise"] = {0: "batch", 2: "lat_c", 3: "lat_h", 4: "lat_w"}
    return inputs


def export_graph(module: torch.nn.Module, example: tuple[torch.Tensor, ...], path: Path,
                 inputs: dict[str, dict[int, str]], outputs: dict[str, dict[int, str]], meta: dict) -> Path:
    """Export ``module`` to ``path`` (+ ``.json`` sidecar) and run ``onnx.checker``."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), example, str(path), dynamo=False, opset_version=OPSET,
                          input_names=list(inputs), output_names=list(outputs),
                          dynamic_axes={**inputs, **outputs}, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    side = {"opset": OPSET, "precision": "fp32", "inputs": list(inputs), "outputs": list(outputs), "dynamic_axes": {**inputs, **outputs},
            "onnx_sha256": file_sha256(path), **meta}
    path.with_suffix(".json").write_text(json.dumps(side, indent=2, default=str) + "\n")
    return path


def export_all(jscc: str, denoiser: str | None, out: str | Path, *, steps: tuple[int, ...] = (1, 2, 4),
               consistency: str | None = None, example_hw: tuple[int, int] = (64, 96),
               decoder_snr_db: float | None = DECODER_SNR_AFTER_DENOISING_DB) -> list[Path]:
    """Export the encoder and decoder of ``jscc``; with ``denoiser``, the denoiser and a DDIM receiver per step
    budget; with ``consistency``, a consistency receiver per step budget. ``decoder_snr_db``: the decoder's
    conditioning after denoising (None: effective channel SNR). Returns the written ONNX paths."""
    out = Path(out)
    jpath = resolve_checkpoint(jscc)
    model = load_model(jpath)
    nets = {}  # every input is checked before anything is written
    for kind, ck in (("ddim", denoiser), ("consistency", consistency)):
        if ck is None:
            continue
        dpath = resolve_checkpoint(ck)
        nets[kind] = den = load_model(dpath, expect="DenoiserConfig")
        check_denoiser_pairing(model, jpath, den, dpath)
        for n in steps:
            if check_steps(n, max_steps=NoiseSchedule(**den.meta["schedule"]).num_steps) == 0:  # type: ignore[attr-defined]
                raise JsccInputError("step budget 0 is the decoder alone (receiver_decoder.onnx, always written); "
                                     "pass --steps of 1 or more")
    if getattr(model.config, "rate_adaptive", False):
        if nets:
            raise JsccInputError("a rate-adaptive model has no diffusion receiver; export it without --denoiser and "
                                 "--consistency")
        return _export_rate_adaptive(model, jpath, out, example_hw)
    s = model.stride
    h, w = example_hw
    img = torch.rand(1, 3, h, w)
    snr = torch.tensor([10.0])
    lat = torch.randn(1, model.config.latent_channels, h // s, w // s)
    base = {"jscc_checkpoint": str(jpath), "jscc_sha256": file_sha256(jpath), "jscc_config": model.config.to_dict(),
            "stride": s, "torch": str(torch.__version__)}
    paths = [
        export_graph(EncoderGraph(model), (img, snr), out / "encoder.onnx", SPECS["encoder"].inputs,
                     SPECS["encoder"].outputs, {"graph": "encoder", **base}),
        export_graph(DecoderGraph(model), (lat, snr), out / "decoder.onnx", SPECS["decoder"].inputs,
                     SPECS["decoder"].outputs, {"graph": "decoder", **base}),
        export_graph(ReceiverGraph(model, None, NoiseSchedule(), 0), (lat, torch.tensor([0.1]), snr),
                     out / "receiver_decoder.onnx", SPECS["receiver"].inputs, SPECS["receiver"].outputs,
                     {"graph": "receiver", "steps": 0, "sampler": None, **base}),
    ]
    for kind, ck in (("ddim", denoiser), ("consistency", consistency)):
        if ck is None:
            continue
        dpath = resolve_checkpoint(ck)
        den = nets[kind]
        sched = NoiseSchedule(**den.meta["schedule"])  # type: ignore[attr-defined]
        dmeta = {**base, "denoiser_checkpoint": str(dpath), "denoiser_sha256": file_sha256(dpath),
                 "denoiser_config": den.config.to_dict(), "schedule": sched.to_dict(),
                 "denoiser_snr_range_db": trained_snr_range_db(den)}
        if kind == "ddim":
            paths.append(export_graph(DenoiserGraph(den), (lat, torch.tensor([100.0]), snr), out / "denoiser.onnx",
                                      SPECS["denoiser"].inputs, SPECS["denoiser"].outputs, {"graph": "denoiser", **dmeta}))
        for n in steps:
            graph = ReceiverGraph(model, den, sched, n, decoder_snr_db=decoder_snr_db)
            ins = receiver_inputs(graph.needs_noise)
            ex = (lat, torch.tensor([0.1]), snr) + ((torch.randn(1, n - 1, *lat.shape[1:]),) if "noise" in ins else ())
            paths.append(export_graph(graph, ex, out / f"receiver_{kind}{n}.onnx", ins, SPECS["receiver"].outputs,
                                      {"graph": "receiver", "steps": n, "sampler": kind, "eta": graph.eta,
                                       "decoder_snr_db": decoder_snr_db, **dmeta}))
    return paths


def _export_rate_adaptive(model: torch.nn.Module, jpath: Path, out: Path, example_hw: tuple[int, int]) -> list[Path]:
    """Encoder, decoder and receiver of a rate-adaptive model, each with a ``channels (B,)`` float32 input (the
    sent latent channel count): one graph serves every budget; the latent keeps all ``C`` channels, zero after the
    sent prefix."""
    s, (h, w) = model.stride, example_hw
    cfg = model.config
    img, snr = torch.rand(1, 3, h, w), torch.tensor([10.0])
    lat = torch.randn(1, cfg.latent_channels, h // s, w // s)
    ch = torch.tensor([float(cfg.min_latent_channels)])
    base = {"jscc_checkpoint": str(jpath), "jscc_sha256": file_sha256(jpath), "jscc_config": cfg.to_dict(),
            "stride": s, "torch": str(torch.__version__), "rate_adaptive": True,
            "channels_range": [cfg.min_latent_channels, cfg.latent_channels]}
    budget = {"channels": {0: "batch"}}
    return [
        export_graph(EncoderGraph(model), (img, snr, ch), out / "encoder.onnx", {**SPECS["encoder"].inputs, **budget},
                     SPECS["encoder"].outputs, {"graph": "encoder", **base}),
        export_graph(DecoderGraph(model), (lat, snr, ch), out / "decoder.onnx", {**SPECS["decoder"].inputs, **budget},
                     SPECS["decoder"].outputs, {"graph": "decoder", **base}),
        export_graph(BudgetReceiverGraph(model), (lat, torch.tensor([0.1]), snr, ch), out / "receiver_decoder.onnx",
                     {**SPECS["receiver"].inputs, **budget}, SPECS["receiver"].outputs,
                     {"graph": "receiver", "steps": 0, "sampler": None, **base}),
    ]


def write_variant(path: str | Path, precision: str, cal: "Calibration | None" = None) -> Path:
    """Write the ``precision`` variant of the fp32 graph ``path`` (``NAME.<precision>.onnx`` + sidecar) and return its
    path; fp32 returns ``path`` itself. fp16/bf16: :func:`~jscc_rt.export.precision.to_low_precision`; int8:
    :func:`~jscc_rt.export.quantize.quantize_int8` calibrated on ``cal`` (default :class:`Calibration()`)."""
    import onnx

    from jscc_rt.export.quantize import Calibration, quantize_int8

    path = Path(path)
    check_precision(precision)
    if precision == "fp32":
        return path
    meta = json.loads(path.with_suffix(".json").read_text())
    dst = variant_path(path, precision)
    if precision == "int8":
        extra = quantize_int8(path, dst, meta, cal or Calibration())
        opset = meta["opset"]
    else:
        model = to_low_precision(onnx.load(str(path)), precision)
        onnx.checker.check_model(model, full_check=True)
        tmp = dst.with_name(dst.name + ".tmp")
        onnx.save(model, str(tmp))
        tmp.replace(dst)
        extra = {"converter": f"jscc_rt.export.precision.to_low_precision ({', '.join(LOW_PRECISION_OPS)} in "
                              f"{precision}, the rest fp32)"}
        opset = VARIANT_OPSET[precision]
    counts = low_precision_nodes(onnx.load(str(dst)))
    side = {**meta, "precision": precision, "fp32_onnx": path.name, "opset": max(opset, meta["opset"]), **extra,
            "low_precision_nodes": counts["low"], "fp32_compute_nodes": counts["fp32"],
            "onnx_sha256": file_sha256(dst)}
    dst.with_suffix(".json").write_text(json.dumps(side, indent=2, default=str) + "\n")
    return dst


def export_noma(noma: str, out: str | Path, *, example_hw: tuple[int, int] = (64, 96)) -> list[Path]:
    """Export a two-user NOMA model (``jscc-rt train-noma``): ``noma_transmitter.onnx`` (superposition),
    ``noma_user1.onnx`` and ``noma_user2.onnx`` (the SIC receiver). Returns the written paths."""
    out = Path(out)
    path = resolve_checkpoint(noma)
    model = load_model(path, expect="NOMAConfig")
    s = model.stride
    h, w = example_hw
    img = torch.rand(1, 3, h, w)
    snr, a1 = torch.tensor([10.0]), torch.tensor([0.8])
    lat = torch.randn(1, model.config.base.latent_channels, h // s, w // s)
    base = {"noma_checkpoint": str(path), "noma_sha256": file_sha256(path), "noma_config": model.config.to_dict(),
            "stride": s, "torch": str(torch.__version__)}
    spec_t, spec_u = SPECS["noma_transmitter"], SPECS["noma_user"]
    paths = [export_graph(NOMATransmitterGraph(model), (img, img, snr, a1), out / "noma_transmitter.onnx",
                          spec_t.inputs, spec_t.outputs, {"graph": "noma_transmitter", **base})]
    for user in (1, 2):
        paths.append(export_graph(NOMAReceiverGraph(model, user), (lat, snr, a1), out / f"noma_user{user}.onnx",
                                  spec_u.inputs, spec_u.outputs, {"graph": "noma_user", "user": user, **base}))
    return paths
