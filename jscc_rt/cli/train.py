"""``jscc-rt train jscc|diffusion|receiver|compress|compress-decoder|noma`` (today's spellings ``train``, ``train-diffusion``,
``train-compress`` and ``train-noma`` stay as aliases)."""
from __future__ import annotations

import argparse
import json

from jscc_rt._validate import JsccInputError
from jscc_rt.cli.common import add_config_options, add_kind_group, add_precision_args, config_from_args, decoder_snr

#: ``jscc-rt train KIND``: what each kind trains.
KINDS = {"jscc": "a Deep JSCC / VAE-JSCC / unrolled model (SNR-adaptive, resumable, bf16 on CPU, torchrun DDP)",
         "diffusion": "the latent denoiser and its consistency student for a JSCC model",
         "receiver": "tune a consistency student on the receiver's own k-step plans (more steps, better latents)",
         "compress": "VAE bandwidth compression (2x / 4x fewer channel uses) on a VAE-JSCC",
         "compress-decoder": "fine-tune a compressed link's base decoder behind its diffusion receiver (or its "
                             "upsampler alone: the control)",
         "noma": "a two-user NOMA student from a single-user teacher, with or without distillation"}


def add(sub: argparse._SubParsersAction) -> None:
    adders = {"jscc": _add_jscc, "diffusion": _add_diffusion, "receiver": _add_receiver, "compress": _add_compress,
              "compress-decoder": _add_compress_decoder, "noma": _add_noma}
    add_kind_group(sub, "train", {k: (h, adders[k]) for k, h in KINDS.items()}, ("diffusion", "compress", "noma"))


def _run_options(p: argparse.ArgumentParser) -> None:
    add_precision_args(p)
    p.add_argument("--out", required=True, help="output folder (checkpoint, config, log, val_curve.png)")
    p.add_argument("--no-progress", action="store_true")


