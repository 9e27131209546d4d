"""Partial results of long commands: rows appended to ``OUT/NAME.partial.jsonl`` as they finish, so a run that is
stopped (or still going) has written what it measured; the file is removed once the full result is written."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable


class PartialRows:
    """``PartialRows(out_dir, name)``; ``add(rows)`` appends one JSON line per row (the file is created with the first
    rows, so a command that fails on its arguments leaves nothing); ``finish()`` deletes it. ``out_dir=None`` makes
    both no-ops (the command writes nothing)."""

    def __init__(self, out_dir: str | Path | None, name: str) -> None:
        self.path = None if out_dir is None else Path(out_dir) / f"{name}.partial.jsonl"
        self._started = False

    def add(self, rows: Iterable[dict]) -> None:
        if self.path is not None:
            if not self._started:  # a rerun into the same folder starts a new file
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text("")
                self._started = True
            with self.path.open("a") as f:
                for r in rows:
                    f.write(json.dumps(r, default=str) + "\n")

    def finish(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
