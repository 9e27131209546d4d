"""What every command group shares: output files, the config-dataclass -> options helper, and common options."""
from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

C = TypeVar("C")


def emit(out: str | None, stem: str, data: object, md: str) -> int:
    """Print ``md``; with ``out``, also write ``out/stem.json`` and ``out/stem.md`` (and drop the partial rows)."""
    if out:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        (o / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n")
        (o / f"{stem}.md").write_text(md + "\n")
        (o / f"{stem}.partial.jsonl").unlink(missing_ok=True)  # rows written as they finished: now complete
    print(md)
    return 0


def add_config_options(p: argparse.ArgumentParser, cls: type, names: tuple[str, ...],
                       help: Mapping[str, str] | None = None) -> None:
    """One ``--field-name`` option per dataclass field in ``names``, typed and defaulted from ``cls()``: the single
    place where a config dataclass becomes command-line options."""
    d = cls()
    for name in names:
        v = getattr(d, name)
        if isinstance(v, bool) or v is None:
            raise TypeError(f"{cls.__name__}.{name}: give boolean and optional fields their own option")
        kind = type(v)
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=v, help=(help or {}).get(name))


def config_from_args(cls: type[C], a: argparse.Namespace, **override: Any) -> C:
    """``cls`` built from the parsed options that name its fields (plus ``override``)."""
    kw = {f.name: getattr(a, f.name) for f in fields(cls) if hasattr(a, f.name)}  # type: ignore[arg-type]
    return cls(**{**kw, **override})


def add_precision_args(p: argparse.ArgumentParser) -> None:
    """``--precision`` and ``--channels-last`` for every training command (jscc_rt.train.precision)."""
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="auto: bf16 on CPUs with AVX512-BF16/AMX and on bf16 GPUs, else fp32 (fp16 on older GPUs); "
                        "bf16/fp16 autocast the forward pass with fp32 master weights; the resolved value is recorded")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory layout (default: on with bf16/fp16, off with fp32)")


def decoder_snr(text: str) -> float | None:
    """``--decoder-snr`` values: a number in dB, or ``effective`` (None: the channel's effective SNR)."""
    if text == "effective":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in dB or 'effective', got {text!r}") from None


def add_decoder_snr(p: argparse.ArgumentParser) -> None:
    """``--decoder-snr``: the decoder's conditioning after diffusion denoising, the recommended value by default."""
    from jscc_rt.diffusion.receiver import DECODER_SNR_AFTER_DENOISING_DB as rec

    p.add_argument("--decoder-snr", type=decoder_snr, default=rec,
                   help=f"SNR (dB) the decoder is conditioned on after denoising (default {rec:g}, recommended); "
                        "'effective' = the channel's effective SNR")


def add_image_args(p: argparse.ArgumentParser) -> None:
    """``--max-images``, ``--save-recon`` and ``--max-pixels`` for the evaluation commands."""
    from jscc_rt.data.images import DEFAULT_MAX_PIXELS

    p.add_argument("--max-images", type=int, default=None, help="evaluate only the first N images (sorted by name)")
    p.add_argument("--save-recon", type=int, default=0, metavar="N",
                   help="write reconstructions and original|reconstruction strips of the N worst and N best images "
                        "by PSNR to OUT/recon/ (needs --out)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse images with more pixels than this (default {DEFAULT_MAX_PIXELS} = 4096x4096)")


def add_kind_group(sub: argparse._SubParsersAction, group: str, kinds: Mapping[str, tuple[str, Callable]],
                   aliases: tuple[str, ...]) -> None:
    """``jscc-rt GROUP KIND``: one sub-parser per kind (``kinds``: ``{kind: (help, add_options)}``), plus today's
    flat spellings ``GROUP-KIND`` for the kinds in ``aliases``, built by the same ``add_options``."""
    p = sub.add_parser(group, help=f"{group}: " + " | ".join(kinds))
    sp = p.add_subparsers(dest=f"{group}_command", required=True, metavar="KIND")
    for kind, (help_, add_options) in kinds.items():
        add_options(sp.add_parser(kind, help=help_))
    for kind in aliases:
        kinds[kind][1](sub.add_parser(f"{group}-{kind}", help=f"= jscc-rt {group} {kind}"))


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()
