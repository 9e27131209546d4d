"""Rate adaptation (jscc_rt.models.rate): budgets, granularity errors, the masked decoder, initializing from a
fixed-rate model (wider or narrower), and the link sending a run-time number of channel uses."""
from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from jscc_rt import JsccInputError
from jscc_rt.models import JSCCConfig, JSCCModel
from jscc_rt.models.rate import budget_channels, budget_mask, ladder, pad_latent, sample_channels, resize_from
from jscc_rt.pipeline import Link


def _cfg(**kw) -> JSCCConfig:
    return JSCCConfig.for_ratio("1/4", "unrolled", width=16, min_ratio="1/64", **kw)


def test_config_range_and_ladder() -> None:
    cfg = _cfg()
    assert cfg.rate_adaptive and cfg.latent_channels == 96 and cfg.min_latent_channels == 6
    assert (cfg.min_ratio, cfg.ratio) == (Fraction(1, 64), Fraction(1, 4))
    assert ladder(cfg) == [Fraction(1, d) for d in (64, 32, 16, 12, 8, 6, 4)]
    fixed = JSCCConfig.for_ratio("1/16", "unrolled", width=16)
    assert not fixed.rate_adaptive and ladder(fixed) == [Fraction(1, 16)] and fixed.min_ratio == Fraction(1, 16)
    assert JSCCConfig.from_dict({k: v for k, v in fixed.to_dict().items() if k != "min_latent_channels"}) == fixed


@pytest.mark.parametrize("kw, match", [
    ({"min_ratio": "1/2"}, "above the ratio"),
    ({"min_ratio": "1/100"}, "not an even integer"),
])
def test_bad_ranges_name_the_values(kw: dict, match: str) -> None:
    with pytest.raises(JsccInputError, match=match):
        JSCCConfig.for_ratio("1/4", "unrolled", width=16, **kw)
    with pytest.raises(JsccInputError, match="unrolled model"):
        JSCCConfig.for_ratio("1/4", "deepjscc", width=16, min_ratio="1/16")


def test_budget_channels_checks_range_and_granularity() -> None:
    cfg = _cfg()
    assert budget_channels(cfg, None) == 96 and budget_channels(cfg, "1/12") == 32 and budget_channels(cfg, 0.125) == 48
    assert budget_channels(cfg, "7/192") == 14  # any even channel count in range
    with pytest.raises(JsccInputError, match=r"outside the model's trained range \[1/64, 1/4\]"):
        budget_channels(cfg, "1/128")
    with pytest.raises(JsccInputError, match="outside"):
        budget_channels(cfg, "1/2")
    with pytest.raises(JsccInputError, match="not representable"):
        budget_channels(cfg, "1/50")
    fixed = JSCCConfig.for_ratio("1/16", "unrolled", width=16)
    assert budget_channels(fixed, "1/16") == 24
    with pytest.raises(JsccInputError, match="fixed-rate at k/n = 1/16"):
        budget_channels(fixed, "1/8")


def test_sample_channels_covers_the_ladder_and_stays_in_range() -> None:
    cfg = _cfg()
    g = torch.Generator().manual_seed(0)
    draws = [sample_channels(cfg, g) for _ in range(2000)]
    assert all(6 <= c <= 96 and c % 2 == 0 for c in draws)
    lad = {6, 12, 24, 32, 48, 64, 96}
    assert lad <= set(draws)
    share = sum(c in lad for c in draws) / len(draws)
    assert 0.72 < share < 0.85  # 0.75 from the ladder plus off-ladder draws that land on it (7 of 46 counts)
    assert set(draws) - lad  # off-ladder budgets are trained too


def test_mask_and_pad() -> None:
    m = budget_mask(torch.tensor([2.0, 4.0]), 6)
    assert m.shape == (2, 6, 1, 1) and m[:, :, 0, 0].tolist() == [[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0]]
    y = torch.randn(2, 4, 3, 5)
    p = pad_latent(y, 6)
    assert p.shape == (2, 6, 3, 5) and torch.equal(p[:, :4], y) and not p[:, 4:].any()
    with pytest.raises(JsccInputError, match="more than the model's 3"):
        pad_latent(y, 3)


