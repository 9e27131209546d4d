"""Long commands: progress lines with an ETA, and rows written as they finish (removed once the result is whole)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from jscc_rt._partial import PartialRows
from jscc_rt._progress import eta_text, progress


def test_eta_text() -> None:
    assert eta_text(0, 10, 5.0) == "0/10, 5s elapsed"
    assert eta_text(2, 10, 10.0) == "2/10, 10s elapsed, ETA 40s"
    assert eta_text(3, None, 1.0) == "3/?, 1s elapsed"


def test_fallback_lines_carry_the_count(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # no tqdm: periodic plain lines
    assert list(progress([1, 2, 3], desc="x")) == [1, 2, 3]
    assert capsys.readouterr().err.startswith("x 0/3, ")


def test_partial_rows(tmp_path: Path) -> None:
    p = PartialRows(tmp_path / "o", "pareto")
    p.add([{"a": 1}])
    p.add([{"a": 2}, {"a": 3}])
    f = tmp_path / "o" / "pareto.partial.jsonl"
    assert [json.loads(line)["a"] for line in f.read_text().splitlines()] == [1, 2, 3]
    p.finish()
    assert not f.exists()
    PartialRows(None, "x").add([{"a": 1}])  # no --out: nothing written
