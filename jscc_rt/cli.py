"""The ``jscc-rt`` command line (also ``python -m jscc_rt``). Every entry point is ``main(argv=None) -> int``."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from jscc_rt._validate import JsccInputError
from jscc_rt.runtime.base import RunnerUnavailable


def _emit(out: str | None, stem: str, data: object, md: str) -> int:
    """Print ``md``; with ``out``, also write ``out/stem.json`` and ``out/stem.md``."""
    if out:
        from pathlib import Path

        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        (o / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n")
        (o / f"{stem}.md").write_text(md + "\n")
        (o / f"{stem}.partial.jsonl").unlink(missing_ok=True)  # rows written as they finished: now complete
    print(md)
    return 0


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="link-level simulation: uncoded BER and measured SNR vs theory, or a model's link")
    p.add_argument("--channel", choices=("awgn", "rayleigh"), default="awgn")
    p.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0, 10.0], help="SNRs in dB")
    p.add_argument("--symbols", type=int, default=1 << 18, help="complex symbols per SNR")
    p.add_argument("--block-len", type=int, default=None, help="Rayleigh: symbols per fading block (1 = fast fading)")
    p.add_argument("--csi-err-var", type=float, default=0.0, help="Rayleigh: channel-estimation error variance")
    p.add_argument("--equalizer", choices=("zf", "mmse"), default="zf")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--model", default=None, help="JSCC checkpoint (or shipped name): simulate the image link instead")
    p.add_argument("--denoiser", default=None, help="denoiser or consistency checkpoint for the diffusion receiver")
    p.add_argument("--steps", type=int, default=0, help="diffusion steps (0: JSCC decoder alone)")
    p.add_argument("--sampler", choices=("ddim", "ddpm", "consistency"), default="ddim")
    p.add_argument("--data", default=None, help="image folder / data root (default: $JSCC_DATA, else embedded)")
    p.add_argument("--max-images", type=int, default=None, help="--model: evaluate only the first N images")
    p.set_defaults(func=_cmd_simulate)


def _cmd_simulate(a: argparse.Namespace) -> int:
    from jscc_rt._validate import check_block_len, check_csi_err_var, check_int, check_snr_db
    from jscc_rt.sim import simulate_link

    check_snr_db(a.snr, len(a.snr), name="snr_db")
    check_block_len(a.block_len)
    check_csi_err_var(a.csi_err_var)
    check_int(a.symbols, "--symbols", minimum=1)
    if a.model is not None:
        return _simulate_model(a)
    rows = simulate_link(a.channel, a.snr, a.symbols, block_len=a.block_len, csi_err_var=a.csi_err_var,
                         equalizer=a.equalizer, seed=a.seed)
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"link simulation: {a.channel}, {a.symbols} symbols/SNR, equalizer={a.equalizer}, seed={a.seed}")
    print(f"{'SNR dB':>7} {'meas. SNR':>10} {'post-eq SNR':>12} {'BPSK BER':>10} {'theory':>10} {'QPSK BER':>10} {'theory':>10}")
    for r in rows:
        print(f"{r['snr_db']:7.1f} {r['measured_snr_db']:10.3f} {r['post_eq_snr_db']:12.3f} {r['ber_bpsk']:10.3e} "
              f"{r['ber_bpsk_theory']:10.3e} {r['ber_qpsk']:10.3e} {r['ber_qpsk_theory']:10.3e}")
    return 0


def _simulate_model(a: argparse.Namespace) -> int:
    from jscc_rt.eval.diffusion_eval import build_link, eval_link

    link = build_link(a.model, a.denoiser, a.sampler, a.steps, channel=a.channel, block_len=a.block_len,
                      csi_err_var=a.csi_err_var, equalizer=a.equalizer)
    rows = eval_link(link, a.data, a.snr, seed=a.seed, max_images=a.max_images)
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    what = "JSCC decoder alone" if a.steps == 0 or a.denoiser is None else f"{a.sampler} x {a.steps} steps"
    print(f"image link: {a.model}, {a.channel}, receiver: {what}, images: {rows[0]['eval_set']} ({rows[0]['n']})")
    print(f"{'SNR dB':>7} {'PSNR dB':>8} {'MS-SSIM':>8} {'ms/img':>8}")
    for r in rows:
        ms = "n/a" if r["ms_ssim"] is None else f"{r['ms_ssim']:.4f}"
        print(f"{r['snr_db']:7.1f} {r['psnr']:8.2f} {ms:>8} {r['latency_ms']:8.1f}")
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    from jscc_rt.train.config import TrainConfig

    d = TrainConfig()
    p = sub.add_parser("train", help="train a Deep JSCC / VAE-JSCC model")
    p.add_argument("--model", choices=("deepjscc", "vae", "unrolled"), default=d.model)
    p.add_argument("--ratio", default=d.ratio, help="bandwidth ratio k/n, e.g. 1/16 or 1/6")
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--downsample", type=int, default=d.downsample)
    p.add_argument("--data", default=None, help="training photos folder or data root (default: $JSCC_DATA, else embedded)")
    p.add_argument("--val-data", default=None, help="Kodak folder or data root for validation")
    p.add_argument("--channel", choices=("awgn", "rayleigh"), default=d.channel)
    for name in ("crop", "batch_size", "steps", "warmup", "seed", "val_every", "val_images", "ckpt_every", "threads",
                 "unroll_iters"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("lr", "lr_min", "snr_min_db", "snr_max_db", "beta_kl", "val_snr_db"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    p.add_argument("--arch", choices=("gdn", "res"), default=d.arch, help="deepjscc/vae: GDN or residual blocks")
    p.add_argument("--upsample", choices=("deconv", "subpixel"), default=d.upsample,
                   help="decoder upsampling: transposed convs or sub-pixel convs (run in bf16/int8 on every backend)")
    p.add_argument("--scale", type=float, default=d.scale,
                   help="resize the training photos by this factor first (0.6 frames them like Kodak)")
    p.add_argument("--init", default=None, help="start from these weights (same architecture)")
    _add_precision_args(p)
    p.add_argument("--ema", type=float, default=0.999,
                   help="EMA decay of the weights that are validated and saved as model.pt (0 = raw weights; "
                        "warm-up min(decay, (1+n)/(10+n)) at step n); the raw weights stay in train_state.pt")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: CUDA when available (cuda:LOCAL_RANK under torchrun), else CPU")
    p.add_argument("--out", required=True, help="output folder (checkpoint, config, log, val_curve.png)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/train_state.pt (same flags; bit-exact on the same machine)")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after this many total steps with a checkpoint (continue later with --resume)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_train)


def _add_precision_args(p: argparse.ArgumentParser) -> None:
    """``--precision`` and ``--channels-last`` for every training command (jscc_rt.train.precision)."""
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="auto: bf16 on CPUs with AVX512-BF16/AMX and on bf16 GPUs, else fp32 (fp16 on older GPUs); "
                        "bf16/fp16 autocast the forward pass with fp32 master weights; the resolved value is recorded")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory layout (default: on with bf16/fp16, off with fp32)")


def _cmd_train(a: argparse.Namespace) -> int:
    from jscc_rt.train import TrainConfig, train

    keys = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{k: getattr(a, k) for k in keys if hasattr(a, k)})
    res = train(cfg, a.out, resume=a.resume, show_progress=not a.no_progress, stop_after=a.stop_after)
    if "rank" not in res:  # under torchrun only rank 0 reports
        run = ("step", "steps_per_s", "precision", "channels_last", "ema", "world_size")
        print(json.dumps({"out": a.out, "val": {k: v for k, v in res.items() if k not in run},
                          **{k: res[k] for k in run}}))
    return 0


def _add_train_diffusion(sub: argparse._SubParsersAction) -> None:
    from jscc_rt.train.diffusion import DiffusionTrainConfig

    d = DiffusionTrainConfig()
    p = sub.add_parser("train-diffusion", help="train the latent denoiser and distill the consistency student")
    p.add_argument("--jscc", required=True, help="JSCC checkpoint whose encoder produces the latents")
    p.add_argument("--data", default=None, help="training photos folder or data root (default: $JSCC_DATA, else embedded)")
    p.add_argument("--schedule", choices=("linear", "cosine"), default=d.schedule)
    for name in ("crop", "n_latents", "latent_crop", "batch_size", "steps", "width", "cd_steps", "cd_grid", "seed",
                 "threads"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("lr", "snr_min_db", "snr_max_db", "p_full_range", "cd_ema", "cd_lr"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    _add_precision_args(p)
    p.add_argument("--out", required=True)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_train_diffusion)


def _cmd_train_diffusion(a: argparse.Namespace) -> int:
    from jscc_rt.train.diffusion import DiffusionTrainConfig, train_diffusion

    cfg = DiffusionTrainConfig(**{k: getattr(a, k) for k in DiffusionTrainConfig.__dataclass_fields__ if hasattr(a, k)})
    print(json.dumps(train_diffusion(cfg, a.out, show_progress=not a.no_progress)))
    return 0


def _add_train_compress(sub: argparse._SubParsersAction) -> None:
    from jscc_rt.train.compress import CompressTrainConfig

    d = CompressTrainConfig()
    p = sub.add_parser("train-compress", help="VAE bandwidth compression (2x / 4x fewer channel uses) on a VAE-JSCC")
    p.add_argument("--base", required=True, help="trained VAE-JSCC checkpoint (frozen)")
    p.add_argument("--factor", type=int, choices=(2, 4), default=d.factor)
    p.add_argument("--data", default=None)
    p.add_argument("--val-data", default=None)
    for name in ("width", "crop", "batch_size", "steps", "seed", "val_every", "val_images", "threads"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("lr", "lambda_mse", "gamma_kl", "snr_min_db", "snr_max_db"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    _add_precision_args(p)
    p.add_argument("--out", required=True)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_train_compress)


def _cmd_train_compress(a: argparse.Namespace) -> int:
    from jscc_rt.train.compress import CompressTrainConfig, train_compress

    cfg = CompressTrainConfig(**{k: getattr(a, k) for k in CompressTrainConfig.__dataclass_fields__ if hasattr(a, k)})
    print(json.dumps({"out": a.out, "val": train_compress(cfg, a.out, show_progress=not a.no_progress)}))
    return 0


def _decoder_snr(text: str) -> float | None:
    if text == "effective":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in dB or 'effective', got {text!r}") from None


def _add_decoder_snr(p: argparse.ArgumentParser) -> None:
    """``--decoder-snr``: the decoder's conditioning after diffusion denoising, the recommended value by default."""
    from jscc_rt.diffusion.receiver import DECODER_SNR_AFTER_DENOISING_DB as rec

    p.add_argument("--decoder-snr", type=_decoder_snr, default=rec,
                   help=f"SNR (dB) the decoder is conditioned on after denoising (default {rec:g}, recommended); "
                        "'effective' = the channel's effective SNR")


