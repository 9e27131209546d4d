"""The diffusion Link end to end, latent-shape mismatch, and denoiser training that learns."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from jscc_rt import JSCCConfig, JSCCModel, Link
from jscc_rt._validate import JsccInputError
from jscc_rt.diffusion import DenoiserConfig, DiffusionReceiver, LatentDenoiser, NoiseSchedule, ReceiverConfig
from jscc_rt.models import load_model, save_model
from jscc_rt.train.diffusion import DiffusionTrainConfig, train_diffusion


def test_link_with_zero_step_receiver_equals_decoder_alone() -> None:
    m = JSCCModel(JSCCConfig(width=16)).eval()
    rx = DiffusionReceiver(LatentDenoiser(DenoiserConfig(width=16)), NoiseSchedule(), ReceiverConfig(steps=0))
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        a = Link(m, receiver=rx)(x, 5.0, generator=torch.Generator().manual_seed(0)).images
        b = Link(m)(x, 5.0, generator=torch.Generator().manual_seed(0)).images
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_link_with_denoiser_runs_and_is_seeded(sampler: str) -> None:
    m = JSCCModel(JSCCConfig(width=16)).eval()
    rx = DiffusionReceiver(LatentDenoiser(DenoiserConfig(width=16)), NoiseSchedule(), ReceiverConfig(sampler, steps=3))
    link = Link(m, receiver=rx)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        a = link(x, torch.tensor([0.0, 10.0]), generator=torch.Generator().manual_seed(3)).images
        b = link(x, torch.tensor([0.0, 10.0]), generator=torch.Generator().manual_seed(3)).images
    assert a.shape == x.shape and torch.equal(a, b)


def test_link_rejects_denoiser_for_another_model() -> None:
    m = JSCCModel(JSCCConfig(latent_channels=64, width=16))
    rx = DiffusionReceiver(LatentDenoiser(DenoiserConfig(latent_channels=24, width=16)), NoiseSchedule(), ReceiverConfig())
    with pytest.raises(JsccInputError, match="24-channel latents but the JSCC model produces 64"):
        Link(m, receiver=rx)


def test_denoiser_training_reduces_latent_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "jscc.pt")
    cfg = DiffusionTrainConfig(jscc=str(tmp_path / "jscc.pt"), crop=64, n_latents=96, latent_crop=8, batch_size=16,
                               steps=150, cd_steps=20, width=16, lr=2e-3, threads=1)
    summary = train_diffusion(cfg, tmp_path / "d", show_progress=False)
    d = summary["denoiser"]
    assert d["mse_denoised"] < 0.9 * d["mse_raw"], d  # untrained (zero-init output) gives exactly 1.0x
    assert summary["consistency"]["mse_denoised"] < d["mse_raw"]
    cm = load_model(tmp_path / "d" / "consistency.pt", expect="DenoiserConfig")
    assert type(cm).__name__ == "ConsistencyModel"
    meta = json.loads((tmp_path / "d" / "denoiser.json").read_text())["meta"]
    assert meta["jscc_config"]["latent_channels"] == 24 and meta["schedule"]["num_steps"] == 1000
    with pytest.raises(JsccInputError, match="JSCCConfig or CompressConfig model is needed"):
        load_model(tmp_path / "d" / "denoiser.pt")


def test_build_link_warns_on_foreign_denoiser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    from jscc_rt.eval.diffusion_eval import build_link

    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "a.pt")
    torch.manual_seed(1)
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "b.pt")
    train_diffusion(DiffusionTrainConfig(jscc=str(tmp_path / "a.pt"), crop=64, n_latents=8, latent_crop=8,
                                         batch_size=2, steps=1, cd_steps=0, width=16, threads=1), tmp_path / "d",
                    show_progress=False)
    build_link(str(tmp_path / "a.pt"), str(tmp_path / "d/denoiser.pt"), "ddim", 2)  # matching: no warning
    with pytest.warns(UserWarning, match="another JSCC checkpoint"):
        build_link(str(tmp_path / "b.pt"), str(tmp_path / "d/denoiser.pt"), "ddim", 2)
