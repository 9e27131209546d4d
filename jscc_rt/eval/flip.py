"""NVIDIA FLIP (Andersson et al. 2020), the perceptual difference evaluator for alternating images, through the
``flip-evaluator`` package (extra ``metrics``; no downloaded weights, runs on CPU).

:func:`flip_error` is the mean of FLIP's per-pixel error map for LDR sRGB images at its default viewing condition
(67 pixels per degree: a 0.7 m distance from a 24" 4K monitor). 0 means identical; lower is better. It weighs colour
and edge/feature differences as a human flipping between the two images would see them, so it complements PSNR: a
receiver may trade a little PSNR for fewer visible artefacts, or the reverse.
"""
from __future__ import annotations

import numpy as np
import torch

from jscc_rt.eval.lpips import MetricUnavailable


def flip_available() -> bool:
    """Whether ``flip-evaluator`` is installed (the metric is then reported in every table)."""
    import importlib.util

    return importlib.util.find_spec("flip_evaluator") is not None


def flip_error(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean FLIP error per image, ``(B,)`` float64, of reference ``x`` and test ``y`` ``(B, 3, H, W)`` in [0, 1]
    (values outside [0, 1] are an error: FLIP's LDR mode is defined on display values).

    Raises :class:`~jscc_rt.eval.MetricUnavailable` when ``flip-evaluator`` is not installed."""
    try:
        import flip_evaluator
    except ImportError as e:
        raise MetricUnavailable("FLIP needs the flip-evaluator package: pip install 'jscc-rt[metrics]'") from e
    if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"flip_error takes two (B, 3, H, W) batches of one shape, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    out = []
    for a, b in zip(x, y):
        ref, test = (t.detach().float().cpu().permute(1, 2, 0).contiguous().numpy() for t in (a, b))
        for name, arr in (("reference", ref), ("test", test)):
            if arr.size and (arr.min() < 0 or arr.max() > 1 or not np.isfinite(arr).all()):
                raise ValueError(f"flip_error: the {name} image has values outside [0, 1]; clamp reconstructions "
                                 "to the display range first")
        _, mean, _ = flip_evaluator.evaluate(ref, test, "LDR", applyMagma=False)
        out.append(float(mean))
    return torch.tensor(out, dtype=torch.float64)