def _add_image_args(p: argparse.ArgumentParser) -> None:
    """``--max-images``, ``--save-recon`` and ``--max-pixels`` for the evaluation commands."""
    from jscc_rt.data.images import DEFAULT_MAX_PIXELS

    p.add_argument("--max-images", type=int, default=None, help="evaluate only the first N images (sorted by name)")
    p.add_argument("--save-recon", type=int, default=0, metavar="N",
                   help="write reconstructions and original|reconstruction strips of the N worst and N best images "
                        "by PSNR to OUT/recon/ (needs --out)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse images with more pixels than this (default {DEFAULT_MAX_PIXELS} = 4096x4096)")


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="PSNR / SSIM / MS-SSIM vs SNR table and plot for trained models")
    p.add_argument("checkpoints", nargs="+", help="model .pt files (or names of shipped weights, e.g. deepjscc-1_16)")
    p.add_argument("--data", default=None, help="any image folder (the set is named after it; 'kodak' for exactly "
                   "kodim01..24) or a root holding kodak/ (default: $JSCC_DATA, else embedded images)")
    _add_image_args(p)
    p.add_argument("--snr", type=float, nargs="+", default=[-5.0, 0.0, 5.0, 10.0, 15.0, 20.0])
    p.add_argument("--channel", choices=("awgn", "rayleigh"), nargs="+", default=["awgn", "rayleigh"])
    p.add_argument("--draws", type=int, default=None, help="channel draws per image (default 1 AWGN, 4 Rayleigh)")
    p.add_argument("--equalizer", choices=("zf", "mmse"), default="zf")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="folder for results.json, table.md and psnr_vs_snr.png")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_eval)


