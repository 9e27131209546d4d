"""Data-parallel training under ``torchrun``: process group, batch sharding, replica checks.

``torchrun --nproc_per_node N -m jscc_rt.cli train ...`` starts N processes with ``RANK``/``WORLD_SIZE``/
``LOCAL_RANK`` set; :func:`init_distributed` joins them into one group (gloo on CPU, nccl on CUDA) and the model is
wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`, which averages gradients over the ranks. Every rank
draws the same global batch of ``batch_size`` crops and SNRs and trains on its slice of ``batch_size / N`` (each
rank's loss is the mean over its slice, so the averaged gradient is that of the mean over the global batch); the
channel noise comes from a per-rank generator. Only rank 0 validates, logs and writes checkpoints.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from jscc_rt._validate import JsccInputError


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the run: ``rank`` of ``world_size`` (1 = not distributed), GPU ``local_rank``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # True when init_distributed created the process group (and shutdown destroys it)

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def env_world_size() -> int:
    """``WORLD_SIZE`` set by torchrun (1 when absent)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def init_distributed(device_type: str) -> DistInfo:
    """Join the torchrun process group (gloo for CPU, nccl for CUDA); single process when ``WORLD_SIZE`` <= 1."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), False)
    ws = env_world_size()
    if ws <= 1:
        return DistInfo()
    if not dist.is_available():
        raise JsccInputError("WORLD_SIZE > 1 but this torch build has no torch.distributed; run one process")
    backend = "nccl" if device_type == "cuda" else "gloo"
    # validation and checkpoints run on rank 0 while the others wait in the next all-reduce: allow for them
    dist.init_process_group(backend, timeout=timedelta(minutes=60))
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), True)


def shutdown(info: DistInfo) -> None:
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo, device: torch.device) -> None:
    """Wait for every rank (e.g. until rank 0 has written the final checkpoint that a next command reads)."""
    if info.enabled:
        dist.barrier(device_ids=[device.index]) if device.type == "cuda" else dist.barrier()


def local_batch(batch_size: int, info: DistInfo) -> int:
    """Per-rank batch ``batch_size / world_size``; an error when the world size does not divide the batch."""
    if batch_size % info.world_size:
        raise JsccInputError(f"--batch-size {batch_size} (the global batch) must be a multiple of the number of "
                             f"processes, {info.world_size} (torchrun --nproc_per_node); use e.g. "
                             f"{max(info.world_size, batch_size // info.world_size * info.world_size)}")
    return batch_size // info.world_size


def shard(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This rank's contiguous slice of the global batch ``x`` ``(B, ...)`` along dim 0."""
    if not info.enabled:
        return x
    n = x.shape[0] // info.world_size
    return x[info.rank * n : (info.rank + 1) * n]


def gather_rows(t: torch.Tensor, info: DistInfo, device: torch.device) -> torch.Tensor:
    """Every rank's ``t`` (same shape on all ranks) stacked ``(world_size, *t.shape)`` on CPU, on every rank."""
    if not info.enabled:
        return t.unsqueeze(0).clone()
    src = t.to(device)
    out = [torch.empty_like(src) for _ in range(info.world_size)]
    dist.all_gather(out, src)
    return torch.stack([o.cpu() for o in out])


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 (16 hex digits) of the model's state bytes: equal on all ranks iff the replicas are bit-identical."""
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def replica_digests(model: torch.nn.Module, info: DistInfo, device: torch.device) -> list[str]:
    """:func:`weights_digest` of every rank's replica; raises RuntimeError when they differ (a DDP bug)."""
    mine = weights_digest(model)
    if not info.enabled:
        return [mine]
    code = torch.tensor([int(mine[i : i + 8], 16) for i in range(0, 16, 8)], dtype=torch.int64)
    rows = gather_rows(code, info, device)
    digests = [f"{int(r[0]):08x}{int(r[1]):08x}" for r in rows]
    if len(set(digests)) != 1:
        raise RuntimeError(f"data-parallel replicas diverged (weight digests per rank: {digests})")
    return digests


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank when ``flag`` is True on any rank (an all-reduce of one number; ``flag`` when alone)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)
