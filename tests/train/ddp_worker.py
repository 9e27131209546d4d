"""Run under ``torchrun --nproc_per_node 2``: three ``jscc-rt train`` commands in one process group (DDP, gloo).

``OUT/full``: 6 steps; ``OUT/split``: the same run stopped after 3 steps and resumed. Used by test_ddp.py.
"""
from __future__ import annotations

import sys

import torch.distributed as dist

from jscc_rt.cli import main

if __name__ == "__main__":
    out, args = sys.argv[1], sys.argv[2:]
    dist.init_process_group("gloo")  # once: the three runs below join this group instead of creating their own
    codes = [main(["train", *args, "--out", f"{out}/full"]),
             main(["train", *args, "--out", f"{out}/split", "--stop-after", "3"]),
             main(["train", *args, "--out", f"{out}/split", "--resume"])]
    dist.destroy_process_group()
    sys.exit(max(codes))