def _cmd_eval(a: argparse.Namespace) -> int:
    from jscc_rt.eval.report import run_eval

    table = run_eval(a.checkpoints, data=a.data, snrs=a.snr, channels=a.channel, draws=a.draws,
                     equalizer=a.equalizer, seed=a.seed, out=a.out, show_progress=not a.no_progress,
                     max_images=a.max_images, save_recon=a.save_recon, max_pixels=a.max_pixels)
    print(table)
    return 0


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks (kernels: fused vs eager vs torch.compile bandwidth)")
    bsub = p.add_subparsers(dest="bench_command", required=True, metavar="BENCH")
    k = bsub.add_parser("kernels", help="channel op and sampler step: latency and GB/s vs copy bandwidth")
    k.add_argument("--device", default="cuda" if _cuda() else "cpu")
    k.add_argument("--batch", type=int, nargs="+", default=[1, 16, 64])
    k.add_argument("--iters", type=int, default=20, help="timed runs per point (after 3 warm-up runs)")
    k.add_argument("--out", default=None, help="write kernels.json and kernels.md here")
    k.set_defaults(func=_cmd_bench_kernels)
    pa = bsub.add_parser("pareto", help="latency-quality Pareto frontier over steps x sampler x backend x SNR")
    pa.add_argument("--model", default="deepjscc-1_16")
    pa.add_argument("--denoiser", default=None)
    pa.add_argument("--consistency", default=None)
    pa.add_argument("--data", default=None)
    pa.add_argument("--steps", type=int, nargs="+", default=[0, 1, 2, 4, 8, 16, 50])
    pa.add_argument("--samplers", nargs="+", default=["ddim", "consistency"])
    pa.add_argument("--backends", nargs="+", default=["torch", "torch-bf16", "compile", "onnxruntime", "onnxruntime-int8",
                                                      "openvino", "openvino-bf16", "tensorrt", "torch-fused"],
                    help="backends timed side by side (those that cannot run here are listed as skipped)")
    pa.add_argument("--threads", type=int, default=0, help="intra-op threads of every backend (0: one per CPU)")
    pa.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0, 10.0])
    pa.add_argument("--iters", type=int, default=20)
    pa.add_argument("--max-images", type=int, default=None)
    pa.add_argument("--save-recon", type=int, default=0, metavar="N",
                    help="write the torch backend's reconstructions and original|reconstruction strips of the N worst "
                         "and N best images per receiver and SNR to OUT/recon/")
    _add_decoder_snr(pa)
    pa.add_argument("--extra-models", nargs="*", default=[],
                    help="further JSCC checkpoints swept as decoder-only receivers (e.g. unrolled-1_16 deepjscc-1_16)")
    pa.add_argument("--noma", default=None, help="a train-noma checkpoint: its two receivers join as rows")
    pa.add_argument("--noma-split", type=float, default=0.8, help="user 1's power share for the NOMA rows")
    pa.add_argument("--latency-snr", type=float, default=None,
                    help="time each plan once at this SNR and reuse it at the others (same graph, same work)")
    pa.add_argument("--device", default="cuda" if _cuda() else "cpu")
    pa.add_argument("--out", default="out/pareto")
    pa.set_defaults(func=_cmd_bench_pareto)


