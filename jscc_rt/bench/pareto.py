"""``jscc-rt bench pareto``: the latency-quality Pareto frontier across diffusion steps, samplers and backends.

For every receiver plan (sampler x steps; steps 0 = the JSCC decoder alone) and SNR:

* quality (PSNR, MS-SSIM, LPIPS when its weights are available) is measured once on the eval images with the torch
  receiver graph: every backend computes the same graph (``jscc-rt export check`` bounds their differences);
* latency p50/p90/p99 (ms per image, batch 1, on the smallest eval image, after warm-up; CUDA-synchronized) and
  throughput (images/s) are
  measured per backend: ``torch`` (eager), ``torch-bf16`` (autocast + channels_last), ``compile``
  (torch.compile), ``onnxruntime`` (fp32 and the int8 Q/DQ variant), ``openvino`` (f32 and bf16 inference
  precision), ``tensorrt`` (when TensorRT and a GPU are present) and ``torch-fused`` (the Link path on the Triton
  kernels, CUDA only). Every backend runs with ``threads`` intra-op threads; each row records backend, precision,
  threads and device. Backends whose arithmetic differs from fp32 (:data:`LOW_PRECISION_BACKENDS`) get their
  quality measured on their own outputs.

Outputs in ``out``: ``pareto.json`` (with commit, versions, device, date), ``pareto.csv``, ``pareto.md`` (summary
and the Pareto-optimal set per backend) and ``pareto_snr{S}.png`` (latency vs PSNR, frontier drawn) per SNR.
"""
from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import torch

from jscc_rt._progress import eta_text
from jscc_rt._validate import JsccInputError, check_int
from jscc_rt.runtime.timing import time_fn
from jscc_rt.data import eval_images, pad_to_multiple
from jscc_rt.diffusion.receiver import DECODER_SNR_AFTER_DENOISING_DB
from jscc_rt.diffusion.schedule import NoiseSchedule
from jscc_rt.eval.evaluate import metric, snr_dir
from jscc_rt.eval.flip import flip_available
from jscc_rt.eval.lpips import MetricUnavailable, lpips_distance
from jscc_rt.eval.recon import ReconSaver
from jscc_rt.eval.metrics import psnr
from jscc_rt.eval.paired import paired, paired_text
from jscc_rt.eval.pareto_plot import pareto_front, plot_pareto
from jscc_rt.eval.report import git_commit
from jscc_rt.export.check import receiver_feeds
from jscc_rt.runtime.graphs import EncoderGraph, ReceiverGraph
from jscc_rt.models import load_model
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.runtime.runners import OnnxRuntimeRunner, TorchRunner, cpu_name

BACKENDS = ("torch", "torch-bf16", "compile", "onnxruntime", "onnxruntime-int8", "openvino", "openvino-bf16",
            "tensorrt", "torch-fused")
#: Backends whose arithmetic differs from the fp32 graph: their quality is measured on their own outputs.
LOW_PRECISION_BACKENDS = ("torch-bf16", "onnxruntime-int8", "openvino-bf16")


def backend_status(name: str, device: torch.device) -> str | None:
    """``None`` when ``name`` can run here, else why not."""
    from jscc_rt.runtime.backends import BACKENDS as RUNTIME_BACKENDS, unavailable_reason

    if name in RUNTIME_BACKENDS and name != "tensorrt":
        return unavailable_reason(name)
    if name == "tensorrt":
        try:
            import tensorrt  # noqa: F401
        except ImportError:
            return "TensorRT not installed"
        return None if device.type == "cuda" else "TensorRT needs a CUDA GPU"
    if name == "torch-fused":
        return None if device.type == "cuda" else "Triton kernels need a CUDA GPU"
    return f"unknown backend {name!r}"


