"""JSCC models: shapes, bandwidth ratios, SNR adaptivity, VAE KL, checkpoints and bad input."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.channel import average_power, bandwidth_ratio
from jscc_rt.models import JSCCConfig, JSCCModel, load_model, save_model
from jscc_rt.models.registry import resolve_checkpoint


@pytest.mark.parametrize("model", ["deepjscc", "vae"])
@pytest.mark.parametrize("ratio", ["1/16", "1/6"])
def test_ratio_shapes_and_power(model: str, ratio: str) -> None:
    cfg = JSCCConfig.for_ratio(ratio, model, width=32)
    assert cfg.ratio == Fraction(ratio)
    m = JSCCModel(cfg).eval()
    x = torch.rand(2, 3, 64, 96)
    snr = torch.tensor([0.0, 10.0])
    s = m.transmit(x, snr)
    assert bandwidth_ratio(m.latent_shape(64, 96), (3, 64, 96)) == Fraction(ratio)
    assert s.shape == (2, int(Fraction(ratio) * 3 * 64 * 96), 2)
    torch.testing.assert_close(average_power(s), torch.ones(2))
    with torch.no_grad():
        out = m.receive(s, snr, (64, 96))
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1


def test_snr_input_changes_the_code() -> None:
    m = JSCCModel(JSCCConfig(width=32)).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a, b = m.transmit(x, torch.tensor([-5.0])), m.transmit(x, torch.tensor([20.0]))
    assert not torch.allclose(a, b)


def test_vae_kl_and_sampling() -> None:
    m = JSCCModel(JSCCConfig(model="vae", width=32))
    x = torch.rand(2, 3, 64, 64)
    snr = torch.zeros(2)
    mu, kl = m.encode_latent(x, snr)
    assert kl is not None and kl.shape == (2,) and bool((kl >= 0).all())
    z1, _ = m.encode_latent(x, snr, sample=True, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(z1, mu)
    assert m.encode_latent(x, snr)[0].shape == (2, 24, 8, 8)


def test_checkpoint_roundtrip(tmp_path: Path) -> None:
    m = JSCCModel(JSCCConfig(model="vae", latent_channels=8, width=16))
    p = save_model(m, tmp_path / "m.pt", meta={"step": 3})
    assert (tmp_path / "m.json").is_file()
    back = load_model(p)
    assert back.config == m.config and back.meta["step"] == 3
    for k, v in m.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_model(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_bytes(b"\x00garbage")
    with pytest.raises(JsccInputError, match="corrupt"):
        load_model(tmp_path / "bad.pt")
    m = JSCCModel(JSCCConfig(latent_channels=8, width=16))
    p = save_model(m, tmp_path / "m.pt")
    payload = torch.load(p, weights_only=True)
    payload["config"]["width"] = 32  # config no longer matches the weights
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(JsccInputError, match="does not match its config"):
        load_model(tmp_path / "mismatch.pt")
    payload["config"]["model"] = "transformer"
    torch.save(payload, tmp_path / "unknown.pt")
    with pytest.raises(JsccInputError, match="unknown model 'transformer'"):
        load_model(tmp_path / "unknown.pt")
    with pytest.raises(FileNotFoundError, match="shipped"):
        resolve_checkpoint("no-such-model")


def test_bad_image_input() -> None:
    m = JSCCModel(JSCCConfig(width=16))
    snr = torch.zeros(1)
    with pytest.raises(JsccInputError, match="multiples of the model stride 8"):
        m.transmit(torch.rand(1, 3, 60, 64), snr)
    with pytest.raises(JsccInputError, match="3 \\(RGB\\) channels"):
        m.transmit(torch.rand(1, 1, 64, 64), snr)
    with pytest.raises(JsccInputError, match="not an even integer"):
        JSCCConfig.for_ratio("1/7")
    with pytest.raises(JsccInputError, match="unknown model"):
        JSCCConfig(model="resnet")  # type: ignore[arg-type]


def test_transmit_latent_matches_transmit_and_rejects_zero_power() -> None:
    m = JSCCModel(JSCCConfig(width=16, latent_channels=8)).eval()
    x, snr = torch.rand(2, 3, 32, 48), torch.tensor([0.0, 10.0])
    with torch.no_grad():
        z = m.transmit_latent(x, snr, power=2.0)
        s = m.transmit(x, snr)
    torch.testing.assert_close(average_power(z.reshape(2, -1, 2)), torch.full((2,), 2.0))
    torch.testing.assert_close(z.reshape(2, -1, 2) / 2**0.5, s, rtol=1e-5, atol=1e-6)  # same symbols, same layout
    for p in m.encoder.head.parameters():
        torch.nn.init.zeros_(p)  # an encoder that outputs all zeros
    with pytest.raises(JsccInputError, match="zero power"):
        m.transmit_latent(x, snr)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind", ["raw-pickle-2", "raw-pickle-4", "torch-zip"])
def test_load_model_refuses_malicious_pickles_and_runs_nothing(tmp_path: Path, kind: str, write_evil_pickle) -> None:
    """Checkpoints load with ``weights_only``: a crafted ``.pt`` is a clear error and its payload never runs."""
    marker, ck = tmp_path / "pwned", tmp_path / "evil.pt"
    write_evil_pickle(ck, marker, kind)
    with pytest.raises(JsccInputError):
        load_model(ck)
    assert not marker.exists()
    good = tmp_path / "good.pt"
    save_model(JSCCModel(JSCCConfig(width=16)), good)
    good.write_bytes(good.read_bytes()[:-100])  # truncated
    with pytest.raises(JsccInputError):
        load_model(good)