def _cmd_bench_pareto(a: argparse.Namespace) -> int:
    from pathlib import Path

    from jscc_rt._partial import PartialRows
    from jscc_rt.bench.pareto import run_pareto, write_outputs
    from jscc_rt.eval.recon import ReconSaver, check_save_recon

    if 1 <= a.iters < 20:
        print(f"note: --iters {a.iters} < 20 timed runs; percentiles are rough", file=sys.stderr)
    res = run_pareto(a.model, a.denoiser, a.consistency, data=a.data, steps=a.steps, samplers=a.samplers,
                     backends=a.backends, snrs=a.snr, iters=a.iters, max_images=a.max_images, device=a.device,
                     decoder_snr_db=a.decoder_snr, latency_snr=a.latency_snr,
                     extra_models=a.extra_models, noma=a.noma, noma_split=a.noma_split, threads=a.threads,
                     progress=lambda s: print(f"  {s}", file=sys.stderr, flush=True),
                     on_rows=(partial := PartialRows(a.out, "pareto")).add,
                     recon=ReconSaver(Path(a.out) / "recon", n) if (n := check_save_recon(a.save_recon, a.out)) else None)
    print(write_outputs(res, a.out))
    partial.finish()
    return 0


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _cmd_bench_kernels(a: argparse.Namespace) -> int:
    from jscc_rt.bench.kernels import bench_kernels, markdown

    res = bench_kernels(a.device, a.batch, iters=a.iters, progress=lambda s: print(f"  {s}", file=sys.stderr))
    return _emit(a.out, "kernels", res, markdown(res))


