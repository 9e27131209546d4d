"""The technical report's figures and model table, drawn from result JSONs only (``jscc-rt report``; nothing is
re-measured): PSNR vs SNR over AWGN and Rayleigh for every JSCC model evaluated on Kodak, the digital baselines and
their capacity-achieving ideal, beside the published anchors (labelled as published); the latency-quality Pareto
frontier (``bench pareto``'s ``pareto.json``) and the unrolled receiver's per-iteration PSNR and learned step sizes
(``eval unrolled``'s ``unrolled.json``); and one table of parameters, multiply-accumulates per 512x768 image, and
Kodak PSNR at 0 and 10 dB."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.eval.complexity import count_macs, count_params
from jscc_rt.eval.published import published_psnr_vs_snr

KODAK_HW = (512, 768)


def recorded_date(path: Path, data: Any = None) -> str:
    """When the run that wrote ``path`` (a result JSON) finished: its ``meta.date`` (ISO 8601, UTC), else the file's
    modification time in the same format. A fresh clone's modification times are checkout order, not measurement
    order, so every writer that records a date is ordered by it. ``data``: the file's parsed JSON, when the caller
    has it (else the file is read)."""
    if data is None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = None
    date = data.get("meta", {}).get("date") if isinstance(data, dict) else None
    if isinstance(date, str) and date:
        return datetime.fromisoformat(date).astimezone(timezone.utc).isoformat(timespec="seconds")
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")


def oldest_first(paths: Iterable[Path]) -> list[Path]:
    """Result files ordered by :func:`recorded_date`, then path: where several files hold the same model, ratio and
    channel, the last one (the newest measurement) wins."""
    return [p for p, _ in loaded_oldest_first(paths)]


def loaded_oldest_first(paths: Iterable[Path]) -> list[tuple[Path, Any]]:
    """``(path, parsed JSON)`` of each result file, in :func:`oldest_first` order; each file is read once."""
    loaded = []
    for p in paths:
        try:
            loaded.append((p, json.loads(p.read_text())))
        except (OSError, ValueError) as e:
            raise JsccInputError(f"result file {p} cannot be read as JSON ({type(e).__name__}: {e}); rerun the "
                                 "command that wrote it, or move it out of the results folder") from e
    return sorted(loaded, key=lambda pd: (recorded_date(pd[0], pd[1]), str(pd[0])))


def kodak_results(results_dir: str | Path, models: Sequence[str] | None = None) -> list[dict]:
    """Every ``jscc-rt eval`` row on the full Kodak set under ``results_dir/*/results.json`` (``model``, ``channel``,
    ``snr_db``, ``psnr``, ``ratio`` where recorded, ...; the file the row came from in ``source``); the newest file
    (:func:`oldest_first`) wins per model, ratio and channel. ``models``: keep only the rows of these names (None:
    every model, training runs' checkpoints included)."""
    rows: dict[tuple[str, str, str], list[dict]] = {}
    key = lambda r: (r["model"], str(row_ratio(r)), r["channel"])  # noqa: E731  (older files carry no ratio)
    for f, d in loaded_oldest_first(Path(results_dir).glob("*/results.json")):
        if d.get("meta", {}).get("eval_set") != "kodak":
            continue
        for k in sorted({key(r) for r in d["results"]}):
            rows[k] = [{**r, "source": str(f)} for r in d["results"] if key(r) == k]
    return [r for rs in rows.values() for r in sorted(rs, key=lambda r: r["snr_db"])
            if models is None or r["model"] in models]


def row_ratio(row: dict) -> Fraction | None:
    """The k/n a result row was measured at: its ``ratio`` (rate-adaptive models), else the model's own."""
    return Fraction(row["ratio"]) if row.get("ratio") else model_ratio(row["model"])


