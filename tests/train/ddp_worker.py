"""Run under ``torchrun --nproc_per_node 2``: four ``jscc-rt train`` commands in one process group (DDP, gloo).

``OUT/full``: 6 steps; ``OUT/split``: the same run stopped after 3 steps and resumed; ``OUT/signal``: the same run
with SIGTERM sent to rank 1 alone during its second step (both ranks must stop after step 2 with a checkpoint, rank 0
exiting 143 and rank 1 0), then resumed. Used by test_ddp.py.
"""
from __future__ import annotations

import signal
import sys

import torch.distributed as dist

import jscc_rt.train.jscc as trainer
from jscc_rt.cli import main

if __name__ == "__main__":
    out, args = sys.argv[1], sys.argv[2:]
    dist.init_process_group("gloo")  # once: the runs below join this group instead of creating their own
    codes = [main(["train", *args, "--out", f"{out}/full"]),
             main(["train", *args, "--out", f"{out}/split", "--stop-after", "3"]),
             main(["train", *args, "--out", f"{out}/split", "--resume"])]
    lr_at = trainer.lr_at

    def signalled_lr_at(cfg, step):  # type: ignore[no-untyped-def]
        if dist.get_rank() == 1 and step == 1:
            signal.raise_signal(signal.SIGTERM)
        return lr_at(cfg, step)

    trainer.lr_at = signalled_lr_at
    stopped = main(["train", *args, "--out", f"{out}/signal"])
    trainer.lr_at = lr_at
    expected = 128 + signal.SIGTERM if dist.get_rank() == 0 else 0  # rank 0 alone reports the stop
    codes += [0 if stopped == expected else 1, main(["train", *args, "--out", f"{out}/signal", "--resume"])]
    dist.destroy_process_group()
    sys.exit(max(codes))
