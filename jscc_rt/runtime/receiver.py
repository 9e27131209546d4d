"""``jscc_rt.Receiver``: received symbols + SNR (+ CSI) -> images, on any runner (torch, onnxruntime, tensorrt).

The receiver equalizes (when given raw symbols and the channel estimate ``h_hat``), computes each sample's
effective noise variance, and runs one receiver graph (diffusion steps unrolled, then the JSCC decoder). Inputs are
validated: wrong shapes or dtypes, non-finite values, SNRs outside [-20, 40] dB and image sizes that do not match
the symbol count raise :class:`~jscc_rt.JsccInputError` naming the value.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import torch

from jscc_rt._validate import (
    JsccInputError,
    check_block_len,
    check_csi_err_var,
    check_h_hat,
    check_image_size,
    check_snr_db,
    check_steps,
    check_symbol_power_bound,
    check_tensor,
)
from jscc_rt.channel.complex_ops import abs2, cmul, conj
from jscc_rt.channel.snr import snr_db_to_noise_var
from jscc_rt.diffusion.receiver import (
    DECODER_SNR_AFTER_DENOISING_DB,
    check_decoder_conditioning,
    trained_snr_range_db,
    warn_outside_trained,
)
from jscc_rt.diffusion.schedule import NoiseSchedule
from jscc_rt.runtime.graphs import BudgetReceiverGraph, ReceiverGraph
from jscc_rt.kernels.tx_channel_rx.naive import expand_blocks, n_blocks
from jscc_rt.models import load_model
from jscc_rt.models.config import parse_ratio
from jscc_rt.models.rate import pad_latent
from jscc_rt.models.checkpoint import check_denoiser_pairing
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.runtime.runners import OnnxRuntimeRunner, Runner, TensorRTRunner, TorchRunner


def graph_from_sidecar(meta: dict) -> ReceiverGraph | BudgetReceiverGraph:
    """Rebuild the torch receiver graph an ONNX sidecar describes (from its source checkpoints)."""
    jscc = load_model(meta["jscc_checkpoint"])
    if getattr(jscc.config, "rate_adaptive", False):
        return BudgetReceiverGraph(jscc).eval()
    den = None
    if meta.get("steps"):
        den = load_model(meta["denoiser_checkpoint"], expect="DenoiserConfig")
    sched = NoiseSchedule(**meta["schedule"]) if "schedule" in meta else NoiseSchedule()
    return ReceiverGraph(jscc, den, sched, meta.get("steps") or 0, decoder_snr_db=meta.get("decoder_snr_db"),
                         eta=_sidecar_eta(meta)).eval()


def _sidecar_eta(meta: dict) -> float:
    """The consistency re-noising of an exported receiver: its sidecar's ``eta``, except for graphs exported before
    the deterministic sampler existed, which took ``noise`` (fresh re-noising, eta = 1) while writing ``eta: 0``."""
    if "noise" in meta.get("inputs", ()) and not meta.get("eta"):
        return 1.0
    return float(meta.get("eta", 0.0))


class Receiver:
    """Embeddable receiver. Build with :meth:`from_checkpoints` (torch) or :meth:`from_onnx` / :meth:`from_engine`.

    Call with ``symbols`` ``(B, k, 2)`` and ``snr_db`` (scalar or ``(B,)``) plus ``image_size=(H, W)``; pass
    ``h_hat`` ``(B, NB, 2)`` (and ``block_len``, ``csi_err_var``) when the symbols are raw (not yet equalized).
    Returns ``(B, 3, H, W)`` float32 images in [0, 1].

    A rate-adaptive model (``min_latent_channels > 0``, :mod:`jscc_rt.models.rate`) takes any budget in its range
    from the symbol count: ``k = c (H/s)(W/s) / 2`` for an even ``c`` in ``[min_latent_channels, latent_channels]``;
    pass ``ratio=`` (k/n) to have the count checked against the announced budget.
    """

    def __init__(self, runner: Runner, *, latent_channels: int, stride: int, steps: int, sampler: str | None,
                 power: float = 1.0, min_latent_channels: int = 0, needs_noise: bool = False,
                 trained_snr_db: tuple[float, float] | None = None, schedule: NoiseSchedule | None = None) -> None:
        """``needs_noise``: the receiver graph takes fresh sampler noise (a consistency receiver with ``eta > 0``).
        ``trained_snr_db``: the denoiser's training SNR range (dB); with ``steps > 0``, :meth:`prepare` warns for
        samples whose effective SNR lies outside it (``schedule``: the denoiser's, to name their start steps)."""
        self.runner, self.c, self.stride, self.steps, self.sampler, self.power = (
            runner, latent_channels, stride, steps, sampler, power)
        self.c_min, self.needs_noise = min_latent_channels, needs_noise
        self.trained_snr_db, self.schedule = trained_snr_db, schedule or NoiseSchedule()
        if not runner.loaded:
            runner.load()

    @classmethod
    def from_checkpoints(cls, jscc: str, denoiser: str | None = None, *, steps: int = 0, device: str = "cpu",
                         decoder_snr_db: float | None = DECODER_SNR_AFTER_DENOISING_DB) -> "Receiver":
        """A torch receiver from checkpoint paths or shipped names: the JSCC decoder alone (``steps=0``), or
        ``steps`` denoising steps of ``denoiser`` (DDIM, or consistency for a consistency checkpoint) first.

        Raises :class:`~jscc_rt.JsccInputError` for ``steps`` that is not an int in [0, schedule length], for
        ``steps > 0`` without a denoiser, and for a denoiser whose latent channels differ from the JSCC model's; warns
        (naming both sha256) when the denoiser was trained on another JSCC checkpoint with the same latent shape.
        A denoiser given with ``steps=0`` is not loaded.
        """
        steps = check_steps(steps)
        if steps and not denoiser:
            raise JsccInputError(f"steps={steps} needs a denoiser checkpoint; pass denoiser=... or steps=0 for the "
                                 "JSCC decoder alone")
        if decoder_snr_db is not None:
            decoder_snr_db = float(check_snr_db(decoder_snr_db, 1, name="decoder_snr_db")[0])
        jpath = resolve_checkpoint(jscc)
        model = load_model(jpath)
        if getattr(model.config, "rate_adaptive", False):
            if steps:
                raise JsccInputError(f"steps={steps}: a rate-adaptive model has no diffusion receiver; use steps=0")
            graph = BudgetReceiverGraph(model).eval()
            return cls(TorchRunner(graph, ["received", "noise_var", "snr_db", "channels"], device=device),
                       latent_channels=model.config.latent_channels, stride=model.stride, steps=0, sampler=None,
                       min_latent_channels=model.config.min_latent_channels)
        den = None
        if denoiser and steps:
            dpath = resolve_checkpoint(denoiser)
            den = load_model(dpath, expect="DenoiserConfig")
            check_denoiser_pairing(model, jpath, den, dpath)
            check_decoder_conditioning(model, decoder_snr_db)
        sched = NoiseSchedule(**den.meta["schedule"]) if den is not None else NoiseSchedule()  # type: ignore[attr-defined]
        if den is not None:
            check_steps(steps, max_steps=sched.num_steps)
        graph = ReceiverGraph(model, den, sched, steps if den is not None else 0, decoder_snr_db=decoder_snr_db)
        sampler = None if den is None else ("consistency" if graph.consistency else "ddim")
        names = ["received", "noise_var", "snr_db"] + (["noise"] if graph.needs_noise else [])
        return cls(TorchRunner(graph, names, device=device), latent_channels=model.config.latent_channels,
                   stride=model.stride, steps=graph.steps, sampler=sampler, needs_noise=graph.needs_noise,
                   trained_snr_db=None if den is None else trained_snr_range_db(den), schedule=sched)

    @classmethod
    def _from_sidecar(cls, runner: Runner, sidecar: Path) -> "Receiver":
        meta = json.loads(sidecar.read_text())
        if meta.get("graph") != "receiver":
            raise JsccInputError(f"{sidecar} describes a {meta.get('graph')!r} graph; a receiver_*.onnx is needed")
        return cls(runner, latent_channels=meta["jscc_config"]["latent_channels"], stride=meta["stride"],
                   steps=meta.get("steps") or 0, sampler=meta.get("sampler"),
                   min_latent_channels=meta["jscc_config"].get("min_latent_channels", 0),
                   needs_noise="noise" in meta.get("inputs", ()),
                   trained_snr_db=tuple(meta["denoiser_snr_range_db"]) if meta.get("denoiser_snr_range_db") else None,
                   schedule=NoiseSchedule(**meta["schedule"]) if "schedule" in meta else None)

    @classmethod
    def from_onnx(cls, path: str | Path, *, backend: str = "onnxruntime", threads: int = 0,
                  providers: tuple[str, ...] = ("CPUExecutionProvider",)) -> "Receiver":
        """A receiver on the fp32 ONNX receiver graph ``path``: ``backend`` one of
        :data:`~jscc_rt.runtime.backends.ONNX_BACKENDS` (``"openvino-bf16"`` is the fastest CPU path on CPUs with
        bf16; ``"onnxruntime-int8"`` runs the int8 variant beside ``path``), ``threads`` per backend (0 = one per
        CPU); ``providers`` for plain onnxruntime (e.g. CUDA)."""
        from jscc_rt.runtime.backends import onnx_runner

        p = Path(path)
        runner = (OnnxRuntimeRunner(p, providers=providers, threads=threads) if backend == "onnxruntime"
                  else onnx_runner(backend, p, threads=threads))
        return cls._from_sidecar(runner, p.with_suffix(".json"))

    @classmethod
    def from_engine(cls, engine: str | Path, onnx_path: str | Path) -> "Receiver":
        return cls._from_sidecar(TensorRTRunner(engine), Path(onnx_path).with_suffix(".json"))

    def prepare(self, symbols: torch.Tensor, snr_db, image_size: tuple[int, int], *, h_hat: torch.Tensor | None = None,
                block_len: int | None = None, csi_err_var: float = 0.0, generator: torch.Generator | None = None,
                ratio: Fraction | str | float | None = None) -> dict[str, torch.Tensor]:
        """Validate and equalize; returns the receiver graph's feeds.

        Every bad argument raises :class:`~jscc_rt.JsccInputError` naming the value: ``symbols`` not ``(B, k, 2)``
        float, non-finite, or with an average power above ``MAX_SYMBOL_POWER_RATIO`` (1e8) times the transmit
        power (also after equalization); ``image_size`` not two positive ints that are multiples of the stride and
        match ``k``; ``snr_db`` not a number / ``(B,)`` tensor in [-20, 40] dB; ``h_hat`` not ``(B, NB, 2)`` for
        ``NB = ceil(k / block_len)`` blocks, or with zero entries; ``block_len`` not None or an int >= 1 (a block
        longer than ``k`` symbols is one block); ``csi_err_var`` not in [0, 1); for a rate-adaptive model, a symbol
        count outside its budget range or off its granularity, or not matching ``ratio``.
        """
        check_tensor(symbols, "symbols", ndim=3, last_dim=2)
        b, k = symbols.shape[:2]
        if b == 0 or k == 0:
            raise JsccInputError(f"symbols must hold at least one sample and one symbol, got shape {tuple(symbols.shape)}")
        hh, ww = check_image_size(image_size, self.stride)
        sent = self._sent_channels(k, hh, ww, ratio)
        snr = check_snr_db(snr_db, b, device=symbols.device)
        block_len = check_block_len(block_len, k)
        csi_err_var = check_csi_err_var(csi_err_var)
        check_symbol_power_bound(symbols, self.power)
        y = symbols.float()
        nv = snr_db_to_noise_var(snr, self.power).float()
        eff = nv
        if h_hat is not None:
            check_h_hat(h_hat, b, n_blocks(k, block_len))
            hs = expand_blocks(h_hat.float(), k, block_len)
            g2 = abs2(hs)
            if bool((g2 == 0).any()):
                raise JsccInputError("h_hat has zero entries; cannot equalize (ZF) a zero channel estimate")
            y = cmul(y, conj(hs)) / g2.unsqueeze(-1)
            check_symbol_power_bound(y, self.power, name="equalized symbols",
                                     hint=f"; h_hat is nearly zero (min |h_hat|^2 = {float(g2.min()):.3g})")
            total = csi_err_var * self.power + nv.unsqueeze(1)
            eff = self.power / (self.power * g2 / total).mean(1)  # precision-averaged effective noise variance
        if self.steps:
            warn_outside_trained(10.0 * torch.log10(self.power / eff.double()), self.trained_snr_db, self.schedule)
        feeds = {"received": y.reshape(b, sent, hh // self.stride, ww // self.stride), "noise_var": eff,
                 "snr_db": snr.float()}
        if self.c_min:
            feeds["received"] = pad_latent(feeds["received"], self.c)
            feeds["channels"] = torch.full((b,), float(sent))
        if self.needs_noise:
            feeds["noise"] = torch.randn(b, self.steps - 1, self.c, hh // self.stride, ww // self.stride,
                                         generator=generator)
        return feeds

    def _sent_channels(self, k: int, hh: int, ww: int, ratio: Fraction | str | float | None) -> int:
        """Latent channels that ``k`` symbols per sample carry for an ``hh x ww`` image (checked, see :meth:`prepare`)."""
        cells = (hh // self.stride) * (ww // self.stride)
        n = 3 * hh * ww
        if not self.c_min:
            need = self.c * cells // 2
            if k != need:
                raise JsccInputError(f"{k} symbols per sample do not match image_size {(hh, ww)}: this model sends "
                                     f"{need} symbols for that size")
            if ratio is not None and parse_ratio(ratio) != Fraction(k, n):
                raise JsccInputError(f"announced ratio {parse_ratio(ratio)} differs from this fixed-rate model's "
                                     f"k/n = {Fraction(k, n)}")
            return self.c
        lo, hi = self.c_min * cells // 2, self.c * cells // 2
        if 2 * k % cells or (2 * k // cells) % 2 or not lo <= k <= hi:
            raise JsccInputError(f"{k} symbols per sample is no budget of this rate-adaptive model for image_size "
                                 f"{(hh, ww)}: it sends c (H/s)(W/s)/2 symbols for an even c in [{self.c_min}, "
                                 f"{self.c}], i.e. {lo}..{hi} in steps of {cells}")
        if ratio is not None and parse_ratio(ratio) != Fraction(k, n):
            raise JsccInputError(f"{k} symbols per sample do not match the announced ratio {parse_ratio(ratio)} for "
                                 f"image_size {(hh, ww)}: that budget is {parse_ratio(ratio) * n} symbols "
                                 f"(received k/n = {Fraction(k, n)})")
        return 2 * k // cells

    def __call__(self, symbols: torch.Tensor, snr_db, image_size: tuple[int, int], **kw) -> torch.Tensor:
        feeds = self.prepare(symbols, snr_db, image_size, **kw)
        return self.runner.infer(feeds)["images"].float()

    def close(self) -> None:
        self.runner.close()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
