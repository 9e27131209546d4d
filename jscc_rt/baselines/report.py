"""``jscc-rt baselines``: Kodak PSNR / MS-SSIM vs SNR for separate source-channel coding, next to JSCC.

For each chain (codec + code), channel and SNR: choose the MCS (:mod:`jscc_rt.baselines.mcs`), then send every
image through the real chain (:class:`jscc_rt.baselines.chain.DigitalChain`) once. On AWGN, if the chosen MCS lost
any image, the next lower MCS is run too and the better measured mean is kept (both are in the JSON). The
capacity-achieving ideal (``k log2(1 + SNR)`` error-free bits, with the instantaneous SNR per image under block
fading, i.e. CSI at the transmitter: an upper bound) is computed for every codec used.

Outputs: ``baselines.json`` (rows, thresholds, meta), ``baselines.md`` and ``psnr_vs_snr_{channel}.png`` with the
JSCC / diffusion curves read from ``jscc-rt eval`` / ``jscc-rt eval-diffusion`` JSON files.
"""
from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import torch

from jscc_rt._progress import eta_text
from jscc_rt.baselines.chain import MCS, CONCEALMENT_VALUE, DigitalChain, channel_uses, ideal_bits
from jscc_rt.baselines.codecs import SourceCoder, decode
from jscc_rt.baselines.mcs import cqi_mcs, mcs_thresholds, select_mcs
from jscc_rt.channel import ChannelConfig, draw_rayleigh_blocks
from jscc_rt.data import eval_images
from jscc_rt.eval.evaluate import snr_dir
from jscc_rt.eval.metrics import ms_ssim, psnr
from jscc_rt.eval.recon import ReconSaver
from jscc_rt.eval.report import git_commit

DEFAULT_CHAINS = (("jpeg", "ldpc"), ("avif", "ldpc"), ("avif", "polar"))
BLOCK_N = {"ldpc": 1920, "polar": 1020}  # coded bits per block, multiples of 2, 4 and 6 bits per symbol


def _quality(img: torch.Tensor, rec: torch.Tensor) -> tuple[float, float]:
    x, y = img[None], rec[None].clamp(0, 1)
    return float(psnr(x, y)[0]), float(ms_ssim(x, y)[0])


