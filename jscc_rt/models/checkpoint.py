"""Checkpoint I/O: ``model.pt`` (weights + config + metadata) and ``model.json`` (config + metadata) side by side.

Loading uses ``torch.load(weights_only=True)``; corrupt files, config/weight mismatches and unknown model names
raise errors that say what to fix.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.models.config import JSCCConfig

FORMAT_VERSION = 1


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(model: torch.nn.Module, path: str | os.PathLike, *, meta: dict[str, Any] | None = None) -> Path:
    """Save ``model`` (which has a ``.config`` dataclass) to ``path`` (.pt) and its config to ``path.with_suffix('.json')``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    cfg = model.config.to_dict()
    payload = {"format": FORMAT_VERSION, "kind": type(model.config).__name__, "config": cfg,
               "state_dict": model.state_dict(), "meta": meta or {}}
    tmp = p.with_suffix(".pt.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, p)
    side = {"format": FORMAT_VERSION, "kind": payload["kind"], "config": cfg, "meta": meta or {},
            "sha256": file_sha256(p)}
    p.with_suffix(".json").write_text(json.dumps(side, indent=2, default=str) + "\n")
    return p


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and sanity-check a checkpoint payload (no model construction)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {str(p)!r} not found; pass an existing .pt file (see jscc_rt/weights/)")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated / non-zip / pickled-object files
        raise JsccInputError(f"checkpoint {str(p)!r} is corrupt or not a jscc-rt checkpoint ({type(e).__name__}: {e}); "
                             "re-download or re-train it") from e
    if not isinstance(payload, dict) or "config" not in payload or "state_dict" not in payload:
        raise JsccInputError(f"checkpoint {str(p)!r} lacks 'config'/'state_dict'; it was not written by jscc_rt.save_model")
    if payload.get("format") != FORMAT_VERSION:
        raise JsccInputError(f"checkpoint {str(p)!r} has format {payload.get('format')!r}, this jscc-rt reads {FORMAT_VERSION}")
    return payload


def load_state_checked(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict`` with an error that lists missing / unexpected / mis-shaped tensors."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        raise JsccInputError(
            f"checkpoint {source} does not match its config's architecture: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, shape mismatches {shapes[:5]}; the config beside the weights was edited "
            "or belongs to another checkpoint"
        )
    model.load_state_dict(state)


def _warn_if_sidecar_disagrees(path: Path, payload: dict[str, Any]) -> None:
    """Warn when ``path.with_suffix('.json')`` holds a ``kind``/``config`` different from the checkpoint's; a
    missing or unreadable sidecar is ignored (see :func:`load_model`)."""
    try:
        side = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return
    if not isinstance(side, dict):
        return
    ours = json.loads(json.dumps({"kind": payload.get("kind"), "config": payload["config"]}, default=str))
    diff = [] if side.get("kind", ours["kind"]) == ours["kind"] else [f"kind: sidecar {side.get('kind')!r} vs .pt {ours['kind']!r}"]
    cfg = side.get("config")
    if isinstance(cfg, dict):
        for k in sorted(set(cfg) | set(ours["config"])):
            if cfg.get(k) != ours["config"].get(k):
                diff.append(f"{k}: sidecar {cfg.get(k)!r} vs .pt {ours['config'].get(k)!r}")
    if diff:
        warnings.warn(f"the sidecar {str(path.with_suffix('.json'))!r} disagrees with the checkpoint {str(path)!r} "
                      f"({'; '.join(diff[:6])}); the .pt wins. Re-save the model or restore the sidecar to silence "
                      "this", stacklevel=3)


#: Config kinds that give a transmitter/receiver pair usable by :class:`~jscc_rt.pipeline.Link`.
JSCC_KINDS = ("JSCCConfig", "CompressConfig")


def load_model(path: str | os.PathLike, *, device: str | torch.device = "cpu",
               expect: str | tuple[str, ...] = JSCC_KINDS) -> torch.nn.Module:
    """Load a checkpoint written by :func:`save_model` into an eval-mode model on ``device``.

    ``expect`` names the config kind(s) the caller accepts: by default a JSCC model (``JSCCConfig``, or a
    ``CompressConfig`` bandwidth-compressed VAE-JSCC), ``"DenoiserConfig"`` or ``"NOMAConfig"``; a denoiser saved with
    ``meta["parameterization"] == "consistency"`` loads as a :class:`ConsistencyModel`.

    The ``.pt`` file is the only source of truth: the model is built from the config, weights and metadata stored
    inside it. The ``.json`` sidecar beside it is informational (for people and tools that do not load torch): a
    missing, unreadable or non-JSON sidecar is ignored without a message, and an edited one changes nothing; when the
    sidecar's ``kind`` or ``config`` disagrees with the ``.pt``'s, a ``UserWarning`` names the differing keys and
    the ``.pt`` values are used.
    """
    payload = read_checkpoint(path)
    _warn_if_sidecar_disagrees(Path(path), payload)
    kind = payload.get("kind")
    allowed = (expect,) if isinstance(expect, str) else expect
    if kind not in allowed:
        raise JsccInputError(f"checkpoint {str(path)!r} holds a {kind!r}, but a {' or '.join(allowed)} model is "
                             "needed here")
    if kind == "CompressConfig":
        from jscc_rt.models.compress import CompressConfig, CompressedJSCC

        cm = CompressedJSCC(CompressConfig.from_dict(payload["config"]))
        load_state_checked(cm, payload["state_dict"], repr(str(path)))
        cm.meta = payload.get("meta", {})  # type: ignore[attr-defined]
        return cm.to(device).eval()
    if kind == "NOMAConfig":
        from jscc_rt.models.noma import NOMAConfig, TwoUserNOMA

        nm = TwoUserNOMA(NOMAConfig.from_dict(payload["config"]))
        load_state_checked(nm, payload["state_dict"], repr(str(path)))
        nm.meta = payload.get("meta", {})  # type: ignore[attr-defined]
        return nm.to(device).eval()
    if kind == "DenoiserConfig":
        from jscc_rt.diffusion.consistency import ConsistencyModel
        from jscc_rt.diffusion.denoiser import DenoiserConfig, LatentDenoiser
        from jscc_rt.diffusion.schedule import NoiseSchedule

        net = LatentDenoiser(DenoiserConfig.from_dict(payload["config"]))
        load_state_checked(net, payload["state_dict"], repr(str(path)))
        meta = payload.get("meta", {})
        model: torch.nn.Module = net
        if meta.get("parameterization") == "consistency":
            model = ConsistencyModel(net, NoiseSchedule(**meta["schedule"]))
        model.meta = meta  # type: ignore[attr-defined]
        return model.to(device).eval()
    from jscc_rt.models.jscc import JSCCModel

    model = JSCCModel(JSCCConfig.from_dict(payload["config"]))
    load_state_checked(model, payload["state_dict"], repr(str(path)))
    model.meta = payload.get("meta", {})  # type: ignore[attr-defined]
    return model.to(device).eval()


def check_denoiser_pairing(jscc: torch.nn.Module, jscc_path: Any, denoiser: torch.nn.Module, denoiser_path: Any,
                           *, check_hash: bool = True) -> None:
    """The denoiser must work on the JSCC model's latents: an error when the latent channel counts differ; with
    ``check_hash`` and ``jscc_path`` a file, a warning naming both sha256 when they match but the denoiser's metadata
    says it was trained on another JSCC checkpoint's latents (a checkpoint whose ``meta["encoder_of_sha256"]`` names
    the denoiser's JSCC checkpoint has that checkpoint's encoder: no warning). A compressed link (``vae-x2``/``-x4``)
    pairs with its base model's denoiser: diffusion runs after its upsampler, on the base latent
    (``meta["base_sha256"]`` names the base checkpoint)."""
    from jscc_rt.models.compress import is_compressed_link

    compressed = is_compressed_link(jscc)
    c_jscc = (jscc.base if compressed else jscc).config.latent_channels  # type: ignore[union-attr,attr-defined]
    c_den = denoiser.config.latent_channels  # type: ignore[attr-defined]
    if c_den != c_jscc:
        dn = "" if denoiser_path is None else f" {str(denoiser_path)!r}"
        jn = "" if jscc_path is None else f" {str(jscc_path)!r}"
        raise JsccInputError(
            f"the denoiser{dn} works on {c_den}-channel latents but the JSCC model{jn} produces {c_jscc}-channel "
            "latents; use the denoiser trained for this JSCC checkpoint")
    want = getattr(denoiser, "meta", {}).get("jscc_sha256")
    if want is None or not check_hash or jscc_path is None:
        return
    have = file_sha256(jscc_path)
    meta = getattr(jscc, "meta", {})
    if want == meta.get("encoder_of_sha256"):
        return  # a decoder fine-tuned behind this denoiser: same encoder, so the same latents
    if compressed and want == meta.get("base_sha256"):
        return  # the denoiser of this compressed link's base model
    if want != have:
        warnings.warn(
            f"denoiser {str(denoiser_path)!r} was trained on the latents of another JSCC checkpoint (sha256 {want}) "
            f"than {str(jscc_path)!r} (sha256 {have}); the latent shapes match, but expect poor denoising: use the "
            "denoiser trained for this JSCC checkpoint",
            stacklevel=3)
