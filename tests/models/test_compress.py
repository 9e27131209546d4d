"""VAE bandwidth compression: channel-use reduction, Gaussian KL, training, checkpoints, bad input."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from jscc_rt import JSCCConfig, JSCCModel, JsccInputError, Link, save_model
from jscc_rt.cli import main
from jscc_rt.models import load_model
from jscc_rt.models.compress import CompressConfig, CompressedJSCC, gaussian_kl


@pytest.mark.parametrize("factor", [2, 4])
def test_fewer_channel_uses(factor: int) -> None:
    base = JSCCModel(JSCCConfig(model="vae", width=16)).eval()
    m = CompressedJSCC(CompressConfig(base.config, factor, width=16), base).eval()
    assert m.config.ratio == Fraction(1, 16 * factor)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        full = Link(base)(x, 5.0).received.shape[1]
        comp = Link(m)(x, 5.0).received.shape[1]
    assert comp * factor == full


def test_gaussian_kl_matches_closed_form() -> None:
    mu1, lv1, mu2, lv2 = torch.tensor([0.3]), torch.tensor([-0.5]), torch.tensor([-0.2]), torch.tensor([0.4])
    p = torch.distributions.Normal(mu1, torch.exp(0.5 * lv1))
    q = torch.distributions.Normal(mu2, torch.exp(0.5 * lv2))
    torch.testing.assert_close(gaussian_kl(mu1, lv1, mu2, lv2), torch.distributions.kl_divergence(p, q))


def test_config_errors() -> None:
    with pytest.raises(JsccInputError, match="VAE-JSCC base"):
        CompressConfig(JSCCConfig(model="deepjscc"))
    with pytest.raises(JsccInputError, match="factor must be 2 or 4"):
        CompressConfig(JSCCConfig(model="vae"), factor=3)


def test_train_compress_cli_and_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    torch.manual_seed(0)
    save_model(JSCCModel(JSCCConfig(model="vae", width=16)), tmp_path / "vae.pt")
    assert main(["train-compress", "--base", str(tmp_path / "vae.pt"), "--factor", "2", "--width", "16",
                 "--crop", "32", "--batch-size", "2", "--steps", "4", "--val-every", "4", "--val-images", "1",
                 "--threads", "1", "--out", str(tmp_path / "c"), "--no-progress"]) == 0
    assert "val" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    m = load_model(tmp_path / "c" / "model.pt")
    assert isinstance(m, CompressedJSCC) and m.config.factor == 2
    base = load_model(tmp_path / "vae.pt")
    for k, v in base.state_dict().items():  # the base stayed frozen
        assert torch.equal(v, m.base.state_dict()[k]), k
    with pytest.raises(JsccInputError, match="DenoiserConfig"):
        load_model(tmp_path / "c" / "model.pt", expect="DenoiserConfig")