def baseline_rows(results_dir: str | Path) -> list[dict]:
    """Digital-baseline rows of every ``results_dir/baselines*/baselines.json`` on Kodak, each with the ``ratio``
    (a Fraction) its run used; the newest file wins per ratio."""
    by_ratio: dict[Fraction, list[dict]] = {}
    for f, d in loaded_oldest_first(Path(results_dir).glob("baselines*/baselines.json")):
        meta = d.get("meta", {})
        if meta.get("eval_set") != "kodak":
            continue
        r = Fraction(meta["ratio"]).limit_denominator(1 << 12)
        by_ratio[r] = [{**row, "ratio": r, "source": str(f)} for row in d["rows"]]
    return [row for rows in by_ratio.values() for row in rows]


@lru_cache(maxsize=None)
def model_ratio(name: str) -> Fraction | None:
    """Bandwidth ratio k/n of a shipped model (None when the name is not a shipped JSCC model)."""
    from jscc_rt.models import load_model
    from jscc_rt.models.registry import resolve_checkpoint

    try:
        return load_model(resolve_checkpoint(name)).config.ratio  # type: ignore[attr-defined]
    except (FileNotFoundError, JsccInputError):
        return None


def plot_all_methods(results_dir: str | Path, channel: str, path: Path, published: str | Path | None,
                     ratio: Fraction = Fraction(1, 16), models: Sequence[str] | None = None) -> None:
    """PSNR vs SNR on Kodak for ``channel`` at bandwidth ratio ``ratio``: the JSCC models of that ratio (of
    ``models``, None: all), the digital baselines (``baselines/baselines.json``, run at 1/16), their
    capacity-achieving ideal, and the published anchors."""
    from jscc_rt.eval.plots import finish, pyplot

    fig, ax = pyplot().subplots(figsize=(9.6, 4.8))
    jscc = [r for r in kodak_results(results_dir, models) if r["channel"] == channel and row_ratio(r) == ratio]
    for model in dict.fromkeys(r["model"] for r in jscc):
        rs = [r for r in jscc if r["model"] == model]
        ax.plot([r["snr_db"] for r in rs], [r["psnr"] for r in rs], marker="o", label=model)
    rows = [r for r in baseline_rows(results_dir) if r["channel"] == channel and r["ratio"] == ratio]
    if rows:
        for chain in dict.fromkeys(r["chain"] for r in rows):
            rs = sorted((r for r in rows if r["chain"] == chain), key=lambda r: r["snr_db"])
            ideal = chain.endswith("+ideal")
            ax.plot([r["snr_db"] for r in rs], [r["psnr"] for r in rs], linestyle=":" if ideal else "--",
                    marker="" if ideal else "s", label=f"{chain} (capacity bound)" if ideal else chain)
    if published:
        for i, (label, (snr, val)) in enumerate(published_psnr_vs_snr(published, channel).items()):
            ax.plot(snr, val, color=str(min(0.3 + 0.15 * i, 0.8)), marker="x", linestyle="-.",
                    label=f"(published) {label}")
    finish(fig, ax, path, xlabel="channel SNR (dB)", ylabel="PSNR (dB)",
           title=f"Kodak, k/n = {ratio}, {channel.upper()}", legend_size=7, legend_outside=True)