def _add_kernels(sub: argparse._SubParsersAction) -> None:
    from jscc_rt.kernels.aot import ARCHS, DEFAULT_ARCHS, DEFAULT_OUT

    p = sub.add_parser("kernels", help="Triton kernels: compile every variant ahead of time (no GPU needed)")
    ksub = p.add_subparsers(dest="kernels_command", required=True, metavar="WHAT")
    c = ksub.add_parser("compile", help="every kernel variant for sm_90 / sm_120: registers, spills, vector loads")
    c.add_argument("--arch", nargs="+", default=list(DEFAULT_ARCHS), metavar="SM",
                   help=f"target architectures (valid: {', '.join(ARCHS)})")
    c.add_argument("--out", default=DEFAULT_OUT, help="write compile.json, compile.md and ARCH/*.ptx|cubin|sass here")
    c.add_argument("--kernels", nargs="+", default=None,
                   help="only these ops (tx_channel_rx, sampler_step) or kernels (_apply_kernel, ...)")
    c.add_argument("--dtypes", nargs="+", default=None, help="only these data dtypes (float32 float16 bfloat16)")
    c.add_argument("--no-artifacts", action="store_true", help="write only compile.json and compile.md")
    c.add_argument("--no-progress", action="store_true")
    c.set_defaults(func=_cmd_kernels_compile)


def _cmd_kernels_compile(a: argparse.Namespace) -> int:
    from jscc_rt.kernels.aot import AotCompileError, compile_variants, summary_markdown

    try:
        rows = compile_variants(a.arch, a.out, a.kernels, dtypes=a.dtypes, artifacts=not a.no_artifacts,
                                show_progress=not a.no_progress)
    except AotCompileError as e:
        print(f"jscc-rt kernels compile: error: {e}", file=sys.stderr)
        return 2
    print(summary_markdown(rows))
    print(f"{len(rows)} variants; {a.out}/compile.json, {a.out}/compile.md")
    return 0


def _add_eval_diffusion(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval-diffusion", help="decoder alone vs DDIM / consistency receivers vs pure-noise start")
    p.add_argument("--model", required=True, help="JSCC checkpoint or shipped name")
    p.add_argument("--denoiser", default=None)
    p.add_argument("--consistency", default=None)
    p.add_argument("--data", default=None, help="any image folder or a root holding kodak/ (default: $JSCC_DATA, "
                   "else embedded images)")
    p.add_argument("--channel", choices=("awgn", "rayleigh"), default="awgn")
    p.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0, 10.0])
    p.add_argument("--ddim-steps", type=int, nargs="*", default=[1, 2, 4, 8, 16, 50])
    p.add_argument("--cm-steps", type=int, nargs="*", default=[1, 2, 4])
    p.add_argument("--noise-start-steps", type=int, nargs="*", default=[16])
    _add_decoder_snr(p)
    _add_image_args(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write diffusion.json and diffusion.md here")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_eval_diffusion)


def _cmd_eval_diffusion(a: argparse.Namespace) -> int:
    from jscc_rt.eval.diffusion_eval import diffusion_markdown, run_diffusion_eval

    rows = run_diffusion_eval(a.model, a.denoiser, a.consistency, data=a.data, snrs=a.snr, ddim_steps=a.ddim_steps,
                              cm_steps=a.cm_steps, noise_start_steps=a.noise_start_steps, channel=a.channel,
                              max_images=a.max_images, seed=a.seed, decoder_snr_db=a.decoder_snr,
                              show_progress=not a.no_progress, max_pixels=a.max_pixels, save_recon=a.save_recon,
                              out=a.out)
    return _emit(a.out, "diffusion", rows, diffusion_markdown(rows))


def _add_eval_unrolled(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval-unrolled", help="model-based receiver: learned step sizes and PSNR per iteration")
    p.add_argument("checkpoint")
    p.add_argument("--data", default=None)
    p.add_argument("--snr", type=float, nargs="+", default=[0.0, 10.0, 20.0])
    p.add_argument("--out", default=None, help="write unrolled.json, unrolled.md and unrolled.png here")
    p.set_defaults(func=_cmd_eval_unrolled)


def _cmd_eval_unrolled(a: argparse.Namespace) -> int:
    from jscc_rt.eval.unrolled_report import run_unrolled_report

    print(run_unrolled_report(a.checkpoint, a.data, a.snr, a.out))
    return 0


def _add_noma(sub: argparse._SubParsersAction) -> None:
    from jscc_rt.train.noma import NOMATrainConfig

    d = NOMATrainConfig()
    t = sub.add_parser("train-noma", help="two-user NOMA student from a single-user teacher, with or without KD")
    t.add_argument("--teacher", default=d.teacher, help="single-user JSCC checkpoint (or shipped name)")
    t.add_argument("--no-sic", dest="sic", action="store_false", help="user 2 treats user 1 as noise")
    t.add_argument("--no-kd", action="store_true", help="train without distillation (kd weights 0)")
    for name in ("data", "val_data"):
        t.add_argument(f"--{name.replace('_', '-')}", default=None)
    for name in ("crop", "batch_size", "steps", "seed", "val_every", "val_images", "threads"):
        t.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    for name in ("lr", "kd_feature", "kd_output", "snr_min_db", "snr_max_db", "a1_min", "a1_max"):
        t.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(d, name))
    _add_precision_args(t)
    t.add_argument("--out", required=True)
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=_cmd_train_noma)
    e = sub.add_parser("eval-noma", help="NOMA: each user's PSNR vs SNR and power split (students vs teacher)")
    e.add_argument("students", nargs="+", help="train-noma model.pt files")
    e.add_argument("--teacher", default=None, help="single-user reference to evaluate beside")
    e.add_argument("--data", default=None)
    e.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0, 10.0, 15.0, 20.0])
    e.add_argument("--split", type=float, nargs="+", default=[0.7, 0.8, 0.9], help="user 1's power share a1")
    e.add_argument("--channel", default="awgn", choices=["awgn", "rayleigh"])
    e.add_argument("--out", default=None)
    e.set_defaults(func=_cmd_eval_noma)


