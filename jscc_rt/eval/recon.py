"""Reconstructions of the worst and best images by PSNR (``--save-recon N``): PNGs and side-by-side strips."""
from __future__ import annotations

import re
from pathlib import Path

import torch

from jscc_rt._validate import JsccInputError, check_int

#: White gap (pixels) between the original and the reconstruction in a strip.
STRIP_GAP = 4


def check_save_recon(n: int | None, out: str | Path | None) -> int:
    """``n`` (0 = off) as an int >= 0; saving needs an output folder."""
    v = 0 if n is None else check_int(n, "save_recon", minimum=0, fix="pass how many worst/best images to save")
    if v and out is None:
        raise JsccInputError(f"--save-recon {v} needs --out DIR to write the reconstructions into")
    return v


def strip(original: torch.Tensor, recon: torch.Tensor, gap: int = STRIP_GAP) -> torch.Tensor:
    """``(3, H, W)`` original | white gap | reconstruction, side by side: ``(3, H, 2W + gap)``."""
    white = torch.ones(3, original.shape[-2], gap, dtype=original.dtype)
    return torch.cat((original, white, recon.to(original.dtype)), dim=-1)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name) or "image"


class ReconSaver:
    """Collects one reconstruction per image of a group (e.g. one model, channel and SNR), then writes the ``n``
    worst and ``n`` best by PSNR into a sub-folder. Reconstructions are kept as uint8 until the group is flushed."""

    def __init__(self, out_dir: str | Path, n: int) -> None:
        self.out_dir, self.n = Path(out_dir), int(n)
        self._items: list[tuple[str, torch.Tensor, torch.Tensor, float]] = []
        #: Every record :meth:`flush` returned so far.
        self.written: list[dict] = []

    def add(self, name: str, original: torch.Tensor, recon: torch.Tensor, psnr: float) -> None:
        """``original``/``recon``: ``(3, H, W)`` or ``(1, 3, H, W)`` float in [0, 1]; ``psnr`` ranks the image."""
        if self.n <= 0:
            return
        q = (recon.detach().reshape(recon.shape[-3:]).float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu()
        self._items.append((name, original.detach().reshape(original.shape[-3:]).cpu(), q, float(psnr)))

    def rescore(self, psnr: float) -> None:
        """Replace the ranking PSNR of the image added last (e.g. by its mean over several channel draws)."""
        if self._items:
            name, orig, q, _ = self._items[-1]
            self._items[-1] = (name, orig, q, float(psnr))

    def flush(self, group: str) -> list[dict]:
        """Write ``<out_dir>/<group>/{worst,best}K_<name>.png`` and ``..._strip.png`` (original | reconstruction);
        returns one record per written image and forgets the group."""
        from jscc_rt.data.images import save_image

        items, self._items = sorted(self._items, key=lambda t: t[3]), []
        if self.n <= 0 or not items:
            return []
        picks = [("worst", i + 1, it) for i, it in enumerate(items[: self.n])]
        taken = {it[0] for _, _, it in picks}
        best = [it for it in reversed(items) if it[0] not in taken][: self.n]
        picks += [("best", i + 1, it) for i, it in enumerate(best)]
        d = self.out_dir / group
        d.mkdir(parents=True, exist_ok=True)
        records = []
        for kind, rank, (name, orig, q, p) in picks:
            rec = q.float() / 255.0
            stem = f"{kind}{rank}_{_safe(name)}"
            save_image(rec, d / f"{stem}.png")
            save_image(strip(orig.float().clamp(0, 1), rec), d / f"{stem}_strip.png")
            records.append({"group": group, "rank": f"{kind}{rank}", "image": name, "psnr": p,
                            "recon": str(d / f"{stem}.png"), "strip": str(d / f"{stem}_strip.png")})
        self.written += records
        return records