def plot_psnr_vs_bandwidth(results_dir: str | Path, path: Path, published: str | Path | None,
                           snrs: tuple[float, ...] = (0.0, 10.0, 20.0), models: Sequence[str] | None = None) -> None:
    """PSNR vs k/n on Kodak over AWGN, one panel per SNR: every JSCC model (of ``models``, None: all) at the ratios
    it was evaluated at (a rate-adaptive model is one line), the digital baselines and their capacity-achieving ideal
    at each ratio they were run at, and the published PSNR-vs-CBR points at that SNR (labelled as published)."""
    from jscc_rt.eval.plots import pyplot
    from jscc_rt.eval.published import published_psnr_vs_ratio

    plt = pyplot()
    fig, axes = plt.subplots(1, len(snrs), figsize=(5.2 * len(snrs), 4.6), sharey=True, squeeze=False)
    jscc = [r for r in kodak_results(results_dir, models) if r["channel"] == "awgn" and row_ratio(r) is not None]
    base = [r for r in baseline_rows(results_dir) if r["channel"] == "awgn"]
    names = list(dict.fromkeys([r["model"] for r in jscc] + [r["chain"] for r in base]))
    cmap = plt.get_cmap("tab20")
    color = {n: cmap(i % 20) for i, n in enumerate(names)}  # one color per model or chain, the same in every panel
    for ax, snr in zip(axes[0], snrs):
        for model in dict.fromkeys(r["model"] for r in jscc):
            rs = sorted((r for r in jscc if r["model"] == model and r["snr_db"] == snr), key=row_ratio)
            if rs:
                ax.plot([float(row_ratio(r)) for r in rs], [r["psnr"] for r in rs], marker="o", color=color[model],
                        linestyle="-" if len(rs) > 1 else "none", label=model)
        for chain in dict.fromkeys(r["chain"] for r in base):
            rs = sorted((r for r in base if r["chain"] == chain and r["snr_db"] == snr), key=lambda r: r["ratio"])
            if rs:
                ideal = chain.endswith("+ideal")
                ax.plot([float(r["ratio"]) for r in rs], [r["psnr"] for r in rs], linestyle=":" if ideal else "--",
                        marker="" if ideal and len(rs) > 1 else "s", color=color[chain],
                        label=f"{chain} (capacity bound)" if ideal else chain)
        for i, (label, (cbr, val)) in enumerate((published_psnr_vs_ratio(published, snr) if published else {}).items()):
            ax.plot(cbr, val, color=str(min(0.3 + 0.15 * i, 0.8)), marker="x", linestyle="-.",
                    label=f"(published) {label}")
        ax.set_xscale("log", base=2)
        ax.grid(alpha=0.3)
        ax.set(title=f"AWGN {snr:g} dB", xlabel="bandwidth ratio k/n")
    axes[0][0].set_ylabel("PSNR (dB), Kodak")
    legend = {}  # one legend for all panels: every label once, in drawing order
    for ax in axes[0]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, h)
    fig.legend(list(legend.values()), list(legend), fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def perceptual_points(results_dir: str | Path, snr_db: float) -> list[dict]:
    """``{"label", "psnr", "flip"}`` for every Kodak AWGN result at ``snr_db`` that has FLIP: ``jscc-rt eval`` rows
    (a model, at its ratio) and ``jscc-rt eval diffusion`` rows (a receiver plan on a model, matched start, no
    SNR error)."""
    pts = [{"label": r["model"] + (f" @ {r['ratio']}" if r.get("ratio") and model_ratio(r["model"]) != Fraction(
            r["ratio"]) else ""), "psnr": r["psnr"], "flip": r["flip"]}
           for r in kodak_results(results_dir)
           if r["channel"] == "awgn" and r["snr_db"] == snr_db and r.get("flip") is not None]
    for _, rows in loaded_oldest_first(Path(results_dir).glob("*/diffusion.json")):
        for r in rows:
            if (r.get("eval_set") == "kodak" and r.get("channel") == "awgn" and r["snr_db"] == snr_db
                    and r.get("flip") is not None and r.get("start") == "matched" and not r.get("snr_error_db")):
                pts.append({"label": f"{r.get('model', '?')} {r['receiver']} x{r['steps']}", "psnr": r["psnr"],
                            "flip": r["flip"]})
    return pts


def plot_perceptual(results_dir: str | Path, path: Path, snrs: tuple[float, ...] = (0.0, 10.0)) -> None:
    """FLIP (lower is better) against PSNR on Kodak over AWGN, one panel per SNR, one point per model or receiver
    (:func:`perceptual_points`): which receivers trade PSNR for perceptual quality."""
    from jscc_rt.eval.plots import pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, len(snrs), figsize=(5.6 * len(snrs), 4.4), squeeze=False)
    for ax, snr in zip(axes[0], snrs):
        for p in perceptual_points(results_dir, snr):
            ax.scatter(p["psnr"], p["flip"], s=18)
            ax.annotate(p["label"], (p["psnr"], p["flip"]), fontsize=6, xytext=(3, 2), textcoords="offset points")
        ax.set(title=f"Kodak, AWGN {snr:g} dB", xlabel="PSNR (dB)", ylabel="FLIP (lower is better)")
        ax.grid(alpha=0.3)
    save(fig, path)


