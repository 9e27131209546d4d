"""Random-crop training sampler and full-image evaluation padding."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from jscc_rt._validate import JsccInputError


class RandomCropSampler:
    """Endless stream of random ``crop x crop`` batches from a list of images, with random horizontal flips.

    Images smaller than the crop are rejected up front. Deterministic for a given ``seed``.
    """

    def __init__(self, images: list[torch.Tensor], crop: int, batch_size: int, *, seed: int = 0) -> None:
        if not images:
            raise JsccInputError("RandomCropSampler needs at least one image")
        small = [i for i, im in enumerate(images) if min(im.shape[-2:]) < crop]
        if small:
            raise JsccInputError(f"images {small} are smaller than the crop size {crop}; use a smaller --crop")
        self.images, self.crop, self.batch_size = images, crop, batch_size
        self.gen = torch.Generator().manual_seed(seed)

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])

    def sample(self) -> torch.Tensor:
        """One batch ``(batch_size, 3, crop, crop)`` float32 in [0, 1]."""
        g, c = self.gen, self.crop
        idx = torch.randint(len(self.images), (self.batch_size,), generator=g).tolist()
        out = []
        for i in idx:
            im = self.images[i]
            h, w = im.shape[-2:]
            y = int(torch.randint(h - c + 1, (1,), generator=g))
            x = int(torch.randint(w - c + 1, (1,), generator=g))
            patch = im[:, y : y + c, x : x + c]
            if bool(torch.rand(1, generator=g) < 0.5):
                patch = patch.flip(-1)
            out.append(patch)
        return torch.stack(out)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad ``(B, C, H, W)`` on the bottom/right so H and W are multiples of ``multiple``.

    Returns the padded batch and the original ``(H, W)`` for :func:`crop_back`.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def crop_back(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple`."""
    return x[..., : size[0], : size[1]]
