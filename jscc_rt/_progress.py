"""Progress bars: tqdm when installed (extras ``train``/``bench``), else periodic lines on stderr."""
from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def progress(it: Iterable[T], *, total: int | None = None, desc: str = "", disable: bool = False) -> Iterator[T]:
    """Wrap ``it`` in a progress bar (writes to stderr; ``disable=True`` for silence)."""
    if disable:
        yield from it
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        t0, last = time.time(), 0.0
        for i, x in enumerate(it):
            now = time.time()
            if now - last > 10:
                print(f"{desc} {i}/{total if total is not None else '?'} ({now - t0:.0f}s)", file=sys.stderr, flush=True)
                last = now
            yield x
        return
    yield from tqdm(it, total=total, desc=desc, dynamic_ncols=True, mininterval=1.0)
