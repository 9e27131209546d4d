"""train-diffusion / train-compress in bf16 (channels-last): resolved precision recorded, throughput reported."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from jscc_rt.models import JSCCConfig, JSCCModel, load_model, save_model
from jscc_rt.train.compress import CompressTrainConfig, train_compress
from jscc_rt.train.diffusion import DiffusionTrainConfig, train_diffusion
from jscc_rt.train.precision import cpu_bf16_supported

pytestmark = pytest.mark.skipif(not cpu_bf16_supported(), reason="CPU without AVX512-BF16/AMX-BF16")


@pytest.fixture(autouse=True)
def _no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)


def test_diffusion_trains_in_bf16(tmp_path: Path) -> None:
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "j.pt")
    cfg = DiffusionTrainConfig(jscc=str(tmp_path / "j.pt"), crop=64, n_latents=16, latent_crop=8, batch_size=4,
                               steps=3, cd_steps=2, width=16, threads=1, precision="auto", channels_last=None)
    res = train_diffusion(cfg, tmp_path / "d", show_progress=False)
    assert res["precision"] == "bf16" and set(res["steps_per_s"]) == {"denoiser", "consistency"}
    rec = json.loads((tmp_path / "d" / "diffusion_config.json").read_text())
    assert (rec["precision"], rec["channels_last"]) == ("bf16", True)
    sd = load_model(tmp_path / "d" / "denoiser.pt", expect="DenoiserConfig").state_dict()
    assert all(v.dtype == torch.float32 and v.is_contiguous() for v in sd.values())  # saved fp32, default layout


def test_compress_trains_in_bf16(tmp_path: Path) -> None:
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(model="vae", width=16)), tmp_path / "vae.pt")
    cfg = CompressTrainConfig(base=str(tmp_path / "vae.pt"), width=16, crop=32, batch_size=2, steps=3, val_every=3,
                              val_images=1, threads=1, precision="bf16", channels_last=True)
    res = train_compress(cfg, tmp_path / "c", show_progress=False)
    assert res["precision"] == "bf16" and res["steps_per_s"] > 0 and res["psnr"] > 5
    assert json.loads((tmp_path / "c" / "compress_config.json").read_text())["precision"] == "bf16"