def _make_runner(backend: str, graph: ReceiverGraph, names: list[str], tmp: Path, tag: str, device: torch.device,
                 latent_channels: int, jscc_checkpoint: str, threads: int):
    from jscc_rt.runtime.backends import make_runner

    if backend in ("torch", "torch-bf16", "compile"):
        return make_runner(backend, onnx_path=None, module=graph, input_names=names, threads=threads, device=device)
    from jscc_rt.export.onnx_export import SPECS, export_graph, receiver_inputs, write_variant

    ins = receiver_inputs(graph.needs_noise)
    c = latent_channels
    ex = (torch.randn(1, c, 8, 12), torch.tensor([0.1]), torch.tensor([5.0]))
    ex += (torch.randn(1, graph.steps - 1, c, 8, 12),) if "noise" in ins else ()
    sampler = None if not graph.steps else ("consistency" if graph.consistency else "ddim")
    path = export_graph(graph, ex, tmp / f"{tag}.onnx", ins, SPECS["receiver"].outputs,
                        {"graph": "receiver", "steps": graph.steps, "sampler": sampler, "stride": 8,
                         "jscc_checkpoint": jscc_checkpoint, "jscc_config": {"latent_channels": c}})
    if backend == "onnxruntime" and device.type == "cuda":
        return OnnxRuntimeRunner(path, providers=["CUDAExecutionProvider", "CPUExecutionProvider"], threads=threads)
    if backend == "onnxruntime-int8":
        write_variant(path, "int8")
    if backend != "tensorrt":
        return make_runner(backend, onnx_path=path, module=None, input_names=names, threads=threads)
    from jscc_rt.export.trt import build_engine
    from jscc_rt.runtime.runners import TensorRTRunner

    write_variant(path, "fp16")  # engines are strongly typed: the precision comes from the graph
    return TensorRTRunner(build_engine(path, precision="fp16", cache_dir=tmp / "trt"))


