"""LPIPS (Zhang et al. 2018) through the ``lpips`` package, only with real pretrained weights.

The ``lpips`` package ships its linear calibration layers but loads its AlexNet backbone through torchvision's
pretrained weights. jscc-rt never reports LPIPS from random weights: when ``lpips``/torchvision is not importable
or the AlexNet weights file is not available locally, :class:`MetricUnavailable` names ``JSCC_LPIPS_WEIGHTS``.

``JSCC_LPIPS_WEIGHTS`` may point at the AlexNet checkpoint file (``alexnet-owt-7be5be79.pth``) or the folder
holding it; otherwise the torch hub cache (``$TORCH_HOME/hub/checkpoints``) is searched.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import torch

LPIPS_ENV = "JSCC_LPIPS_WEIGHTS"
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


class MetricUnavailable(RuntimeError):
    """A metric cannot be computed honestly here (missing package or pretrained weights)."""


def _alexnet_weights() -> Path:
    env = os.environ.get(LPIPS_ENV)
    candidates: list[Path] = []
    if env:
        p = Path(env)
        candidates.append(p if p.is_file() else p / ALEXNET_FILE)
    candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE)
    for c in candidates:
        if c.is_file():
            return c
    raise MetricUnavailable(
        f"LPIPS needs the pretrained AlexNet weights ({ALEXNET_FILE}); none found at "
        f"{', '.join(str(c) for c in candidates)}. Set {LPIPS_ENV} to the file or its folder. "
        "LPIPS is never computed from random weights."
    )


@lru_cache(maxsize=2)
def _model(device: str) -> torch.nn.Module:
    weights = _alexnet_weights()
    try:
        import lpips  # noqa: F401  (imports torchvision)
    except ImportError as e:
        raise MetricUnavailable(
            f"LPIPS needs the 'lpips' package and torchvision (pip install 'jscc-rt[metrics]'): {e}"
        ) from e
    os.environ.setdefault("TORCH_HOME", str(weights.parent.parent.parent))
    net = lpips.LPIPS(net="alex", verbose=False)
    return net.to(device).eval()


def lpips_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """LPIPS (AlexNet, v0.1) per image ``(B,)`` for ``(B, 3, H, W)`` images in [0, 1]; lower is better."""
    net = _model(str(x.device))
    with torch.no_grad():
        return net(x * 2 - 1, y * 2 - 1, normalize=False).flatten().float()
