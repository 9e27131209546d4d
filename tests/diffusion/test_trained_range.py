"""A start step outside the denoiser's trained range warns (never raises), naming the SNRs, steps and range."""
from __future__ import annotations

import warnings

import pytest
import torch

from jscc_rt.diffusion import DenoiserConfig, DiffusionReceiver, LatentDenoiser, NoiseSchedule, ReceiverConfig
from jscc_rt.diffusion.receiver import snr_db_of_alpha_bar, trained_snr_range_db


def _receiver(meta: dict | None) -> DiffusionReceiver:
    net = LatentDenoiser(DenoiserConfig(latent_channels=8, width=16)).eval()
    if meta is not None:
        net.meta = meta  # what load_model attaches from the checkpoint
    return DiffusionReceiver(net, NoiseSchedule(), ReceiverConfig(steps=2))


def _alpha_bar(snr_db: list[float]) -> torch.Tensor:
    lin = torch.pow(10.0, torch.tensor(snr_db, dtype=torch.float64) / 10)
    return lin / (1 + lin)


def test_snr_of_alpha_bar_inverts_the_matched_level() -> None:
    torch.testing.assert_close(snr_db_of_alpha_bar(_alpha_bar([-7.0, 0.0, 23.5])),
                               torch.tensor([-7.0, 0.0, 23.5], dtype=torch.float64))


def test_inside_the_range_is_silent_and_outside_warns_with_values() -> None:
    rx = _receiver({"train_config": {"snr_min_db": -5.0, "snr_max_db": 20.0}})
    assert rx.trained_snr_db == (-5.0, 20.0)
    x = torch.randn(2, 8, 4, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rx.denoise(x, _alpha_bar([-5.0, 20.0]).float(), torch.tensor([-5.0, 20.0]))
    with pytest.warns(UserWarning) as rec:
        out = rx.denoise(x, _alpha_bar([-12.0, 3.0]).float(), torch.tensor([-12.0, 3.0]))
    msg = str(rec[0].message)
    assert "-12.00 .. 3.00 dB" in msg and "[-5, 20] dB" in msg and "start steps" in msg and "steps=0" in msg
    assert torch.isfinite(out).all()  # warned, still decoded
    with pytest.warns(UserWarning, match=r"26\.00 dB"):
        rx.denoise(x, _alpha_bar([26.0]).float(), torch.tensor([26.0]))


def test_checkpoint_without_range_does_not_warn() -> None:
    rx = _receiver(None)
    assert rx.trained_snr_db is None and trained_snr_range_db(rx.model) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rx.denoise(torch.randn(1, 8, 4, 4), _alpha_bar([-15.0]).float(), torch.tensor([-15.0]))


def test_embedded_receiver_warns_from_the_shipped_denoiser_range() -> None:
    from jscc_rt import Receiver

    r = Receiver.from_checkpoints("vae-1_16", "denoiser-vae-1_16", steps=1)
    assert r.trained_snr_db == (-5.0, 20.0)
    y = torch.randn(1, 24 * 8 * 8 // 2, 2) * 0.7  # 64x64 pixels, stride 8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r(y, 10.0, image_size=(64, 64))
    with pytest.warns(UserWarning, match=r"-9\.00 .. -9\.00 dB"):
        img = r(y, -9.0, image_size=(64, 64))
    assert img.shape == (1, 3, 64, 64)
    dec = Receiver.from_checkpoints("vae-1_16")  # decoder alone: no denoiser, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dec(y, -9.0, image_size=(64, 64))
