"""Progress for long commands: tqdm bars when installed (extras ``train``/``bench``), else periodic lines on stderr;
every line says how far, how long so far and the estimated time left (ETA)."""
from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def eta_text(done: int, total: int | None, elapsed_s: float) -> str:
    """``"3/10, 12s elapsed, ETA 28s"`` (no ETA before the first item is done or without a total)."""
    if not total:
        return f"{done}/?, {elapsed_s:.0f}s elapsed"
    eta = f", ETA {elapsed_s / done * (total - done):.0f}s" if done else ""
    return f"{done}/{total}, {elapsed_s:.0f}s elapsed{eta}"


def progress(it: Iterable[T], *, total: int | None = None, desc: str = "", disable: bool = False) -> Iterator[T]:
    """Wrap ``it`` in a progress bar (writes to stderr; ``disable=True`` for silence)."""
    if disable:
        yield from it
        return
    if total is None and hasattr(it, "__len__"):
        total = len(it)  # type: ignore[arg-type]
    try:
        from tqdm.auto import tqdm
    except ImportError:
        t0, last = time.time(), 0.0
        for i, x in enumerate(it):
            now = time.time()
            if now - last > 10:
                print(f"{desc} {eta_text(i, total, now - t0)}", file=sys.stderr, flush=True)
                last = now
            yield x
        return
    yield from tqdm(it, total=total, desc=desc, dynamic_ncols=True, mininterval=1.0)