def test_decoder_ignores_channels_not_sent() -> None:
    torch.manual_seed(0)
    model = JSCCModel(_cfg()).eval()
    for p in model.decoder.prox.c2.parameters():  # make the prox non-trivial
        torch.nn.init.normal_(p, std=0.1)
    y = torch.randn(2, 96, 4, 6)
    snr = torch.tensor([0.0, 10.0])
    c = torch.tensor([24, 24])
    junk = y.clone()
    junk[:, 24:] = torch.randn_like(junk[:, 24:]) * 100
    with torch.no_grad():
        a, b = model.decoder(y, snr, channels=c), model.decoder(junk, snr, channels=c)
        full = model.decoder(y, snr, channels=torch.tensor([96, 96]))
    assert torch.equal(a, b)  # what a sender puts beyond the budget never reaches the image
    assert not torch.allclose(a, full)
    fixed = JSCCModel(JSCCConfig.for_ratio("1/16", "unrolled", width=16))
    with pytest.raises(JsccInputError, match="fixed-rate decoder"):
        fixed.decoder(y[:, :24], snr, channels=c)


def test_widened_model_equals_its_source_at_the_source_ratio() -> None:
    torch.manual_seed(1)
    src = JSCCModel(JSCCConfig.for_ratio("1/16", "unrolled", width=16)).eval()
    for p in src.decoder.prox.c2.parameters():
        torch.nn.init.normal_(p, std=0.1)
    dst = JSCCModel(_cfg()).eval()
    grown = resize_from(dst, src)
    assert "encoder.c3.weight" in grown and "decoder.prox.film.weight" in grown
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        a = Link(src)(x, 5.0, generator=torch.Generator().manual_seed(3)).images
        b = Link(dst)(x, 5.0, generator=torch.Generator().manual_seed(3), ratio="1/16").images
    torch.testing.assert_close(b, a, rtol=0, atol=1e-6)  # images (2, 3, 32, 48), float32
    with pytest.raises(JsccInputError, match="cannot initialize"):
        resize_from(dst, JSCCModel(JSCCConfig.for_ratio("1/16", "unrolled", width=32)))
    narrow = JSCCModel(JSCCConfig.for_ratio("1/32", "unrolled", width=16)).eval()  # the first 12 of 24 channels
    assert "encoder.c3.weight" in resize_from(narrow, src)
    torch.testing.assert_close(narrow.encoder.c3.weight, src.encoder.c3.weight[:12], rtol=0, atol=0)
    torch.testing.assert_close(narrow.decoder.prox.c1.weight, src.decoder.prox.c1.weight[:, :12], rtol=0, atol=0)


def test_link_sends_the_announced_number_of_symbols() -> None:
    model = JSCCModel(_cfg()).eval()
    x = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        for r, c in (("1/64", 6), ("1/16", 24), ("1/4", 96)):
            res = Link(model)(x, 10.0, ratio=r)
            assert res.received.shape == (1, c * 4 * 6 // 2, 2)  # k = c h w / 2 complex symbols
            k_over_n = Fraction(res.received.shape[1], 3 * 32 * 48)
            assert k_over_n == Fraction(r)
            assert res.images.shape == x.shape


def test_receive_decodes_any_budget_from_its_symbols() -> None:
    from jscc_rt.channel import from_symbols

    torch.manual_seed(0)
    model = JSCCModel(_cfg()).eval()
    x, snr = torch.rand(1, 3, 32, 48), torch.tensor([10.0])
    with torch.no_grad():
        for r in ("1/64", "1/8"):
            c = int(Fraction(r) * 384)
            y = model.transmit(x, snr, ratio=r)
            assert y.shape[1] == c * 4 * 6 // 2
            want = model.decoder(pad_latent(from_symbols(y, (c, 4, 6)), 96), snr, channels=torch.tensor([float(c)]))
            torch.testing.assert_close(model.receive(y, snr, (32, 48), ratio=r), want, rtol=0, atol=0)


def test_ladder_includes_the_range_ends() -> None:
    cfg = JSCCConfig.for_ratio("5/192", "unrolled", width=16, min_ratio="1/48")  # no ladder ratio inside
    assert ladder(cfg) == [Fraction(1, 48), Fraction(5, 192)]
