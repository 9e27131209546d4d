"""Sub-pixel upsampling: the exact conversion from transposed convolutions, and the config plumbing."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from jscc_rt.models import JSCCConfig, JSCCModel, load_model
from jscc_rt.models.upsample import SubPixelConv, convert_to_subpixel, subpixel_from_deconv, up2


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("hw", [(1, 1), (4, 7), (9, 6)])
def test_subpixel_equals_deconv(k: int, hw: tuple[int, int]) -> None:
    """Output images of ConvTranspose2d and its converted SubPixelConv: max |diff| <= 1e-5 (float32), odd sizes."""
    torch.manual_seed(0)
    d = nn.ConvTranspose2d(6, 5, k, stride=2, padding=k // 2, output_padding=1)
    x = torch.randn(3, 6, *hw)
    sp = subpixel_from_deconv(d)
    with torch.no_grad():
        a, b = d(x), sp(x)
    assert a.shape == b.shape == (3, 5, 2 * hw[0], 2 * hw[1])
    assert (a - b).abs().max() <= 1e-5


def test_unconvertible_deconv_is_refused() -> None:
    with pytest.raises(ValueError, match="stride 2"):
        subpixel_from_deconv(nn.ConvTranspose2d(4, 4, 4, stride=2, padding=1))


@pytest.mark.parametrize("name", ["unrolled-1_16", "deepjscc-res-1_16", "deepjscc-1_16"])
def test_shipped_decoder_converts_exactly(name: str) -> None:
    """Decoder images of a shipped model before/after conversion: max |diff| <= 1e-5; no ConvTranspose left."""
    from jscc_rt.models.registry import resolve_checkpoint

    m = load_model(resolve_checkpoint(name)).eval()
    m2 = convert_to_subpixel(m).eval()
    assert m2.config.upsample == "subpixel" and m.config.upsample == "deconv"
    assert not any(isinstance(x, nn.ConvTranspose2d) for x in m2.modules())
    y, snr = torch.randn(2, m.config.latent_channels, 5, 7), torch.tensor([0.0, 10.0])
    with torch.no_grad():
        assert (m.decoder(y, snr) - m2.decoder(y, snr)).abs().max() <= 1e-5
    # the converted weights load into a fresh subpixel model of the same config
    JSCCModel(m2.config).load_state_dict(m2.state_dict())


def test_config_upsample() -> None:
    from jscc_rt._validate import JsccInputError

    cfg = JSCCConfig.for_ratio("1/16", "unrolled", width=16, upsample="subpixel")
    assert isinstance(JSCCModel(cfg).decoder.d1, SubPixelConv)
    assert JSCCConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "upsample"}).upsample == "deconv"
    with pytest.raises(JsccInputError, match="unknown upsample 'nearest'"):
        JSCCConfig(upsample="nearest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown upsample"):
        up2(3, 3, upsample="bilinear")


def test_shipped_flagship_decoder_has_no_transposed_convolution() -> None:
    """unrolled-w64-1_16 ships converted (TRAINING.md): every upsampling layer is a sub-pixel convolution."""
    from jscc_rt.models.registry import resolve_checkpoint

    m = load_model(resolve_checkpoint("unrolled-w64-1_16"))
    assert m.config.upsample == "subpixel" and len(m.meta["converted_from"]) == 64
    assert sum(isinstance(x, SubPixelConv) for x in m.modules()) == 3
    assert not any(isinstance(x, nn.ConvTranspose2d) for x in m.modules())
