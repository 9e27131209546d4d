"""Synthesis blocks of the unrolled decoder: a deepened model starts out computing what its source computes,
trains them, and the config refuses them where they do not exist."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from jscc_rt import JSCCConfig, JSCCModel, JsccInputError, save_model
from jscc_rt.models import load_model
from jscc_rt.models.unrolled import deepen_from
from jscc_rt.pipeline import Link
from jscc_rt.train import TrainConfig, train


def _cfg(blocks: int = 0, **kw) -> JSCCConfig:
    return JSCCConfig.for_ratio("1/4", "unrolled", width=16, upsample="subpixel", decoder_blocks=blocks, **kw)


@pytest.mark.parametrize("min_ratio", [None, "1/64"])
def test_deepened_model_computes_what_its_source_computes(min_ratio: str | None) -> None:
    torch.manual_seed(0)
    src = JSCCModel(_cfg(0, min_ratio=min_ratio)).eval()
    dst = JSCCModel(_cfg(2, min_ratio=min_ratio)).eval()
    deepen_from(dst, src)
    x = torch.rand(2, 3, 32, 48)
    ratio = "1/16" if min_ratio else None
    a = Link(src)(x, 5.0, generator=torch.Generator().manual_seed(1), ratio=ratio).images
    b = Link(dst)(x, 5.0, generator=torch.Generator().manual_seed(1), ratio=ratio).images
    torch.testing.assert_close(b, a, rtol=0, atol=0)  # images (2, 3, 32, 48): the added blocks are the identity
    assert sum(p.numel() for p in dst.decoder.blocks.parameters()) == 2 * (2 * (16 * 16 * 9 + 16) + 16)


def test_deepen_refuses_other_architectures_and_fewer_blocks() -> None:
    with pytest.raises(JsccInputError, match="only an unrolled model differing in fewer decoder_blocks"):
        deepen_from(JSCCModel(_cfg(0)), JSCCModel(_cfg(2)))
    with pytest.raises(JsccInputError, match="only an unrolled model differing in fewer decoder_blocks"):
        deepen_from(JSCCModel(_cfg(2)), JSCCModel(replace(_cfg(0), width=24)))
    with pytest.raises(JsccInputError, match="decoder_blocks must be 0..8 on the unrolled model, got 1 \\(model 'deepjscc'\\)"):
        JSCCConfig(decoder_blocks=1)


def test_train_deepens_an_init_model_and_trains_the_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    torch.manual_seed(0)
    save_model(JSCCModel(_cfg(0)), tmp_path / "src.pt")
    cfg = TrainConfig(model="unrolled", ratio="1/4", width=16, upsample="subpixel", crop=32, batch_size=2, steps=3,
                      val_every=3, val_images=1, threads=1, init=str(tmp_path / "src.pt"), decoder_blocks=1)
    train(cfg, tmp_path / "run", show_progress=False)
    m = load_model(tmp_path / "run" / "model.pt")
    assert m.config.decoder_blocks == 1 and float(m.decoder.blocks[0].c2.weight.detach().abs().sum()) > 0