def _cmd_train_noma(a: argparse.Namespace) -> int:
    from dataclasses import fields

    from jscc_rt.train.noma import NOMATrainConfig, train_noma

    kw = {f.name: getattr(a, f.name) for f in fields(NOMATrainConfig)}
    if a.no_kd:
        kw.update(kd_feature=0.0, kd_output=0.0)
    print(json.dumps(train_noma(NOMATrainConfig(**kw), a.out, show_progress=not a.no_progress)))
    return 0


def _cmd_eval_noma(a: argparse.Namespace) -> int:
    from jscc_rt.eval.noma_report import run_noma_report

    print(run_noma_report(a.students, a.teacher, a.data, a.snr, a.split, a.channel, a.out))
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="ONNX / TensorRT export, parity checks and receiver latency")
    esub = p.add_subparsers(dest="export_command", required=True, metavar="WHAT")
    o = esub.add_parser("onnx", help="encoder, decoder, denoiser and unrolled receivers (N = 1, 2, 4) as ONNX")
    o.add_argument("--model", required=True, help="JSCC checkpoint or shipped name")
    o.add_argument("--denoiser", default=None)
    o.add_argument("--consistency", default=None)
    o.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4])
    _add_decoder_snr(o)
    o.add_argument("--precision", nargs="+", choices=("fp32", "fp16", "bf16", "int8"),
                   default=["fp32", "fp16", "bf16", "int8"],
                   help="graph precisions to write: NAME.onnx (fp32) plus NAME.<precision>.onnx variants with fp32 "
                        "inputs/outputs (fp16/bf16 casts, int8 Q/DQ) for the encoder, decoder and receivers")
    o.add_argument("--calib-data", default=None,
                   help="int8 calibration photos (folder or data root; default $JSCC_DATA/photos, else embedded)")
    o.add_argument("--calib-crops", type=int, default=16, help="int8 calibration crops (128x128, AWGN -5..20 dB)")
    o.add_argument("--out", default="out/onnx")
    o.set_defaults(func=_cmd_export_onnx)
    nm = esub.add_parser("noma", help="two-user NOMA model: transmitter, user-1 and user-2 (SIC) receivers as ONNX")
    nm.add_argument("model", help="jscc-rt train-noma checkpoint")
    nm.add_argument("--out", default="out/onnx_noma")
    nm.set_defaults(func=_cmd_export_noma)
    t = esub.add_parser("trt", help="TensorRT engines from the exported ONNX (needs TensorRT and a CUDA GPU)")
    t.add_argument("onnx", nargs="+", help="ONNX files from `jscc-rt export onnx`")
    t.add_argument("--precision", choices=("fp32", "fp16", "bf16", "int8"), default="fp16",
                   help="which ONNX variant to build: NAME.onnx (fp32) or NAME.<precision>.onnx written by "
                        "`jscc-rt export onnx --precision` (engines are strongly typed; no precision flags)")
    t.add_argument("--cache", default="out/trt_cache", help="engine and timing cache folder")
    t.add_argument("--workspace-gb", type=float, default=4.0, help="builder workspace limit (GiB)")
    t.set_defaults(func=_cmd_export_trt)
    c = esub.add_parser("check", help="parity of torch vs onnxruntime (and TensorRT) on real images")
    c.add_argument("--onnx-dir", default="out/onnx")
    c.add_argument("--data", default=None)
    c.add_argument("--snr", type=float, nargs="+", default=[0.0, 10.0])
    c.add_argument("--max-images", type=int, default=4)
    c.add_argument("--precision", nargs="*", default=None,
                   help="variants to gate against fp32 (fp16 bf16 int8 ov-bf16; default: every one present)")
    c.add_argument("--tolerance-db", type=float, default=0.1, help="largest PSNR loss a variant may have (dB)")
    c.add_argument("--out", default=None, help="write check.json and check.md here")
    c.set_defaults(func=_cmd_export_check)
    lat = esub.add_parser("latency", help="receiver latency: torch eager vs onnxruntime per step budget")
    lat.add_argument("--onnx-dir", default="out/onnx")
    lat.add_argument("--data", default=None)
    lat.add_argument("--iters", type=int, default=20)
    lat.add_argument("--backends", nargs="+", default=None,
                     help="torch torch-bf16 compile onnxruntime onnxruntime-int8 openvino openvino-bf16 tensorrt "
                          "(default: every one available here)")
    lat.add_argument("--threads", type=int, default=0, help="threads per backend (0: one per CPU)")
    lat.add_argument("--graphs", nargs="*", default=None, help="only these receiver graphs (e.g. receiver_decoder)")
    lat.add_argument("--out", default=None)
    lat.set_defaults(func=_cmd_export_latency)


