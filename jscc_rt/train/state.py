"""Resumable training state: ``train_state.pt`` written atomically, read without unpickling code.

The state holds only tensors, dicts, lists, ints, floats, strings and None (RNG states are ``uint8`` tensors), so
it loads with ``torch.load(weights_only=True)``: a crafted file cannot run code, it is refused with an error that
names it. Writes go to a temporary file in the same folder, are fsynced and then renamed over the old state
(``os.replace`` is atomic), so a run killed mid-write leaves the previous state intact.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from jscc_rt._validate import JsccInputError

#: Version of the ``train_state.pt`` layout; states without it (jscc-rt before bf16/EMA training) cannot be resumed.
STATE_FORMAT = 2


def _serialize(obj: Any, f) -> None:
    torch.save(obj, f)


def save_state(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Atomically replace ``path`` by ``state`` (plus ``format``): temp file, fsync, ``os.replace``."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            _serialize({"format": STATE_FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename itself durable (POSIX); best effort elsewhere
        fd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a state written by :func:`save_state` with ``weights_only=True``.

    Raises :class:`JsccInputError` naming the file when it holds anything but tensors and plain containers
    (refused unread: nothing in it runs), is truncated or corrupt, or was written by an older jscc-rt.
    """
    p = Path(path)
    try:
        st = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError (zip), EOFError, ... depending on the damage
        msg = str(e)
        if "GLOBAL" in msg or "Unsupported global" in msg:
            first = next((ln.strip() for ln in msg.splitlines() if "GLOBAL" in ln or "Unsupported global" in ln), "")
            raise JsccInputError(
                f"refusing to resume from {str(p)!r}: it holds pickled objects other than tensors and plain "
                f"containers ({first}), which a jscc-rt train state never does; nothing in it was run. Delete it "
                "(or use a new --out) and train again") from e
        detail = next((ln.strip() for ln in msg.splitlines() if "Unsupported" in ln), msg.splitlines()[0] if msg else "")
        raise JsccInputError(
            f"cannot resume from {str(p)!r}: the file is truncated, corrupt or not a tensors-only train state "
            f"({type(e).__name__}: {detail}); it was not unpickled. Delete it to start over, or use a new --out") from e
    if not isinstance(st, dict):
        raise JsccInputError(f"cannot resume from {str(p)!r}: it holds a {type(st).__name__}, not a train state")
    if st.get("format") != STATE_FORMAT:
        raise JsccInputError(
            f"cannot resume from {str(p)!r}: it was written by an older jscc-rt (state format "
            f"{st.get('format', 1)!r}, this version writes {STATE_FORMAT}) without the RNG/EMA state that an exact "
            "resume needs; start a new --out, optionally with --init <that run>/model.pt to keep its weights")
    return st


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``"field: old -> new"`` for every field whose value differs (a field missing on one side counts as None)."""
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def check_same_config(old: dict[str, Any], new: dict[str, Any], run_dir: str | os.PathLike,
                      switchable: tuple[str, ...] = ()) -> None:
    """Raise :class:`JsccInputError` listing the differing fields when resuming ``run_dir`` with another config;
    when every differing field is in ``switchable`` (precision / layout), the message names the flag that allows it."""
    diff = config_diff(old, new)
    if diff:
        only_arith = switchable and all(d.split(":", 1)[0] in switchable for d in diff)
        raise JsccInputError(
            f"cannot resume {str(run_dir)!r}: this run's train config differs from the one it was started with "
            f"({'; '.join(diff)}); rerun with the original flags"
            + (", or add --allow-precision-change to continue under the new precision/layout (recorded)"
               if only_arith else "")
            + ", or use a new --out (--init <run>/model.pt starts from its weights); nothing was overwritten")


def capture_rng(generators: dict[str, torch.Generator | None]) -> dict[str, torch.Tensor | None]:
    """States (``uint8`` tensors) of the named generators plus torch's global CPU (and CUDA) RNG."""
    out: dict[str, torch.Tensor | None] = {k: (g.get_state() if g is not None else None) for k, g in generators.items()}
    out["torch"] = torch.get_rng_state()
    out["cuda"] = torch.cuda.get_rng_state() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return out


def restore_rng(state: dict[str, torch.Tensor | None], generators: dict[str, torch.Generator | None]) -> None:
    """Inverse of :func:`capture_rng`."""
    for k, g in generators.items():
        if g is not None and state.get(k) is not None:
            g.set_state(state[k])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
