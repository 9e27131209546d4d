"""``jscc_rt.Receiver``: received symbols + SNR (+ CSI) -> images, on any runner (torch, onnxruntime, tensorrt).

The receiver equalizes (when given raw symbols and the channel estimate ``h_hat``), computes each sample's
effective noise variance, and runs one receiver graph (diffusion steps unrolled, then the JSCC decoder). Inputs are
validated: wrong shapes or dtypes, non-finite values, SNRs outside [-20, 40] dB and image sizes that do not match
the symbol count raise :class:`~jscc_rt.JsccInputError` naming the value.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from jscc_rt._validate import JsccInputError, check_snr_db, check_tensor
from jscc_rt.channel.complex_ops import abs2, cmul, conj
from jscc_rt.channel.snr import snr_db_to_noise_var
from jscc_rt.diffusion.schedule import NoiseSchedule
from jscc_rt.export.graphs import ReceiverGraph
from jscc_rt.kernels.tx_channel_rx.naive import expand_blocks
from jscc_rt.models import load_model
from jscc_rt.models.registry import resolve_checkpoint
from jscc_rt.runtime.runners import OnnxRuntimeRunner, Runner, TensorRTRunner, TorchRunner


def graph_from_sidecar(meta: dict) -> ReceiverGraph:
    """Rebuild the torch receiver graph an ONNX sidecar describes (from its source checkpoints)."""
    jscc = load_model(meta["jscc_checkpoint"])
    den = None
    if meta.get("steps"):
        den = load_model(meta["denoiser_checkpoint"], expect="DenoiserConfig")
    sched = NoiseSchedule(**meta["schedule"]) if "schedule" in meta else NoiseSchedule()
    return ReceiverGraph(jscc, den, sched, meta.get("steps") or 0, decoder_snr_db=meta.get("decoder_snr_db")).eval()


class Receiver:
    """Embeddable receiver. Build with :meth:`from_checkpoints` (torch) or :meth:`from_onnx` / :meth:`from_engine`.

    Call with ``symbols`` ``(B, k, 2)`` and ``snr_db`` (scalar or ``(B,)``) plus ``image_size=(H, W)``; pass
    ``h_hat`` ``(B, NB, 2)`` (and ``block_len``, ``csi_err_var``) when the symbols are raw (not yet equalized).
    Returns ``(B, 3, H, W)`` float32 images in [0, 1].
    """

    def __init__(self, runner: Runner, *, latent_channels: int, stride: int, steps: int, sampler: str | None,
                 power: float = 1.0) -> None:
        self.runner, self.c, self.stride, self.steps, self.sampler, self.power = (
            runner, latent_channels, stride, steps, sampler, power)
        if not runner.loaded:
            runner.load()

    @classmethod
    def from_checkpoints(cls, jscc: str, denoiser: str | None = None, *, steps: int = 0, device: str = "cpu",
                         decoder_snr_db: float | None = None) -> "Receiver":
        model = load_model(resolve_checkpoint(jscc))
        den = load_model(resolve_checkpoint(denoiser), expect="DenoiserConfig") if denoiser and steps else None
        sched = NoiseSchedule(**den.meta["schedule"]) if den is not None else NoiseSchedule()  # type: ignore[attr-defined]
        graph = ReceiverGraph(model, den, sched, steps if den is not None else 0, decoder_snr_db=decoder_snr_db)
        sampler = None if den is None else ("consistency" if graph.consistency else "ddim")
        names = ["received", "noise_var", "snr_db"] + (["noise"] if graph.consistency and graph.steps > 1 else [])
        return cls(TorchRunner(graph, names, device=device), latent_channels=model.config.latent_channels,
                   stride=model.stride, steps=graph.steps, sampler=sampler)

    @classmethod
    def _from_sidecar(cls, runner: Runner, sidecar: Path) -> "Receiver":
        meta = json.loads(sidecar.read_text())
        if meta.get("graph") != "receiver":
            raise JsccInputError(f"{sidecar} describes a {meta.get('graph')!r} graph; a receiver_*.onnx is needed")
        return cls(runner, latent_channels=meta["jscc_config"]["latent_channels"], stride=meta["stride"],
                   steps=meta.get("steps") or 0, sampler=meta.get("sampler"))

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
                block_len: int | None = None, csi_err_var: float = 0.0,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Validate and equalize; returns the receiver graph's feeds."""
        check_tensor(symbols, "symbols", ndim=3, last_dim=2)
        b, k = symbols.shape[:2]
        hh, ww = image_size
        if hh % self.stride or ww % self.stride:
            raise JsccInputError(f"image_size {image_size} must be multiples of the stride {self.stride}")
        need = self.c * (hh // self.stride) * (ww // self.stride) // 2
        if k != need:
            raise JsccInputError(f"{k} symbols per sample do not match image_size {image_size}: this model sends "
                                 f"{need} symbols for that size")
        snr = check_snr_db(snr_db, b, device=symbols.device)
        y = symbols.float()
        nv = snr_db_to_noise_var(snr, self.power).float()
        eff = nv
        if h_hat is not None:
            check_tensor(h_hat, "h_hat", ndim=3, last_dim=2)
            hs = expand_blocks(h_hat.float(), k, block_len)
            g2 = abs2(hs)
            if bool((g2 == 0).any()):
                raise JsccInputError("h_hat has zero entries; cannot equalize (ZF) a zero channel estimate")
            y = cmul(y, conj(hs)) / g2.unsqueeze(-1)
            total = csi_err_var * self.power + nv.unsqueeze(1)
            eff = self.power / (self.power * g2 / total).mean(1)  # precision-averaged effective noise variance
        feeds = {"received": y.reshape(b, self.c, hh // self.stride, ww // self.stride), "noise_var": eff,
                 "snr_db": snr.float()}
        if self.sampler == "consistency" and self.steps > 1:
            feeds["noise"] = torch.randn(b, self.steps - 1, self.c, hh // self.stride, ww // self.stride,
                                         generator=generator)
        return feeds

    def __call__(self, symbols: torch.Tensor, snr_db, image_size: tuple[int, int], **kw) -> torch.Tensor:
        feeds = self.prepare(symbols, snr_db, image_size, **kw)
        return self.runner.infer(feeds)["images"].float()

    def close(self) -> None:
        self.runner.close()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