def _add_jscc(p: argparse.ArgumentParser) -> None:
    from jscc_rt.train.config import LOSSES, TrainConfig

    d = TrainConfig()
    p.add_argument("--model", choices=("deepjscc", "vae", "unrolled"), default=d.model)
    p.add_argument("--ratio", default=d.ratio, help="bandwidth ratio k/n, e.g. 1/16 or 1/6")
    p.add_argument("--data", default=None, help="training photos folder or data root (default: $JSCC_DATA, else embedded)")
    p.add_argument("--val-data", default=None, help="Kodak folder or data root for validation")
    p.add_argument("--min-ratio", default=None,
                   help="train one rate-adaptive model sending any ratio from this to --ratio, chosen at run time "
                        "(unrolled only; e.g. --ratio 1/4 --min-ratio 1/64)")
    p.add_argument("--channel", choices=("awgn", "rayleigh", "mixed"), default=d.channel,
                   help="mixed: AWGN or Rayleigh block fading, drawn per step")
    p.add_argument("--rayleigh-share", type=float, default=None,
                   help="--channel mixed: the share of steps over Rayleigh block fading (default 0.5)")
    p.add_argument("--ladder-weights", type=_weights, default=None,
                   help="rate-adaptive: how often each ladder ratio is drawn, one weight per ratio from --min-ratio "
                        "to --ratio (ascending), e.g. 1,1,1,1,2,2,3 for 1/64..1/4 (default: equally often)")
    add_config_options(p, TrainConfig, ("width", "downsample", "crop", "batch_size", "steps", "warmup", "seed",
                                        "val_every", "val_images", "ckpt_every", "threads", "unroll_iters", "lr",
                                        "lr_min", "snr_min_db", "snr_max_db", "beta_kl", "val_snr_db"))
    p.add_argument("--loss", choices=LOSSES, default=d.loss,
                   help="mse: the batch MSE; log-mse: its logarithm, so each step weighs by its relative error (the "
                        "small budgets of a rate-adaptive run no longer dominate the gradient)")
    p.add_argument("--arch", choices=("gdn", "res"), default=d.arch, help="deepjscc/vae: GDN or residual blocks")
    p.add_argument("--decoder-blocks", type=int, default=None,
                   help="unrolled: residual blocks in the synthesis network at H/4 (default 0); an --init model with "
                        "fewer starts them as the identity")
    p.add_argument("--upsample", choices=("deconv", "subpixel"), default=d.upsample,
                   help="decoder upsampling: transposed convs or sub-pixel convs (run in bf16/int8 on every backend)")
    p.add_argument("--scale", type=float, default=d.scale,
                   help="resize the training photos by this factor first (0.6 frames them like Kodak)")
    p.add_argument("--init", default=None, help="start from these weights (same architecture, path or shipped name; a "
                                                "fixed-rate model can seed a rate-adaptive one of the same width)")
    p.add_argument("--denoiser", default=None,
                   help="fine-tune the --init model's decoder behind this denoiser or consistency student (encoder "
                        "frozen; the decoder sees what the diffusion receiver outputs)")
    p.add_argument("--denoise-steps", type=int, default=1, help="sampler steps of that receiver (default 1)")
    p.add_argument("--freeze-encoder", action="store_true", default=None,
                   help="fine-tune only the --init model's decoder, on the received latent (the control of a "
                        "--denoiser run: same steps, no denoiser)")
    p.add_argument("--decoder-snr", dest="decoder_snr_db", type=decoder_snr, default=d.decoder_snr_db,
                   help=f"with --denoiser: the SNR (dB) the decoder is conditioned on behind it (default "
                        f"{d.decoder_snr_db:g}), or 'effective' = the channel's effective SNR (recorded in model.pt; "
                        "evaluate with the same --decoder-snr)")
    p.add_argument("--ema", type=float, default=0.999,
                   help="EMA decay of the weights that are validated and saved as model.pt (0 = raw weights; "
                        "warm-up min(decay, (1+n)/(10+n)) at step n); the raw weights stay in train_state.pt")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: CUDA when available (cuda:LOCAL_RANK under torchrun), else CPU")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/train_state.pt (same flags; bit-exact on the same machine)")
    p.add_argument("--allow-precision-change", action="store_true",
                   help="with --resume: the state may have been trained under another --precision / channels-last "
                        "(e.g. a bf16 run continued in fp32 on a CPU without bf16); recorded as precision_segments "
                        "in model.json, and the run is no longer bit-exact with an uninterrupted one")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after this many total steps with a checkpoint (continue later with --resume)")
    _run_options(p)
    p.set_defaults(func=_cmd_jscc)


def _weights(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers "
                                         "(e.g. 1,1,1,1,2,2,3)") from None


def _cmd_jscc(a: argparse.Namespace) -> int:
    from jscc_rt.train import TrainConfig, train
    from jscc_rt.train.stop import exit_status

    if a.allow_precision_change and not a.resume:
        raise JsccInputError("--allow-precision-change only applies with --resume (it lets a saved run continue "
                             "under another --precision); add --resume or drop it")
    cfg = config_from_args(TrainConfig, a)
    res = train(cfg, a.out, resume=a.resume, show_progress=not a.no_progress, stop_after=a.stop_after,
                allow_precision_change=a.allow_precision_change)
    if "rank" not in res:  # under torchrun only rank 0 reports
        run = ("step", "steps_per_s", "cpu_time_s", "precision", "channels_last", "ema", "world_size", "stopped")
        print(json.dumps({"out": a.out, "val": {k: v for k, v in res.items() if k not in run},
                          **{k: res[k] for k in run if k in res}}))
    return exit_status("jscc", a.out, res, cfg.steps)