def decoder_latency(results_dir: str | Path, models: Sequence[str] | None = None) -> dict[str, dict]:
    """Per model, the decoder-alone receiver's p50 latency (ms) on one Kodak image from the newest
    ``results_dir/*/latency.json`` rows that name their model (``jscc-rt export latency``): ``{"torch_ms",
    "fastest_ms", "fastest": "backend precision", "threads", "device"}`` (a rate-adaptive model at its 1/16 budget).

    Latency is only comparable on one machine, so every model's row comes from one device: the one whose rows cover
    the most of ``models`` (None: of every model seen; ties: the device measured last), e.g. the run that timed the
    whole table, not a later run of one model on another CPU. A file is one run on one machine, named by the shortest
    ``device`` of its rows with OpenVINO's `` (OpenVINO ...)`` suffix removed; files without one count as one
    unnamed device."""
    per_device: dict[str | None, dict[str, dict]] = {}
    for _, d in loaded_oldest_first(Path(results_dir).glob("*/latency.json")):
        rows = [r for r in (d.get("rows", []) if isinstance(d, dict) else d) if isinstance(r, dict) and r.get("model")
                and r["graph"] == "receiver_decoder" and r.get("ratio", "1/16") == "1/16"]
        # one run is one machine; its backends name that CPU with more or less detail (OpenVINO appends its
        # capabilities), so the run's device is the shortest name among its rows
        dev = min((r["device"].split(" (OpenVINO")[0] for r in rows if r.get("device")), key=len, default=None)
        for model in {r["model"] for r in rows}:
            rs = [r for r in rows if r["model"] == model]
            torch_ms = next((r["latency_ms_p50"] for r in rs if r["backend"] == "torch"), None)
            best = min(rs, key=lambda r: r["latency_ms_p50"])
            per_device.setdefault(dev, {})[model] = {
                "torch_ms": torch_ms, "fastest_ms": best["latency_ms_p50"],
                "fastest": f"{best['backend']} {best['precision']}", "threads": best["threads"], "device": dev}
        if dev in per_device:
            per_device[dev] = per_device.pop(dev)  # most recently measured device last
    if not per_device:
        return {}
    covered = lambda dv: len([m for m in per_device[dv] if models is None or m in models])  # noqa: E731
    return per_device[max(reversed(list(per_device)), key=covered)]


def model_table(results_dir: str | Path, models: list[str]) -> list[dict]:
    """One row per shipped model: parameters, encoder / decoder GMAC per 512x768 image, the decoder's latency
    (:func:`decoder_latency`, None where not measured), Kodak PSNR (AWGN) at 0 and 10 dB from the newest eval that
    has it (a rate-adaptive model's at 1/16)."""
    from jscc_rt.models import load_model
    from jscc_rt.models.registry import resolve_checkpoint

    res = kodak_results(results_dir)
    lat = decoder_latency(results_dir, models)
    out = []
    for name in models:
        m = load_model(resolve_checkpoint(name)).eval()
        x, snr = torch.rand(1, 3, *KODAK_HW), torch.tensor([10.0])
        with torch.no_grad():
            z, _ = m.encode_latent(x, snr)
        cfg = m.config  # type: ignore[attr-defined]
        want = Fraction(1, 16) if getattr(cfg, "rate_adaptive", False) and cfg.min_ratio <= Fraction(1, 16) <= \
            cfg.ratio else cfg.ratio
        psnr = {r["snr_db"]: r["psnr"] for r in res if r["model"] == name and r["channel"] == "awgn"
                and row_ratio(r) == want}
        out.append({"model": name, "params": count_params(m), "encoder_gmac": count_macs(m.encoder, x, snr) / 1e9,
                    "decoder_gmac": count_macs(m.decoder, z, snr) / 1e9, "psnr_0db": psnr.get(0.0),
                    "psnr_10db": psnr.get(10.0), "latency": lat.get(name)})
    return out


