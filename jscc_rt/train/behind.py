"""Fine-tuning a model's decoder behind a frozen diffusion receiver (``jscc-rt train --denoiser``), and its control
(``--freeze-encoder``: the same fine-tune on the received latent): what :func:`jscc_rt.train.jscc.train` freezes and
records for them."""
from __future__ import annotations

from jscc_rt.diffusion.receiver import DiffusionReceiver
from jscc_rt.models import JSCCModel
from jscc_rt.train.config import TrainConfig


def cond_text(decoder_snr_db: float | None) -> str:
    """How ``model.json`` names the decoder's conditioning behind the receiver (None: the effective SNR)."""
    return "the effective SNR" if decoder_snr_db is None else f"{decoder_snr_db:g} dB"


def freeze_encoder(cfg: TrainConfig, model: JSCCModel) -> str:
    """Stop the encoder's gradients (the decoder-only control of a ``--denoiser`` fine-tune); returns the sha256 of
    the ``--init`` checkpoint, whose encoder the fine-tuned model keeps bit for bit."""
    from jscc_rt.models.checkpoint import file_sha256
    from jscc_rt.models.registry import resolve_checkpoint

    for p in model.encoder.parameters():
        p.requires_grad_(False)
    return file_sha256(resolve_checkpoint(cfg.init))


def frozen_receiver(cfg: TrainConfig, model: JSCCModel) -> tuple[DiffusionReceiver, str]:
    """The frozen receiver a decoder fine-tune trains behind, and the sha256 of the ``--init`` checkpoint (whose
    encoder, frozen, the fine-tuned model keeps). The encoder's parameters stop requiring gradients."""
    from jscc_rt.diffusion import NoiseSchedule, ReceiverConfig
    from jscc_rt.models import load_model
    from jscc_rt.models.checkpoint import check_denoiser_pairing, file_sha256
    from jscc_rt.models.registry import resolve_checkpoint

    jpath, dpath = resolve_checkpoint(cfg.init), resolve_checkpoint(cfg.denoiser)
    den = load_model(dpath, expect="DenoiserConfig").eval()
    check_denoiser_pairing(model, jpath, den, dpath)
    for p in [*den.parameters(), *model.encoder.parameters()]:
        p.requires_grad_(False)
    sampler = "consistency" if den.meta.get("parameterization") == "consistency" else "ddim"  # type: ignore[attr-defined]
    rx = DiffusionReceiver(den, NoiseSchedule(**den.meta["schedule"]),  # type: ignore[attr-defined]
                           ReceiverConfig(sampler=sampler, steps=cfg.denoise_steps))  # type: ignore[arg-type]
    return rx, file_sha256(jpath)