def _add_diffusion(p: argparse.ArgumentParser) -> None:
    from jscc_rt.train.diffusion import DiffusionTrainConfig

    p.add_argument("--jscc", required=True, help="JSCC checkpoint (or shipped name) whose encoder makes the latents")
    p.add_argument("--data", default=None, help="training photos folder or data root (default: $JSCC_DATA, else embedded)")
    p.add_argument("--schedule", choices=("linear", "cosine"), default=DiffusionTrainConfig().schedule)
    p.add_argument("--teacher", default=None, help="start from this trained denoiser (denoiser.pt of a run on the same "
                   "JSCC model); with --steps 0 the run only distills its consistency student")
    add_config_options(p, DiffusionTrainConfig, ("crop", "n_latents", "latent_crop", "batch_size", "steps", "width",
                                                 "cd_steps", "cd_grid", "seed", "threads", "lr", "snr_min_db",
                                                 "snr_max_db", "p_full_range", "cd_ema", "cd_lr", "ckpt_every"))
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/train_state.pt (same flags; bit-exact on the same machine)")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after this many steps in all (denoiser, then distillation) with a checkpoint")
    _run_options(p)
    p.set_defaults(func=_cmd_diffusion)


def _cmd_diffusion(a: argparse.Namespace) -> int:
    from jscc_rt.train.diffusion import DiffusionTrainConfig, train_diffusion
    from jscc_rt.train.stop import exit_status

    cfg = config_from_args(DiffusionTrainConfig, a)
    res = train_diffusion(cfg, a.out, show_progress=not a.no_progress, resume=a.resume, stop_after=a.stop_after)
    print(json.dumps(res))
    return exit_status("diffusion", a.out, res, cfg.steps + cfg.cd_steps)


def _add_receiver(p: argparse.ArgumentParser) -> None:
    from jscc_rt.train.receiver_tune import ReceiverTuneConfig

    p.add_argument("--jscc", required=True, help="JSCC checkpoint (or shipped name) whose encoder makes the latents")
    p.add_argument("--student", required=True, help="consistency student to tune (consistency.pt, or shipped name)")
    p.add_argument("--data", default=None, help="training photos folder or data root (default: $JSCC_DATA, else embedded)")
    add_config_options(p, ReceiverTuneConfig, ("crop", "n_latents", "latent_crop", "batch_size", "steps", "lr",
                                               "plan_steps", "eta", "snr_min_db", "snr_max_db", "seed", "threads",
                                               "ckpt_every", "val_every"),
                       help={"plan_steps": "sampler step counts trained together, comma-separated",
                             "eta": "the consistency sampler's re-noising (0 deterministic, 1 fresh noise)"})
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/train_state.pt (same flags; bit-exact on the same machine)")
    p.add_argument("--stop-after", type=int, default=None, help="stop after this many steps with a checkpoint")
    _run_options(p)
    p.set_defaults(func=_cmd_receiver)


def _cmd_receiver(a: argparse.Namespace) -> int:
    from jscc_rt.train.receiver_tune import ReceiverTuneConfig, tune_receiver
    from jscc_rt.train.stop import exit_status

    cfg = config_from_args(ReceiverTuneConfig, a)
    res = tune_receiver(cfg, a.out, show_progress=not a.no_progress, resume=a.resume, stop_after=a.stop_after)
    print(json.dumps(res))
    return exit_status("receiver", a.out, res, cfg.steps)


def _add_compress(p: argparse.ArgumentParser) -> None:
    from jscc_rt.train.compress import CompressTrainConfig

    p.add_argument("--base", required=True, help="trained VAE-JSCC checkpoint (frozen; path or shipped name)")
    p.add_argument("--factor", type=int, choices=(2, 4), default=CompressTrainConfig().factor)
    p.add_argument("--data", default=None)
    p.add_argument("--val-data", default=None)
    add_config_options(p, CompressTrainConfig, ("width", "crop", "batch_size", "steps", "seed", "val_every",
                                                "val_images", "threads", "lr", "lambda_mse", "gamma_kl", "snr_min_db",
                                                "snr_max_db"))
    _run_options(p)
    p.set_defaults(func=_cmd_compress)


