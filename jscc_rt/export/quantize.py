"""int8 variants as explicit Q/DQ (onnxruntime.quantization, QDQ format): the INT8 form TensorRT 11 consumes.

Static quantization, calibrated on random crops of the training photos (``--calib-data``; the embedded images
when no data folder is given) sent through AWGN at SNRs spread over the trained range, so the activation ranges are
those the receiver meets on the wire. Weights are per-channel symmetric int8, activations symmetric int8 (TensorRT
requires zero points of 0). Only :data:`~jscc_rt.export.precision.LOW_PRECISION_OPS` are quantized, GDN convs
excepted; the power normalization and schedule math stay fp32.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.export.precision import KEEP_FP32_NAME_PARTS, LOW_PRECISION_OPS


@dataclass(frozen=True)
class Calibration:
    """Calibration set: ``crops`` random ``crop x crop`` crops (pixels) of the images in ``data``, one AWGN draw
    each at an SNR drawn uniformly from [``snr_min_db``, ``snr_max_db``], ``seed`` for crops, SNRs and noise."""

    data: str | None = None
    crops: int = 16
    crop: int = 128
    snr_min_db: float = -5.0
    snr_max_db: float = 20.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.crops < 1 or self.crop < 16:
            raise JsccInputError(f"calibration needs crops >= 1 and crop >= 16 pixels, got {self.crops}, {self.crop}")


def calibration_images(cal: Calibration) -> tuple[str, list[torch.Tensor]]:
    """``(set name, crops (3, crop, crop) float32)``: training photos from ``cal.data`` / ``$JSCC_DATA/photos``,
    else the embedded images."""
    from jscc_rt.data import RandomCropSampler, resolve_data_dir, sample_images
    from jscc_rt.data.images import ImageFolder

    folder = resolve_data_dir(cal.data, "photos")
    if folder is None:
        name, imgs = "embedded", [im for _, im in sample_images("auto")]
    else:
        ds = ImageFolder(folder)
        if len(ds) == 0:
            raise JsccInputError(f"calibration folder {str(folder)!r} holds no images; pass --calib-data with photos")
        name, imgs = str(folder), [ds[i] for i in range(len(ds))]
    crop = min(cal.crop, *(min(im.shape[-2:]) for im in imgs))
    crop -= crop % 16
    sampler = RandomCropSampler(imgs, crop, cal.crops, seed=cal.seed)
    return name, list(sampler.sample())


def calibration_feeds(meta: dict, cal: Calibration, inputs: list[str]) -> list[dict[str, np.ndarray]]:
    """Feeds ``inputs`` of the graph that ``meta`` (an export sidecar) describes, one per calibration crop."""
    from jscc_rt.export.check import budgets, encoder_runner, receiver_feeds
    from jscc_rt.models import load_model

    kind = meta.get("graph")
    if kind not in ("encoder", "decoder", "receiver"):
        raise JsccInputError(f"int8 calibration covers encoder, decoder and receiver graphs, not {kind!r}")
    jscc = load_model(meta["jscc_checkpoint"])
    _, crops = calibration_images(cal)
    g = torch.Generator().manual_seed(cal.seed)
    snrs = cal.snr_min_db + (cal.snr_max_db - cal.snr_min_db) * torch.rand(len(crops), generator=g)
    feeds = []
    ratios = budgets(meta)  # a rate-adaptive graph is calibrated on its budgets in turn
    with encoder_runner(jscc) as enc:
        for i, (img, snr) in enumerate(zip(crops, snrs.tolist())):
            f = receiver_feeds(enc, img, snr, jscc.stride, meta, g, ratios[i % len(ratios)])
            if kind == "encoder":
                f = {"images": img[None], "snr_db": torch.tensor([snr]),
                     **({"channels": f["channels"]} if "channels" in f else {})}
            feeds.append({k: v.numpy() for k, v in f.items() if k in inputs})
    return feeds


def quantize_int8(src: Path, dst: Path, meta: dict, cal: Calibration) -> dict:
    """Write the int8 Q/DQ variant of the fp32 graph ``src`` to ``dst``; returns the sidecar fields it adds."""
    try:
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                              quantize_static)
    except ImportError as e:
        raise JsccInputError("int8 export needs onnxruntime (pip install 'jscc-rt[onnx]')") from e
    import onnx

    model = onnx.load(str(src))
    feeds = calibration_feeds(meta, cal, [i.name for i in model.graph.input])

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    nodes = [n for n in model.graph.node if n.op_type in LOW_PRECISION_OPS]
    exclude = [n.name for n in nodes if any(p in n.name.lower() for p in KEEP_FP32_NAME_PARTS)]
    tmp = dst.with_name(dst.name + ".tmp")
    quantize_static(str(src), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=list(LOW_PRECISION_OPS), nodes_to_exclude=exclude,
                    calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    tmp.replace(dst)
    name, _ = calibration_images(cal)
    return {"converter": "onnxruntime.quantization.quantize_static (QDQ, per-channel, symmetric, MinMax)",
            "calibration": {**asdict(cal), "set": name}}


def describe(meta_path: Path) -> str:
    """One line naming a variant's precision and calibration set (for CLI output)."""
    m = json.loads(meta_path.read_text())
    cal = m.get("calibration")
    return f"{meta_path.stem}: {m.get('precision', 'fp32')}" + (f", calibrated on {cal['set']}" if cal else "")