def run_baselines(data: str | None, *, chains: Sequence[tuple[str, str]] = DEFAULT_CHAINS,
                  channels: Sequence[str] = ("awgn", "rayleigh"), snrs: Sequence[float] = (-5, 0, 5, 10, 15, 20),
                  ratio: float = 1 / 16, max_images: int | None = None, seed: int = 0,
                  thresholds: dict[str, dict[str, float]] | None = None, threshold_blocks: int = 100,
                  progress: Callable[[str], None] | None = None,
                  on_rows: Callable[[list[dict]], None] | None = None, recon: ReconSaver | None = None) -> dict:
    """Run every chain; returns ``{"meta", "thresholds", "rows"}`` (see the module docstring). ``progress`` gets
    one line per step (with the ETA per chain, channel and SNR); ``on_rows`` each row as soon as it is measured;
    ``recon`` gets the chosen MCS's received images (decoded or concealed) of the worst/best images per chain,
    channel and SNR (groups ``<codec>+<code>/<channel>/snr<+SNR>dB``)."""
    say = progress or (lambda s: None)
    t0, done, total = time.time(), 0, len(chains) * len(channels) * len(snrs)
    set_name, images = eval_images(data, max_images=max_images)
    imgs = [im for _, im in images]
    conceal = [_quality(im, torch.full_like(im, CONCEALMENT_VALUE)) for im in imgs]  # (PSNR, MS-SSIM) per image
    conceal_psnr = sum(q[0] for q in conceal) / len(imgs)
    thresholds = dict(thresholds or {})
    coders = {(c, i): SourceCoder(im, c) for c, _ in chains for i, im in enumerate(imgs)}
    rows: list[dict] = []
    for codec, code in chains:
        mcs_list = cqi_mcs(code, BLOCK_N[code])
        if code not in thresholds:
            thresholds[code] = mcs_thresholds(mcs_list, blocks=threshold_blocks, progress=say)
        say(f"{codec}: fitting the payload of each MCS")
        codec_psnr, encodings, built = {}, {}, {}
        for m in mcs_list:
            encs = [coders[codec, i].fit(m.payload_bits(tuple(im.shape[1:]), ratio)) for i, im in enumerate(imgs)]
            encodings[m.label()] = encs
            q = [_quality(im, decode(e.data, e.shape))[0] if e is not None else conceal[i][0] for i, (im, e) in
                 enumerate(zip(imgs, encs))]
            codec_psnr[m.label()] = float("nan") if all(e is None for e in encs) else sum(q) / len(q)
        for kind in channels:
            cfg = ChannelConfig(kind)
            for snr in snrs:
                say(f"[{eta_text(done, total, time.time() - t0)}] {codec}+{code} {kind} {snr:g} dB")
                done += 1
                chosen = select_mcs(mcs_list, thresholds[code], codec_psnr, conceal_psnr, snr, kind)
                tried = []
                m: MCS | None = chosen
                while m is not None:
                    say(f"{codec}+{code} {kind} {snr:g} dB: {m.label()}")
                    if (m.label(), kind) not in built:  # one chain (and Sionna code) per MCS and channel
                        built[m.label(), kind] = DigitalChain(codec, m, cfg, ratio=ratio)
                    tried.append(_run_chain(built[m.label(), kind], imgs, encodings[m.label()], snr, seed, conceal,
                                            keep=recon is not None))
                    lower = mcs_list.index(m) - 1
                    m = mcs_list[lower] if kind == "awgn" and tried[-1]["success"] < 1.0 and lower >= 0 else None
                if not tried:  # no MCS carries any encoding: every image concealed
                    tried.append({"mcs": None, "psnr": conceal_psnr, "ms_ssim": sum(q[1] for q in conceal) / len(imgs),
                                  "success": 0.0, "bpp": 0.0})
                best = max(tried, key=lambda r: r["psnr"])
                per = best.pop("per_image", None) or [(*conceal[i], False) for i in range(len(imgs))]
                received = best.pop("received", None) or [torch.full_like(im, CONCEALMENT_VALUE) for im in imgs]
                for t in tried:
                    t.pop("received", None)
                    t.pop("per_image", None)
                if recon is not None:
                    for (n, im), rec, (p, _, _) in zip(images, received, per):
                        recon.add(n, im, rec, p)
                    recon.flush(f"{codec}+{code}/{kind}/{snr_dir(float(snr))}")
                rows.append({"chain": f"{codec}+{code}", "channel": kind, "snr_db": float(snr), **best,
                             "tried": [{k: r[k] for k in ("mcs", "psnr", "success")} for r in tried],
                             "images": [{"image": n, "size": f"{im.shape[-2]}x{im.shape[-1]}", "psnr": p, "ms_ssim": s,
                                         "decoded": d} for (n, im), (p, s, d) in zip(images, per)]})
                if on_rows:
                    on_rows(rows[-1:])
    for codec in dict.fromkeys(c for c, _ in chains):
        for kind in channels:
            for snr in snrs:
                rows.append({"chain": f"{codec}+ideal", "channel": kind, "snr_db": float(snr),
                             **_ideal(codec, coders, imgs, kind, snr, ratio, seed, conceal)})
    meta = {"commit": git_commit(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "eval_set": set_name, "n_images": len(imgs), "ratio": ratio, "seed": seed,
            "block_n": BLOCK_N, "concealment": f"mid-grey image ({CONCEALMENT_VALUE})", "torch": str(torch.__version__),
            "recon": recon.written if recon is not None else []}
    return {"meta": meta, "thresholds": thresholds, "rows": rows}


def _run_chain(chain: DigitalChain, imgs: list[torch.Tensor], encs: list, snr: float, seed: int,
               conceal: list[tuple[float, float]], keep: bool = False) -> dict:
    """Mean quality of ``chain`` over ``imgs`` at ``snr``; ``keep``: also the received images (``"received"``)."""
    fading = chain.channel.config.kind == "rayleigh"
    g = torch.Generator().manual_seed(seed * 100003 + int(round(10 * snr)) + 7919 * fading)
    ps, ss, ok, bits = [], [], 0, 0
    dec: list[bool] = []
    got: list[torch.Tensor] = []
    for i, (im, e) in enumerate(zip(imgs, encs)):
        r = chain.transmit(im, snr, generator=g, encoded=e) if e is not None else None
        if r is not None and r.ok:
            p, s = _quality(im, r.image)
            ok, bits = ok + 1, bits + r.encoded.bits  # type: ignore[union-attr]
        else:
            p, s = conceal[i]
        ps.append(p)
        ss.append(s)
        dec.append(bool(r is not None and r.ok))
        if keep:
            got.append(r.image if r is not None and r.ok else torch.full_like(im, CONCEALMENT_VALUE))
    pixels = sum(im.shape[1] * im.shape[2] for im in imgs)
    return {"mcs": chain.mcs.label(), "psnr": sum(ps) / len(ps), "ms_ssim": sum(ss) / len(ss), "success": ok / len(imgs),
            "bpp": bits / pixels, "per_image": list(zip(ps, ss, dec)), **({"received": got} if keep else {})}


def _ideal(codec: str, coders: dict, imgs: list[torch.Tensor], kind: str, snr: float, ratio: float, seed: int,
           conceal: list[tuple[float, float]]) -> dict:
    g = torch.Generator().manual_seed(seed + 1)
    ps, ss, bits, sent = [], [], 0, 0
    for i, im in enumerate(imgs):
        s = float(snr)
        if kind == "rayleigh":
            h = draw_rayleigh_blocks(1, 1, generator=g).h
            s += 10.0 * math.log10(max(float(h.square().sum()), 1e-12))
        e = coders[codec, i].fit(ideal_bits(channel_uses(tuple(im.shape[1:]), ratio), s))
        p, q = conceal[i] if e is None else _quality(im, decode(e.data, e.shape))
        ps.append(p)
        ss.append(q)
        if e is not None:
            bits, sent = bits + e.bits, sent + 1
    pixels = sum(im.shape[1] * im.shape[2] for im in imgs)
    return {"mcs": "capacity", "psnr": sum(ps) / len(ps), "ms_ssim": sum(ss) / len(ss), "success": sent / len(imgs),
            "bpp": bits / pixels}


def merge_results(results: Sequence[dict]) -> dict:
    """One result from several runs of :func:`run_baselines` (rows and thresholds concatenated; first meta)."""
    out = {"meta": dict(results[0]["meta"]), "thresholds": {}, "rows": []}
    for r in results:
        out["thresholds"].update(r["thresholds"])
        out["rows"] += [row for row in r["rows"] if row not in out["rows"]]
    out["meta"]["merged_from"] = [r["meta"].get("commit") for r in results]
    return out


def write_outputs(res: dict, out: str | Path, jscc_results: Sequence[str | Path] = (),
                  jscc_labels: Sequence[str] | None = None) -> str:
    """Write JSON, markdown and one plot per channel (digital chains, ideal, and any JSCC/diffusion JSON)."""
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    (o / "baselines.json").write_text(json.dumps(res, indent=2) + "\n")
    m = res["meta"]
    lines = [f"Eval set: {m['eval_set']} ({m['n_images']} images), k/n = {m['ratio']:.4g}, commit {m['commit']}; "
             f"concealment: {m['concealment']}", "",
             "| chain | channel | SNR (dB) | MCS | images decoded | bpp | PSNR (dB) | MS-SSIM |",
             "|---|---|---:|---|---:|---:|---:|---:|"]
    for r in res["rows"]:
        lines.append(f"| {r['chain']} | {r['channel']} | {r['snr_db']:g} | {r['mcs']} | {100 * r['success']:.0f} % | "
                     f"{r['bpp']:.3f} | {r['psnr']:.2f} | {r['ms_ssim']:.4f} |")
    lines += ["", "AWGN waterfall thresholds (SNR in dB at 10 % block error rate) per MCS:", "",
              "| code | MCS | threshold (dB) |", "|---|---|---:|"]
    for code, th in res["thresholds"].items():
        lines += [f"| {code} | {k} | {v:.2f} |" for k, v in th.items()]
    md = "\n".join(lines)
    (o / "baselines.md").write_text(md + "\n")
    _plot(res, o, [json.loads(Path(p).read_text()) for p in jscc_results], jscc_labels)
    return md


def _jscc_curves(d: dict, kind: str, keep: Sequence[str] | None) -> dict[str, list[tuple[float, float]]]:
    """``label -> [(snr_db, psnr)]`` from a ``jscc-rt eval`` / ``eval-diffusion`` JSON or a ``bench pareto`` JSON
    (its torch rows; AWGN), keeping the labels in ``keep`` when given."""
    rows = d.get("results") or d.get("rows") or [p for p in d.get("points", []) if p.get("backend") == "torch"]
    curves: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        if r.get("channel", "awgn") != kind or r.get("start", "matched") != "matched":
            continue
        name, steps = r.get("model") or r.get("receiver") or r.get("sampler"), r.get("steps") or 0
        label = f"{name} x{steps}" if steps else str(name)
        if keep is None or label in keep:
            curves.setdefault(label, []).append((r["snr_db"], r["psnr"]))
    return {k: sorted(v) for k, v in curves.items()}


def _plot(res: dict, o: Path, others: list[dict], keep: Sequence[str] | None = None) -> None:
    from jscc_rt.eval.plots import finish, pyplot

    plt = pyplot()

    for kind in sorted({r["channel"] for r in res["rows"]}):
        fig, ax = plt.subplots(figsize=(6.8, 4.6))
        for chain in dict.fromkeys(r["chain"] for r in res["rows"]):
            sel = sorted((r for r in res["rows"] if r["chain"] == chain and r["channel"] == kind),
                         key=lambda r: r["snr_db"])
            style = "--" if chain.endswith("ideal") else "-s"
            ax.plot([r["snr_db"] for r in sel], [r["psnr"] for r in sel], style, ms=4, label=chain)
        for d in others:
            for label, pts in _jscc_curves(d, kind, keep).items():
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o", ms=3, label=label)
        finish(fig, ax, o / f"psnr_vs_snr_{kind}.png", xlabel="SNR (dB)", ylabel="PSNR (dB)",
               title=f"Kodak, k/n = {res['meta']['ratio']:.4g}, {kind}: separate coding vs JSCC")
