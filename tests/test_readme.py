"""The README runs as written: its Python blocks execute in order in one namespace, from a folder where the
`jscc-rt export onnx` command the README gives before the Receiver block has been run."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_blocks_a_user_copies() -> None:
    text = "\n".join(python_blocks())
    for needle in ("jscc_rt.Link(", "model.transmit(", "Channel(ChannelConfig(", "build_link(",
                   "Receiver.from_onnx(", "DigitalChain(", "noma("):
        assert needle in text, needle


def test_readme_python_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("sionna")
    from jscc_rt.cli import main
    from jscc_rt.models.registry import FLAGSHIP_1_16
    from jscc_rt.runtime.backends import unavailable_reason

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JSCC_DATA", raising=False)
    assert main(["export", "onnx", "--model", FLAGSHIP_1_16, "--out", "out/onnx", "--precision", "fp32"]) == 0
    ns: dict = {}
    for i, block in enumerate(python_blocks()):
        if 'backend="openvino-bf16"' in block and unavailable_reason("openvino-bf16"):
            block = block.replace('backend="openvino-bf16"', 'backend="onnxruntime"')  # same API, no bf16 CPU here
        exec(compile(block, f"README.md python block {i + 1}", "exec"), ns)  # noqa: S102
    assert ns["symbols"].shape[-1] == 2 and ns["res"].image.shape == ns["image"].shape  # res: the digital chain's
    assert ns["decoded"].shape == ns["images"].shape and torch.isfinite(ns["decoded"]).all()
    assert ns["user1"].shape == ns["img1"].shape