def _cmd_export_onnx(a: argparse.Namespace) -> int:
    from jscc_rt.export.onnx_export import export_all, write_variant
    from jscc_rt.export.quantize import Calibration

    cal = Calibration(data=a.calib_data, crops=a.calib_crops)
    for p in export_all(a.model, a.denoiser, a.out, steps=tuple(a.steps), consistency=a.consistency,
                        decoder_snr_db=a.decoder_snr):
        if "fp32" in a.precision:
            print(p)
        for prec in a.precision:
            if prec != "fp32" and not (prec == "int8" and p.stem == "denoiser"):
                print(write_variant(p, prec, cal))
    return 0


def _cmd_export_trt(a: argparse.Namespace) -> int:
    from jscc_rt.export.trt import EngineBuildError, TensorRTUnavailable, build_engine

    for o in a.onnx:
        try:
            print(build_engine(o, precision=a.precision, cache_dir=a.cache, workspace_gb=a.workspace_gb))
        except (TensorRTUnavailable, JsccInputError, FileNotFoundError) as e:
            print(f"jscc-rt export trt: error: {e}; no engine was built for {o}", file=sys.stderr)
            return 2
        except EngineBuildError as e:
            print(f"jscc-rt export trt: error: {e}", file=sys.stderr)
            return 1
    return 0


def _cmd_export_check(a: argparse.Namespace) -> int:
    from jscc_rt.export.check import check_parity
    from jscc_rt.export.gate import VARIANTS, check_variants, failures, markdown

    from jscc_rt._partial import PartialRows

    partial = PartialRows(a.out, "check")
    rows = check_parity(a.onnx_dir, data=a.data, snrs=a.snr, max_images=a.max_images, show_progress=True,
                        on_rows=partial.add)
    lines = ["| graph | backend | SNR (dB) | max abs err | PSNR torch | PSNR backend | delta (dB) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['graph']} | {r['backend']} | {r['snr_db']:g} | {r['max_abs_err']:.2e} | {r['psnr_torch']:.3f} | "
              f"{r['psnr_backend']:.3f} | {r['psnr_delta_db']:.5f} |" for r in rows]
    gate = check_variants(a.onnx_dir, a.precision or VARIANTS, data=a.data, snrs=a.snr, max_images=a.max_images,
                          tolerance_db=a.tolerance_db, skip_missing=not a.precision, show_progress=True,
                          on_rows=partial.add)
    _emit(a.out, "check", {"parity": rows, "precision_gate": gate}, "\n".join(lines) + "\n\n" + markdown(gate))
    bad = [f"parity: {r['graph']} on {r['backend']} at {r['snr_db']:g} dB differs from torch by "
           f"{r['psnr_delta_db']:.4f} dB (limit 0.01 dB)" for r in rows if r["psnr_delta_db"] >= 0.01] + failures(gate)
    for line in bad:
        print(f"jscc-rt export check: FAIL {line}", file=sys.stderr)
    return 2 if bad else 0


def _cmd_export_latency(a: argparse.Namespace) -> int:
    from jscc_rt.export.latency import markdown, receiver_latency

    from jscc_rt._partial import PartialRows

    rows, skipped = receiver_latency(a.onnx_dir, data=a.data, iters=a.iters, backends=a.backends, threads=a.threads,
                                     graphs=a.graphs, show_progress=True, on_rows=PartialRows(a.out, "latency").add)
    return _emit(a.out, "latency", {"rows": rows, "skipped": skipped}, markdown(rows, skipped))


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job on embedded defaults (what `make demo` runs)")
    p.add_argument("--out", default="out/demo")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(a: argparse.Namespace) -> int:
    from jscc_rt.demo import run_demo

    return run_demo(a.out)