def run_pareto(model: str, denoiser: str | None, consistency: str | None, *, data: str | None,
               steps: Sequence[int] = (0, 1, 2, 4, 8, 16, 50), samplers: Sequence[str] = ("ddim", "consistency"),
               backends: Sequence[str] = BACKENDS, snrs: Sequence[float] = (0.0, 5.0, 10.0), iters: int = 20,
               max_images: int | None = None, device: str = "cpu", seed: int = 0,
               decoder_snr_db: float | None = DECODER_SNR_AFTER_DENOISING_DB, latency_snr: float | None = None,
               extra_models: Sequence[str] = (), noma: str | None = None, noma_split: float = 0.8,
               threads: int = 0, progress: Callable[[str], None] | None = None,
               on_rows: Callable[[list[dict]], None] | None = None, recon: ReconSaver | None = None) -> dict:
    """Sweep and return ``{"meta", "points", "skipped"}``; see the module docstring.

    ``latency_snr``: time each (plan, backend) once, at this SNR, and reuse the numbers at the other SNRs (the
    receiver graphs run the same operations at every SNR; only the start step's value differs). ``None`` times
    every point. ``threads``: intra-op threads of every backend (0 = one per CPU). ``extra_models``: further JSCC checkpoints (e.g. ``unrolled-1_16``, ``deepjscc-1_16``) swept as
    decoder-only receivers on the same frontier; their rows name the model in the ``sampler`` column. ``noma``: a
    ``jscc-rt train-noma`` checkpoint whose two receivers (user 1, and user 2 with SIC) join as rows ``noma-user1`` /
    ``noma-user2`` at power split ``noma_split`` (image i to user 1, i+1 to user 2; PSNR only). ``progress``
    gets one line per step with the ETA; ``on_rows`` each receiver's points as soon as they are measured. ``recon``:
    the torch backend's reconstructions of the worst/best images per receiver and SNR are written through it
    (groups ``<receiver>x<steps>/snr<+SNR>dB``)."""
    dev = torch.device(device)
    threads = threads or (os.cpu_count() or 1)
    check_int(iters, "iters", minimum=1, fix="time each receiver at least once, e.g. --iters 20")
    if latency_snr is not None and latency_snr not in snrs:
        raise JsccInputError(f"latency_snr {latency_snr:g} dB must be one of the swept SNRs {list(snrs)}; pass one "
                             "of them to --latency-snr")
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise JsccInputError(f"unknown backend(s) {', '.join(map(repr, unknown))}; choose from {', '.join(BACKENDS)}")
    set_name, images = eval_images(data, max_images=max_images)
    main_jscc = load_model(resolve_checkpoint(model)).to(dev)
    nets = {"ddim": load_model(resolve_checkpoint(denoiser), expect="DenoiserConfig").to(dev) if denoiser else None,
            "consistency": load_model(resolve_checkpoint(consistency), expect="DenoiserConfig").to(dev) if consistency else None}
    encoders = {}
    for name, m in [(None, main_jscc)] + [(e, load_model(resolve_checkpoint(e)).to(dev)) for e in extra_models]:
        encoders[name] = (m, TorchRunner(EncoderGraph(m), ["images", "snr_db"], ["symbols"], device=dev))
        encoders[name][1].load()
    lat_img = min((img for _, img in images), key=lambda im: im.shape[-1] * im.shape[-2])  # latency: smallest image
    skipped = {b: r for b in backends if (r := backend_status(b, dev)) is not None}
    plans = [("decoder", 0, None)] + [(s, n, None) for s in samplers for n in steps if n > 0 and nets.get(s) is not None]
    plans += [(e, 0, e) for e in extra_models]
    points, lpips_ok, with_flip = [], True, flip_available()
    tmp = Path(tempfile.mkdtemp(prefix="jscc-pareto-"))
    say = progress or (lambda s: None)
    t0, done, total = time.time(), 0, len(plans) * len(snrs)
    for sampler, n, which in plans:
        first_point = len(points)
        jscc, enc = encoders[which]
        net = nets.get(sampler) if n else None
        sched = NoiseSchedule(**net.meta["schedule"]) if net is not None else NoiseSchedule()  # type: ignore[attr-defined]
        graph = ReceiverGraph(jscc, net, sched, n, decoder_snr_db=decoder_snr_db).to(dev).eval()
        names = ["received", "noise_var", "snr_db"] + (["noise"] if graph.needs_noise else [])
        ref = TorchRunner(graph, names, device=dev, threads=threads)
        ref.load()
        ckpt = str(resolve_checkpoint(which or model))
        runners: dict[str, object] = {"torch": ref}

        def runner_for(be: str):
            if be not in runners:
                r = _make_runner(be, graph, names, tmp, f"{sampler}{n}".replace("/", "_"), dev,
                                 jscc.config.latent_channels, ckpt, threads)
                r.load()
                runners[be] = r
            return runners[be]

        qual_backends = ["torch"] + [b for b in backends if b in LOW_PRECISION_BACKENDS and b not in skipped]
        quality: dict[tuple[str, float], dict] = {}
        timed: dict[tuple[str, float], dict] = {}
        for snr in snrs:
            say(f"[{eta_text(done, total, time.time() - t0)}] quality {sampler} x {n} @ {snr:g} dB")
            done += 1
            g = torch.Generator().manual_seed(seed)
            qs = {be: {"psnr": 0.0, "ms_ssim": 0.0, "flip": 0.0, "lpips": 0.0, "images": []} for be in qual_backends}
            for name, img in images:
                feeds = receiver_feeds(enc, img.to(dev), snr, jscc.stride, {"inputs": names, "steps": n}, g)
                x = img[None]
                for be in qual_backends:
                    out = runner_for(be).infer(feeds)["images"]  # type: ignore[attr-defined]
                    rec = out[..., : img.shape[-2], : img.shape[-1]].float().clamp(0, 1).cpu()
                    q = qs[be]
                    p_img = float(psnr(x, rec)[0])
                    m_img = metric("ms_ssim", x, rec)  # None for images too small for its 5 scales
                    f_img = metric("flip", x, rec) if with_flip else None
                    q["images"].append({"image": name, "size": f"{img.shape[-2]}x{img.shape[-1]}", "psnr": p_img,
                                        "ms_ssim": m_img, "flip": f_img})
                    if recon is not None and be == "torch":
                        recon.add(name, img, rec, p_img)
                    q["psnr"] += p_img / len(images)
                    q["ms_ssim"] += (float("nan") if m_img is None else m_img) / len(images)
                    q["flip"] += (f_img or 0.0) / len(images)
                    if lpips_ok:
                        try:
                            q["lpips"] += float(lpips_distance(x, rec)[0]) / len(images)
                        except MetricUnavailable:
                            lpips_ok = False
            if recon is not None:
                recon.flush(f"{sampler}x{n}/{snr_dir(snr)}")
            for be in backends:
                quality[(be, snr)] = qs.get(be, qs["torch"])
            if latency_snr is not None and snr != latency_snr:
                continue
            feeds = receiver_feeds(enc, lat_img.to(dev), snr, jscc.stride, {"inputs": names, "steps": n}, g)
            for be in backends:
                if be in skipped:
                    continue
                say(f"latency {be} {sampler} x {n} @ {snr:g} dB")
                if be == "torch-fused":
                    t = _fused_latency(jscc, net, sched, sampler, n, lat_img, snr, iters, dev, decoder_snr_db)
                    t.update(precision="fp32", threads=threads, device=str(dev))
                else:
                    runner = runner_for(be)
                    t = time_fn(lambda: runner.infer(feeds), warmup=3, iters=iters, device=dev)  # type: ignore[attr-defined]
                    t.update(precision=getattr(runner, "precision", "fp32"), threads=getattr(runner, "threads", threads),
                             device=getattr(runner, "device", str(dev)))
                timed[(be, snr)] = t
        for r in runners.values():
            r.close()  # type: ignore[attr-defined]
        for snr in snrs:
            for be in backends:
                t = timed.get((be, snr if latency_snr is None else latency_snr))
                if t is None:
                    continue
                q = quality[(be, snr)]
                points.append({**_point(be, sampler, n, snr, q["psnr"], q["ms_ssim"], q["lpips"] if lpips_ok else None,
                                        t, snr if latency_snr is None else latency_snr),
                               "flip": q["flip"] if with_flip else None, "images": q["images"]})
        if on_rows:
            on_rows(points[first_point:])
    if noma:
        points += _noma_points(noma, noma_split, [im for _, im in images], lat_img, snrs, backends, skipped, iters,
                               dev, tmp, latency_snr, progress)
    meta = {"commit": git_commit(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "torch": str(torch.__version__), "device": torch.cuda.get_device_name(dev) if dev.type == "cuda"
            else f"CPU {cpu_name()} ({threads} threads per backend)", "threads": threads, "eval_set": set_name,
            "n_images": len(images), "image_hw_latency": list(lat_img.shape[-2:]), "iters": iters,
            "model": model, "extra_models": list(extra_models), "denoiser": denoiser, "consistency": consistency,
            "lpips": lpips_ok, "flip": with_flip, "noma": noma, "noma_split": noma_split if noma else None,
            "decoder_snr_db": decoder_snr_db, "latency_snr_db": latency_snr,
            "recon": recon.written if recon is not None else []}
    return {"meta": meta, "points": points, "skipped": skipped}


def _point(backend: str, sampler: str, steps: int, snr: float, psnr_db: float, msssim: float, lpips: float | None,
           timing: dict, latency_snr_db: float) -> dict:
    """One frontier row: quality at ``snr`` plus the latency measured at ``latency_snr_db``."""
    return {"backend": backend, "precision": timing.get("precision", "fp32"), "threads": timing.get("threads"),
            "device": timing.get("device"), "sampler": sampler, "steps": steps, "snr_db": snr, "psnr": psnr_db,
            "ms_ssim": msssim, "lpips": lpips, **timing, "throughput_img_s": 1000.0 / timing["latency_ms_mean"],
            "latency_snr_db": latency_snr_db}


def _noma_points(path: str, a1: float, imgs: list[torch.Tensor], lat_img: torch.Tensor, snrs: Sequence[float],
                 backends: Sequence[str], skipped: dict, iters: int, dev: torch.device, tmp: Path,
                 latency_snr: float | None, progress: Callable[[str], None] | None) -> list[dict]:
    """Rows for the two NOMA receivers: quality from :func:`~jscc_rt.train.noma.noma_psnr`, latency of each
    user's receiver graph (user 2 includes SIC) per backend on one equalized received latent."""
    from jscc_rt.runtime.graphs import NOMAReceiverGraph, NOMATransmitterGraph
    from jscc_rt.export.onnx_export import SPECS, export_graph
    from jscc_rt.eval.noma_metrics import noma_psnr, pair_images

    model = load_model(resolve_checkpoint(path), expect="NOMAConfig").to(dev)
    a, b = pair_images(lat_img, lat_img, model.stride)
    timings: dict[tuple[str, int, float], dict] = {}
    for snr in [latency_snr] if latency_snr is not None else snrs:
        s_t, a_t = torch.tensor([float(snr)], device=dev), torch.tensor([a1], device=dev)
        with torch.no_grad():
            x = NOMATransmitterGraph(model)(a.to(dev), b.to(dev), s_t, a_t)
        y = x + torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).to(dev) * 10 ** (-snr / 20)
        feeds = {"received": y, "snr_db": s_t, "a1": a_t}
        for user in (1, 2):
            graph = NOMAReceiverGraph(model, user)
            for be in backends:
                if be in skipped or be in ("tensorrt", "torch-fused"):
                    continue
                if progress:
                    progress(f"latency {be} noma-user{user} @ {snr:g} dB")
                if be == "onnxruntime":
                    spec = SPECS["noma_user"]
                    runner = OnnxRuntimeRunner(export_graph(graph, tuple(feeds.values()), tmp / f"noma_user{user}.onnx",
                                                            spec.inputs, spec.outputs, {"graph": "noma_user"}))
                else:
                    runner = TorchRunner(graph, list(feeds), device=dev, compile=be == "compile")
                runner.load()
                timings[(be, user, snr)] = time_fn(lambda: runner.infer(feeds), warmup=3, iters=iters, device=dev)
    rows = []
    for snr in snrs:
        if progress:
            progress(f"quality noma @ {snr:g} dB")
        q = noma_psnr(model, imgs, snr, a1, seed=0)
        for (be, user, ts), t in timings.items():
            if ts == (snr if latency_snr is None else latency_snr):
                rows.append(_point(be, f"noma-user{user}", 0, snr, q[user - 1], float("nan"), None, t, ts))
    return rows


