"""Peers' published Kodak numbers (docs/published/published_kodak.json, with their sources), read as curves to plot
beside ours: always labelled as published, never mixed with measurements."""
from __future__ import annotations

import json
from pathlib import Path

from jscc_rt._validate import JsccInputError


def published_psnr_vs_snr(path: str | Path, channel: str) -> dict[str, tuple[list[float], list[float]]]:
    """``{label: (snr_db, psnr)}`` of every PSNR-vs-SNR series for ``channel`` (``"awgn"``/``"rayleigh"``) in an
    anchors file: sections named ``<channel>_..._psnr_vs_snr...`` holding ``snr_db`` and one list per method."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise JsccInputError(f"cannot read published numbers from {str(p)!r}: {e}") from e
    if not isinstance(data, dict):
        raise JsccInputError(f"{str(p)!r} holds a {type(data).__name__}, not the anchors object "
                             "(docs/published/published_kodak.json shows the format)")
    out = {}
    for key, sec in data.items():
        if not (isinstance(sec, dict) and key.startswith(channel + "_") and "_psnr_vs_snr" in key and "snr_db" in sec):
            continue
        for label, vals in sec.items():
            if label != "snr_db" and isinstance(vals, list) and len(vals) == len(sec["snr_db"]):
                try:
                    out[label] = ([float(s) for s in sec["snr_db"]], [float(v) for v in vals])
                except (TypeError, ValueError) as e:
                    raise JsccInputError(f"{str(p)!r}: {key}/{label} holds a value that is not a number ({e})") from e
    return out


def published_psnr_vs_ratio(path: str | Path, snr_db: float) -> dict[str, tuple[list[float], list[float]]]:
    """``{label: (cbr, psnr)}`` of every PSNR-vs-bandwidth series at ``snr_db`` (AWGN) in an anchors file: sections
    named ``awgn_snr_<S>db_psnr_vs_cbr`` holding ``{label: {"cbr": [...], "psnr": [...]}}`` (CBR = k/n)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise JsccInputError(f"cannot read published numbers from {str(p)!r}: {e}") from e
    sec = data.get(f"awgn_snr_{snr_db:g}db_psnr_vs_cbr") if isinstance(data, dict) else None
    out = {}
    for label, d in (sec or {}).items():
        if isinstance(d, dict) and isinstance(d.get("cbr"), list) and len(d["cbr"]) == len(d.get("psnr", [])):
            try:
                out[label] = ([float(c) for c in d["cbr"]], [float(v) for v in d["psnr"]])
            except (TypeError, ValueError) as e:
                raise JsccInputError(f"{str(p)!r}: awgn_snr_{snr_db:g}db_psnr_vs_cbr/{label} holds a value that is "
                                     f"not a number ({e})") from e
    return out