def _cmd_export_noma(a: argparse.Namespace) -> int:
    from jscc_rt.export.onnx_export import export_noma

    for p in export_noma(a.model, a.out):
        print(p)
    return 0


def _add_baselines(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("baselines", help="separate source-channel coding (JPEG/AVIF + 5G LDPC/Polar + QAM) vs SNR")
    p.add_argument("--data", default=None, help="Kodak folder or data root (default: $JSCC_DATA, else embedded)")
    p.add_argument("--chains", nargs="+", default=["jpeg+ldpc", "avif+ldpc", "avif+polar"],
                   help="codec+code pairs; codecs jpeg/webp/avif, codes ldpc/polar")
    p.add_argument("--channel", nargs="+", default=["awgn", "rayleigh"], choices=["awgn", "rayleigh"])
    p.add_argument("--snr", type=float, nargs="+", default=[-5, 0, 5, 10, 15, 20])
    p.add_argument("--ratio", default="1/16", help="bandwidth ratio k/n")
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--save-recon", type=int, default=0, metavar="N",
                   help="write the received images (decoded or concealed) and original|received strips of the N worst "
                        "and N best images per chain, channel and SNR to OUT/recon/")
    p.add_argument("--threshold-blocks", type=int, default=100, help="blocks per waterfall probe")
    p.add_argument("--thresholds", default=None, help="reuse the thresholds of an earlier baselines.json")
    p.add_argument("--jscc-results", nargs="*", default=[],
                   help="jscc-rt eval / eval-diffusion / bench pareto JSON to plot beside")
    p.add_argument("--jscc-curves", nargs="*", default=None,
                   help="plot only these curves from --jscc-results (e.g. deepjscc-1_16 'ddim x4')")
    p.add_argument("--from-json", nargs="*", default=None,
                   help="do not simulate: merge these baselines.json files and write the table and plots again")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--out", default="out/baselines")
    p.set_defaults(func=_cmd_baselines)


def _cmd_baselines(a: argparse.Namespace) -> int:
    from pathlib import Path

    from jscc_rt.baselines.report import merge_results, run_baselines, write_outputs
    from jscc_rt.models.config import parse_ratio

    if a.from_json:
        print(write_outputs(merge_results([json.loads(Path(f).read_text()) for f in a.from_json]), a.out,
                            a.jscc_results, a.jscc_curves))
        return 0
    chains = []
    for c in a.chains:
        codec, _, code = c.partition("+")
        if codec not in ("jpeg", "webp", "avif") or code not in ("ldpc", "polar"):
            raise JsccInputError(f"--chains entry {c!r} must be CODEC+CODE with CODEC jpeg/webp/avif, CODE ldpc/polar")
        chains.append((codec, code))
    th = json.loads(Path(a.thresholds).read_text())["thresholds"] if a.thresholds else None
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    from jscc_rt._partial import PartialRows
    from jscc_rt.eval.recon import ReconSaver, check_save_recon

    n_recon = check_save_recon(a.save_recon, a.out)
    partial = PartialRows(a.out, "baselines")
    res = run_baselines(a.data, chains=chains, channels=a.channel, snrs=a.snr, ratio=float(parse_ratio(a.ratio)),
                        max_images=a.max_images, seed=a.seed, thresholds=th, threshold_blocks=a.threshold_blocks,
                        progress=lambda s: print(f"  {s}", file=sys.stderr, flush=True), on_rows=partial.add,
                        recon=ReconSaver(Path(a.out) / "recon", n_recon) if n_recon else None)
    print(write_outputs(res, a.out, a.jscc_results, a.jscc_curves))
    partial.finish()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jscc-rt", description="Diffusion-driven deep JSCC: simulate, train, evaluate.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_simulate, _add_train, _add_train_diffusion, _add_train_compress, _add_eval, _add_eval_diffusion, _add_eval_unrolled, _add_noma, _add_export, _add_bench, _add_kernels, _add_baselines,
                _add_demo):
        add(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input / missing files)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (JsccInputError, FileNotFoundError, RunnerUnavailable) as e:
        print(f"jscc-rt {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        from jscc_rt.baselines.codes import BaselineUnavailable  # imports no optional dependency

        if not isinstance(e, BaselineUnavailable):
            raise
        print(f"jscc-rt {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