def _fused_latency(jscc, net, sched, sampler: str, n: int, img: torch.Tensor, snr: float, iters: int,
                   dev: torch.device, decoder_snr_db: float | None = None) -> dict:
    """Latency of the whole Link (transmit + fused channel + sampler steps on Triton + decode), batch 1."""
    from jscc_rt.channel import ChannelConfig
    from jscc_rt.diffusion import DiffusionReceiver, ReceiverConfig
    from jscc_rt.pipeline import Link

    rx = DiffusionReceiver(net, sched, ReceiverConfig(sampler=sampler, steps=n)) if n else None  # type: ignore[arg-type]
    link = Link(jscc, ChannelConfig("awgn"), receiver=rx, decoder_snr_db=decoder_snr_db)
    x = pad_to_multiple(img[None].to(dev), jscc.stride)[0]
    with torch.no_grad():
        return time_fn(lambda: link(x, snr), warmup=3, iters=iters, device=dev)


def write_outputs(result: dict, out: str | Path) -> str:
    """Write JSON, CSV, plots and markdown; returns the markdown."""
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    (o / "pareto.json").write_text(json.dumps(result, indent=2) + "\n")
    pts = result["points"]
    if pts:
        with (o / "pareto.csv").open("w", newline="") as f:
            cols = list(dict.fromkeys(k for p in pts for k in p if k != "images"))  # per-image rows: JSON only
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(pts)
    m = result["meta"]
    lines = [f"Device: {m['device']}; eval set: {m['eval_set']} ({m['n_images']} images, latency on one "
             f"{m['image_hw_latency'][0]}x{m['image_hw_latency'][1]} image, {m['iters']} timed runs); commit {m['commit']}",
             "", "| backend | precision | threads | receiver | steps | SNR (dB) | PSNR (dB) | MS-SSIM | FLIP | LPIPS | "
             "p50 ms | p90 ms | p99 ms | img/s | Pareto |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    front_ids = set()
    for be in sorted({p["backend"] for p in pts}):
        for snr in sorted({p["snr_db"] for p in pts}):
            front_ids |= {id(p) for p in pareto_front([p for p in pts if p["backend"] == be and p["snr_db"] == snr])}
    for p in pts:
        lp = "n/a" if p["lpips"] is None else f"{p['lpips']:.4f}"
        fl = "n/a" if p.get("flip") is None else f"{p['flip']:.4f}"
        lines.append(f"| {p['backend']} | {p.get('precision', 'fp32')} | {p.get('threads', '')} | {p['sampler']} | {p['steps']} | {p['snr_db']:g} | {p['psnr']:.2f} | "
                     f"{p['ms_ssim']:.4f} | {fl} | {lp} | {p['latency_ms_p50']:.1f} | {p['latency_ms_p90']:.1f} | "
                     f"{p['latency_ms_p99']:.1f} | {p['throughput_img_s']:.2f} | {'yes' if id(p) in front_ids else ''} |")
    lines += paired_lines(pts)
    if result["skipped"]:
        lines += ["", "Backends not run here: " + "; ".join(f"{k}: {v}" for k, v in result["skipped"].items())]
    md = "\n".join(lines)
    (o / "pareto.md").write_text(md + "\n")
    plot_pareto(pts, o)
    return md


def paired_lines(points: Sequence[dict]) -> list[str]:
    """Markdown: each denoising receiver (steps > 0) against the best decoder-only receiver (steps 0, highest mean
    PSNR) of its backend and SNR, image by image (:mod:`jscc_rt.eval.paired`); empty without per-image rows or with
    a single image."""
    rows = []
    for be in sorted({p["backend"] for p in points}):
        for snr in sorted({p["snr_db"] for p in points}):
            here = [p for p in points if p["backend"] == be and p["snr_db"] == snr and p.get("images")]
            alone = [p for p in here if p["steps"] == 0]
            if not alone or len(alone[0]["images"]) < 2:  # one image: nothing to pair
                continue
            ref = max(alone, key=lambda p: p["psnr"])
            for p in (p for p in here if p["steps"] > 0):
                rows.append(f"| {be} | {snr:g} | {p['sampler']} | {p['steps']} | "
                            f"{paired_text(paired(ref['images'], p['images'], 'psnr'))} | "
                            f"{paired_text(paired(ref['images'], p['images'], 'flip'))} | {ref['sampler']} |")
    if not rows:
        return []
    return ["", "Image by image against the best decoder-only receiver of the same backend and SNR (receiver minus "
            "it; images where the receiver is better; t: paired t statistic over the images, |t| > 2 is a "
            "difference consistent across images):", "",
            "| backend | SNR (dB) | receiver | steps | PSNR | FLIP | against |", "|---|---:|---|---:|---|---|---|",
            *rows]
