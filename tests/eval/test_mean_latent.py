"""The mean-latent baseline of the diffusion eval (the prior's health check)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jscc_rt import JSCCConfig, JSCCModel, JsccInputError, save_model
from jscc_rt.diffusion.schedule import from_diffusion
from jscc_rt.eval.diffusion_eval import MeanLatentLink, eval_link


def test_mean_latent_link_decodes_the_mean_whatever_the_image(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = JSCCModel(JSCCConfig(width=16)).eval()
    save_model(model, tmp_path / "m.pt")
    mean = torch.linspace(-0.5, 0.5, 24)
    link = MeanLatentLink(str(tmp_path / "m.pt"), mean.tolist(), decoder_snr_db=20.0)
    a, b = torch.rand(1, 3, 40, 56), torch.rand(1, 3, 40, 56)
    out_a, out_b = link(a, 0.0).images, link(b, 10.0).images
    assert out_a.shape == a.shape
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)  # neither the image nor the SNR reaches it
    z = from_diffusion(mean.view(1, 24, 1, 1).expand(1, 24, 5, 7), 1.0)
    with torch.no_grad():
        ref = model.decoder(z, torch.full((1,), 20.0))
    torch.testing.assert_close(out_a, ref, rtol=1e-5, atol=1e-6)  # images (1,3,40,56): the decoder of the mean
    rows = eval_link(link, None, [0.0, 10.0], max_images=2)
    assert rows[0]["psnr"] == pytest.approx(rows[1]["psnr"], abs=1e-9)


def test_mean_latent_with_the_wrong_channel_count_is_refused(tmp_path: Path) -> None:
    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "m.pt")
    with pytest.raises(JsccInputError, match="latent_mean has 3 channels, the JSCC model's latent has 24"):
        MeanLatentLink(str(tmp_path / "m.pt"), [0.0, 0.0, 0.0])
