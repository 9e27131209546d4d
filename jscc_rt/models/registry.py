"""Shipped weights (``jscc_rt/weights/NAME.pt``) and checkpoint-name resolution."""
from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
#: The best shipped fixed-rate 1/16 model: what the demo, the README and the deployment checks use.
FLAGSHIP_1_16: str = "unrolled-w128-1_16"
#: The wider fixed-rate model (k/n 1/12): the flagship widened and fine-tuned; more bandwidth, more quality.
FLAGSHIP_1_12: str = "unrolled-w128-1_12"
#: One model for every bandwidth ratio from 1/64 to 1/4 (jscc_rt.models.rate), chosen at run time.
RATE_ADAPTIVE: str = "unrolled-w128-1_64-1_4"


def shipped_weights() -> list[str]:
    """Names of the checkpoints shipped with the package (e.g. ``deepjscc-1_16``)."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))


def checkpoint_label(path: str | Path) -> str:
    """The name result rows give a checkpoint: the file's stem (``unrolled-w128-1_16`` for shipped weights), or the
    run folder's name for a training run's ``model.pt`` (``train/checkpoints/rate-adaptive-3/model.pt`` ->
    ``rate-adaptive-3``), so two runs' rows never share the label ``model``."""
    p = Path(path)
    return p.parent.name if p.stem == "model" and p.parent.name else p.stem


def resolve_checkpoint(name_or_path: str) -> Path:
    """A path to an existing .pt file, or the name of shipped weights; raises naming the choices otherwise."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    shipped = WEIGHTS_DIR / f"{name_or_path}.pt"
    if shipped.is_file():
        return shipped
    raise FileNotFoundError(
        f"checkpoint {name_or_path!r} is neither a file nor shipped weights; shipped: {', '.join(shipped_weights()) or 'none'}"
    )