def table_markdown(rows: list[dict]) -> str:
    f = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
    def lat(r: dict) -> str:
        v = r.get("latency")
        if not v:
            return "n/a"
        return f"{f(v['torch_ms'])} / {v['fastest_ms']:.1f} ({v['fastest']}, {v['threads']} threads)"

    devices = {r["latency"].get("device") for r in rows if r.get("latency")}
    on = f" on {devices.pop()}" if len(devices) == 1 and None not in devices else ""
    lines = [f"| model | parameters | encoder GMAC | decoder GMAC | decoder latency ms{on}: torch fp32 / fastest CPU | "
             "Kodak PSNR 0 dB | Kodak PSNR 10 dB |", "|---|---:|---:|---:|---|---:|---:|"]
    lines += [f"| {r['model']} | {r['params'] / 1e6:.2f} M | {r['encoder_gmac']:.1f} | {r['decoder_gmac']:.1f} | "
              f"{lat(r)} | {f(r['psnr_0db'])} | {f(r['psnr_10db'])} |" for r in rows]
    return "\n".join(lines)


def newest_pareto(results_dir: str | Path) -> Path | None:
    """The newest (by :func:`recorded_date`) ``pareto.json`` anywhere under ``results_dir`` (``jscc-rt bench pareto``),
    or None when there is none."""
    found = oldest_first(Path(results_dir).rglob("pareto.json"))
    return found[-1] if found else None


def write_report_figures(results_dir: str | Path, out: str | Path, models: list[str],
                         published: str | Path | None = None) -> str:
    """Draw the figures into ``out`` (the PSNR-vs-SNR and PSNR-vs-k/n figures show the JSCC rows of ``models`` only,
    not every training run evaluated into ``results_dir``) and write ``out/models.md``; returns that table, followed
    by one line per figure whose result JSON is missing (that figure is skipped): ``pareto_snr{S}.png`` per SNR from
    the newest ``results_dir/**/pareto.json`` (:func:`newest_pareto`) and ``unrolled.png`` from
    ``results_dir/unrolled/unrolled.json``."""
    from jscc_rt.eval.pareto_plot import plot_pareto
    from jscc_rt.eval.unrolled_report import plot_unrolled

    rd, o = Path(results_dir), Path(out)
    if not rd.is_dir():
        raise JsccInputError(f"results folder {str(rd)!r} not found; pass --results docs/results")
    o.mkdir(parents=True, exist_ok=True)
    for ch in ("awgn", "rayleigh"):
        plot_all_methods(rd, ch, o / f"psnr_vs_snr_{ch}.png", published, models=models)
    plot_psnr_vs_bandwidth(rd, o / "psnr_vs_ratio.png", published, models=models)
    plot_perceptual(rd, o / "perceptual.png")
    skipped = []
    pareto = newest_pareto(rd)
    points = json.loads(pareto.read_text())["points"] if pareto else []
    if not points:
        why = f"no points in {pareto}" if pareto else f"no pareto.json under {rd}"
        skipped.append(f"pareto_snr*.png: {why} (jscc-rt bench pareto)")
    plot_pareto(points, o)
    unrolled = rd / "unrolled" / "unrolled.json"
    if unrolled.is_file():
        plot_unrolled(json.loads(unrolled.read_text()), o / "unrolled.png")
    else:
        skipped.append(f"unrolled.png: no {unrolled} (jscc-rt eval unrolled)")
    md = table_markdown(model_table(rd, models))
    (o / "models.md").write_text(md + "\n")
    return "\n".join([md] + ([""] + [f"Figure skipped, {s}" for s in skipped] if skipped else []))
