"""Diffusion after a compressed link's upsampler: the start state (variance table, upsampler variance), the link
path against its reference, the calibration against a direct computation, the eval plans, and bad input."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from jscc_rt import JSCCConfig, JSCCModel, JsccInputError, Link, save_model
from jscc_rt.channel import ChannelConfig
from jscc_rt.diffusion import DenoiserConfig, DiffusionReceiver, LatentDenoiser, NoiseSchedule, ReceiverConfig
from jscc_rt.diffusion.upsampler_start import UpsamplerStart, upsampler_start
from jscc_rt.eval.upsampler_calibration import calibrate_upsampler, forward_start
from jscc_rt.models.compress import CompressConfig, CompressedJSCC


def _compressed(factor: int = 2) -> CompressedJSCC:
    torch.manual_seed(0)
    base = JSCCModel(JSCCConfig(model="vae", width=16)).eval()
    return CompressedJSCC(CompressConfig(base.config, factor, width=16), base).eval()


def test_table_is_interpolated_in_snr_and_held_beyond_it() -> None:
    st = UpsamplerStart("calibrated", ((0.0, 0.5), (10.0, 0.3)))
    v = st.variance_for(torch.zeros(4, 2, 1, 1), torch.tensor([-5.0, 0.0, 5.0, 20.0]))
    torch.testing.assert_close(v, torch.tensor([0.5, 0.5, 0.4, 0.3], dtype=torch.float64))
    one = UpsamplerStart("calibrated", ((3.0, 0.2),)).variance_for(torch.zeros(2, 1, 1, 1), torch.tensor([-9.0, 9.0]))
    torch.testing.assert_close(one, torch.tensor([0.2, 0.2], dtype=torch.float64))


def test_upsampler_variance_and_start_state() -> None:
    mu = torch.randn(2, 4, 3, 3)
    logvar = torch.full_like(mu, math.log(0.01))
    x_u, ab = upsampler_start(mu, logvar, torch.tensor([0.0, 10.0]), UpsamplerStart("upsampler"), power=1.0)
    torch.testing.assert_close(ab, torch.full((2,), 1 / 1.02, dtype=torch.float64))  # v = 0.01 * 2 / P
    torch.testing.assert_close(x_u, mu * math.sqrt(2.0) * math.sqrt(1 / 1.02))
    x_u, ab = upsampler_start(mu, logvar, torch.tensor([0.0, 0.0]), UpsamplerStart("calibrated", ((0.0, 1.0),)),
                              power=2.0)
    torch.testing.assert_close(x_u, mu * math.sqrt(0.5))  # to_diffusion at P = 2 is the identity; ab = 1/2


def test_forward_start_divides_by_the_gain_and_starts_from_its_noise() -> None:
    mu = torch.randn(3, 4, 2, 2)
    st = UpsamplerStart("forward", ((0.0, 1.0), (10.0, 0.25)), ((0.0, 0.5), (10.0, 0.8)))
    snr = torch.tensor([0.0, 5.0, 20.0])
    torch.testing.assert_close(st.gain_for(snr), torch.tensor([0.5, 0.65, 0.8], dtype=torch.float64))
    x_u, ab = upsampler_start(mu, torch.zeros_like(mu), snr, st, power=2.0)
    want_ab = torch.tensor([1 / 2.0, 1 / 1.625, 1 / 1.25], dtype=torch.float64)
    torch.testing.assert_close(ab, want_ab)
    torch.testing.assert_close(x_u, mu * (want_ab.sqrt() / torch.tensor([0.5, 0.65, 0.8], dtype=torch.float64))
                               .float().view(3, 1, 1, 1))
    assert torch.equal(UpsamplerStart("upsampler").gain_for(snr), torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("bad, match", [
    (dict(variance="guess"), "must be one of calibrated, upsampler, forward"),
    (dict(variance="calibrated"), "needs its table"),
    (dict(variance="forward", table=((0.0, 0.5),)), "needs its gains"),
    (dict(variance="forward", table=((0.0, 0.5),), gains=((5.0, 0.8),)), "share their SNRs"),
    (dict(variance="forward", table=((0.0, 0.5),), gains=((0.0, -0.8),)), "gains must be finite and > 0"),
    (dict(variance="calibrated", table=((0.0, 0.5),), gains=((0.0, 0.8),)), "forward start only"),
    (dict(table=((5.0, 0.1), (0.0, 0.2))), "strictly ascending"),
    (dict(table=((0.0, 0.0),)), "finite and > 0"),
    (dict(table=((0.0, float("nan")),)), "finite and > 0"),
])
def test_bad_starts_are_refused(bad: dict, match: str) -> None:
    with pytest.raises(JsccInputError, match=match):
        UpsamplerStart(**bad)


def test_link_runs_after_the_upsampler_and_zero_steps_is_the_conditioned_base_decoder() -> None:
    m = _compressed()
    den = LatentDenoiser(DenoiserConfig(latent_channels=m.config.base.latent_channels, width=16)).eval()
    st = UpsamplerStart("calibrated", ((-5.0, 0.8), (20.0, 0.2)))
    x = torch.rand(2, 3, 32, 32)
    snr = torch.tensor([0.0, 10.0])
    rx0 = DiffusionReceiver(den, NoiseSchedule(), ReceiverConfig(steps=0))
    with torch.no_grad():
        got = Link(m, receiver=rx0, decoder_snr_db=20.0, upsampler_start=st)(
            x, snr, generator=torch.Generator().manual_seed(1)).images
        res = Link(m)(x, snr, generator=torch.Generator().manual_seed(1))  # same noise draw
        mu, _ = m.decoder.posterior(res.received.reshape(2, -1, 4, 4), res.snr_eff_db)
        ref = m.base.decoder(mu, torch.full((2,), 20.0))
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)  # images: to/from the diffusion domain only
        rx2 = DiffusionReceiver(den, NoiseSchedule(), ReceiverConfig(steps=2))
        out = Link(m, receiver=rx2, upsampler_start=st)(x, snr, generator=torch.Generator().manual_seed(1)).images
    assert out.shape == x.shape and torch.isfinite(out).all() and not torch.allclose(out, got)
    with pytest.raises(JsccInputError, match="needs upsampler_start=UpsamplerStart"):
        Link(m, receiver=rx2)
    wrong = DiffusionReceiver(LatentDenoiser(DenoiserConfig(latent_channels=8, width=16)), NoiseSchedule(),
                              ReceiverConfig(steps=1))
    with pytest.raises(JsccInputError, match="works on 8-channel latents"):
        Link(m, receiver=wrong, upsampler_start=st)


def test_calibration_matches_a_direct_computation() -> None:
    m = _compressed()
    g = torch.Generator().manual_seed(0)
    imgs = [torch.rand(3, 48, 40, generator=g) for _ in range(3)]
    st, rows = calibrate_upsampler(m, imgs, snrs_db=(0.0, 10.0), crop=32, n_crops=4, batch_size=4, seed=3)
    assert [r["snr_db"] for r in rows] == [0.0, 10.0] and st.table == tuple((r["snr_db"], r["v"]) for r in rows)
    from jscc_rt.data.crops import RandomCropSampler

    x = RandomCropSampler(imgs, 32, 4, seed=3).sample()
    s = torch.full((4,), 10.0)
    with torch.no_grad():
        res = Link(m, ChannelConfig("awgn"))(x, s, generator=torch.Generator().manual_seed(4))
        mu, logvar = m.decoder.posterior(res.received.reshape(4, -1, 4, 4), res.snr_eff_db)
        x0 = m.base.transmit_latent(x, s) * math.sqrt(2.0)
    assert rows[1]["v"] == pytest.approx(float((mu * math.sqrt(2.0) - x0).double().square().mean()), rel=1e-5)
    assert rows[1]["v_upsampler"] == pytest.approx(float(logvar.double().exp().mean()) * 2.0, rel=1e-5)
    md, xd = (mu * math.sqrt(2.0)).double().flatten(), x0.double().flatten()
    cov = float(((md - md.mean()) * (xd - xd.mean())).mean())
    c = cov / float(xd.var(unbiased=False))
    assert rows[1]["gain"] == pytest.approx(c, rel=1e-4)  # m = c x0 + w, w uncorrelated with x0
    w = md - c * xd
    assert rows[1]["v_forward"] == pytest.approx(float(w.var(unbiased=False)) / c ** 2, rel=1e-4)
    fw = forward_start(rows)
    assert fw.variance == "forward" and fw.gains == ((0.0, rows[0]["gain"]), (10.0, rows[1]["gain"]))
    with pytest.raises(JsccInputError, match="not positively correlated"):
        forward_start([{**rows[0], "gain": -0.1}])
    with pytest.raises(JsccInputError, match="needs a compressed link"):
        calibrate_upsampler(m.base, imgs)
    with pytest.raises(JsccInputError, match="strictly ascending"):
        calibrate_upsampler(m, imgs, snrs_db=(10.0, 0.0), crop=32)
    with pytest.raises(JsccInputError, match="crop 30 must be a multiple"):
        calibrate_upsampler(m, imgs, crop=30)


def test_eval_runs_each_start_beside_the_conditioned_decoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    import jscc_rt.eval.upsampler_calibration as cal
    from jscc_rt.eval.diffusion_eval import run_diffusion_eval

    real = cal.calibrate_upsampler

    def untrained_made_correlated(*a, **k):  # an untrained upsampler's output is uncorrelated with x0 (gain ~ 0,
        st, rows = real(*a, **k)           # refused by forward_start): give the plan test a usable gain
        return st, [{**r, "gain": abs(r["gain"]) + 0.5} for r in rows]

    monkeypatch.setattr(cal, "calibrate_upsampler", untrained_made_correlated)

    m = _compressed(factor=4)
    save_model(m, tmp_path / "x4.pt")
    save_model(LatentDenoiser(DenoiserConfig(latent_channels=m.config.base.latent_channels, width=16)),
               tmp_path / "den.pt", meta={"schedule": NoiseSchedule().to_dict()})
    for d, n in (("photos", 3), ("eval", 2)):
        (tmp_path / d).mkdir()
        for i in range(n):
            arr = (np.random.default_rng(i).random((136, 144, 3)) * 255).astype(np.uint8)
            Image.fromarray(arr).save(tmp_path / d / f"{i}.png")
    kw = dict(data=str(tmp_path / "eval"), snrs=[0.0], ddim_steps=[1], cm_steps=[], show_progress=False)
    rows = run_diffusion_eval(str(tmp_path / "x4.pt"), str(tmp_path / "den.pt"), None,
                              upsampler_starts=("calibrated", "upsampler", "forward"), calib_data=str(tmp_path / "photos"),
                              **kw)
    got = [(r["receiver"], r["start"]) for r in rows]
    assert got == [("decoder", "matched"), ("decoder-cond", "upsampler-calibrated"), ("ddim", "upsampler-calibrated"),
                   ("ddim", "upsampler-var"), ("ddim", "upsampler-forward")]
    assert [c["snr_db"] for c in rows[2]["upsampler_calibration"]] == [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0]
    assert rows[4]["upsampler_calibration"] == rows[2]["upsampler_calibration"]  # one calibration, both starts
    only_fw = run_diffusion_eval(str(tmp_path / "x4.pt"), str(tmp_path / "den.pt"), None, upsampler_starts=("forward",),
                                 calib_data=str(tmp_path / "photos"), **kw)
    assert [(r["receiver"], r["start"]) for r in only_fw] == [
        ("decoder", "matched"), ("decoder-cond", "upsampler-var"), ("ddim", "upsampler-forward")]
    assert only_fw[1]["psnr"] == pytest.approx(rows[1]["psnr"], abs=1e-6)  # decoder-cond never divides by the gain
    with pytest.raises(JsccInputError, match="pass --calib-data"):
        run_diffusion_eval(str(tmp_path / "x4.pt"), str(tmp_path / "den.pt"), None, **kw)
    with pytest.raises(JsccInputError, match="--noise-start-steps \\[4\\]"):
        run_diffusion_eval(str(tmp_path / "x4.pt"), str(tmp_path / "den.pt"), None, noise_start_steps=[4],
                           calib_data=str(tmp_path / "photos"), **kw)