def _cmd_compress(a: argparse.Namespace) -> int:
    from jscc_rt.train.compress import CompressTrainConfig, train_compress

    val = train_compress(config_from_args(CompressTrainConfig, a), a.out, show_progress=not a.no_progress)
    print(json.dumps({"out": a.out, "val": val}))
    return 0


def _add_compress_decoder(p: argparse.ArgumentParser) -> None:
    from jscc_rt.diffusion.upsampler_start import START_VARIANCES
    from jscc_rt.train.compress_decoder import CompressDecoderTuneConfig

    d = CompressDecoderTuneConfig()
    p.add_argument("--link", required=True, help="compressed link checkpoint (vae-1_16-x2 / -x4, path or shipped name)")
    p.add_argument("--denoiser", default=None,
                   help="the base model's denoiser: the decoder trains on its estimates (omit: on the upsampler's "
                        "output, the control)")
    p.add_argument("--start", choices=START_VARIANCES, default=d.start, help="where diffusion starts after the upsampler")
    p.add_argument("--calib-data", default=None, help="photos the calibrated / forward start is measured on")
    p.add_argument("--decoder-snr", type=decoder_snr, default=None,
                   help="SNR (dB) the decoder is conditioned on behind the denoiser (default: 'effective')")
    p.add_argument("--data", default=None)
    p.add_argument("--val-data", default=None)
    add_config_options(p, CompressDecoderTuneConfig, ("denoise_steps", "crop", "batch_size", "steps", "lr", "lr_min",
                                                      "warmup", "snr_min_db", "snr_max_db", "ema", "seed", "val_every",
                                                      "val_images", "val_snr_db", "ckpt_every", "threads"))
    p.add_argument("--resume", action="store_true", help="continue from OUT/train_state.pt (same flags)")
    p.add_argument("--stop-after", type=int, default=None, help="stop after this many steps with a checkpoint")
    _run_options(p)
    p.set_defaults(func=_cmd_compress_decoder)


def _cmd_compress_decoder(a: argparse.Namespace) -> int:
    from jscc_rt.train.compress_decoder import CompressDecoderTuneConfig, tune_compress_decoder
    from jscc_rt.train.stop import exit_status

    cfg = config_from_args(CompressDecoderTuneConfig, a, decoder_snr_db=a.decoder_snr)
    res = tune_compress_decoder(cfg, a.out, show_progress=not a.no_progress, resume=a.resume, stop_after=a.stop_after)
    print(json.dumps(res))
    return exit_status("compress-decoder", a.out, res, cfg.steps)


def _add_noma(p: argparse.ArgumentParser) -> None:
    from jscc_rt.train.noma import NOMATrainConfig

    p.add_argument("--teacher", default=NOMATrainConfig().teacher, help="single-user JSCC checkpoint (or shipped name)")
    p.add_argument("--no-sic", dest="sic", action="store_false", help="user 2 treats user 1 as noise")
    p.add_argument("--no-kd", action="store_true", help="train without distillation (kd weights 0)")
    p.add_argument("--data", default=None)
    p.add_argument("--val-data", default=None)
    add_config_options(p, NOMATrainConfig, ("crop", "batch_size", "steps", "seed", "val_every", "val_images",
                                            "threads", "lr", "kd_feature", "kd_output", "snr_min_db", "snr_max_db",
                                            "a1_min", "a1_max"))
    _run_options(p)
    p.set_defaults(func=_cmd_noma)


def _cmd_noma(a: argparse.Namespace) -> int:
    from jscc_rt.train.noma import NOMATrainConfig, train_noma

    cfg = config_from_args(NOMATrainConfig, a, **({"kd_feature": 0.0, "kd_output": 0.0} if a.no_kd else {}))
    print(json.dumps(train_noma(cfg, a.out, show_progress=not a.no_progress)))
    return 0
