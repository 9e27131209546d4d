"""Data-parallel training: 2 CPU processes under torchrun (gloo) vs one process at the same global batch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from jscc_rt.models import JSCCModel, load_model
from jscc_rt.train import TrainConfig, train

# fp32 for determinism; 40 dB so that the per-rank channel noise (independent draws, unlike one process's single
# stream) perturbs the gradients little; lr high enough for the weights to move clearly in 6 steps
CFG = dict(width=16, crop=32, batch_size=4, steps=6, val_every=6, ckpt_every=3, val_images=1, threads=1,
           snr_min_db=40.0, snr_max_db=40.0, lr=2e-3, warmup=1, precision="fp32", ema=0.0)


def _flags(cfg: dict) -> list[str]:
    return [a for k, v in cfg.items() for a in (f"--{k.replace('_', '-')}", str(v))] + ["--no-progress"]


def _l2(a: dict, b: dict) -> float:
    return sum(float((a[k] - b[k]).square().sum()) for k in a) ** 0.5


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch without gloo")
def test_two_process_ddp_matches_one_process_and_resumes_exactly(tmp_path: Path) -> None:
    env = {**os.environ, "JSCC_DATA": "", "OMP_NUM_THREADS": "1"}
    worker = Path(__file__).with_name("ddp_worker.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(worker),
           str(tmp_path / "ddp"), *_flags(CFG)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 5 and all(r["world_size"] == 2 for r in reports)  # rank 0 alone reports

    full, split = tmp_path / "ddp" / "full", tmp_path / "ddp" / "split"
    st = torch.load(full / "train_state.pt", weights_only=True)
    assert st["world_size"] == 2 and len(set(st["replica_digests"])) == 1  # both replicas bit-identical
    assert st["rng"]["noise"].shape[0] == 2  # each rank's own noise stream is saved
    # CPU time: both ranks' shares summed at each checkpoint (the log, written by rank 0 alone, leaves it out)
    assert st["cpu_s"] > 0 and json.loads((full / "model.json").read_text())["meta"]["cpu_time_s"] == round(st["cpu_s"], 1)
    assert reports[0]["cpu_time_s"] == round(st["cpu_s"], 1)
    assert "cpu_s" not in json.loads((full / "log.jsonl").read_text().splitlines()[-1])
    # resume under DDP: stopped at step 3 and resumed == uninterrupted, bit for bit
    a, b = (load_model(p / "model.pt").state_dict() for p in (full, split))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [json.loads(x)["step"] for x in (full / "log.jsonl").read_text().splitlines()] == [6]
    # SIGTERM to rank 1 alone in step 2: both ranks stopped after it with a checkpoint, and the resume == full
    sig = tmp_path / "ddp" / "signal"
    assert "SIGTERM at step 2 of 6" in proc.stderr and "plus --resume" in proc.stderr
    assert reports[3]["stopped"] == "SIGTERM" and reports[3]["step"] == 2
    c = load_model(sig / "model.pt").state_dict()
    assert all(torch.equal(a[k], c[k]) for k in a)

    # one process at the same global batch: same crops and SNRs, each rank's loss is the mean over its half and
    # DDP averages the gradients, i.e. the per-sample losses are averaged identically; only the channel noise
    # draws differ, so the weights agree to well under 5% of how far training moved them
    single = tmp_path / "single"
    train(TrainConfig(**CFG), single, show_progress=False)
    s = load_model(single / "model.pt").state_dict()
    torch.manual_seed(0)  # the seed every rank initializes the model with
    init = JSCCModel(load_model(single / "model.pt").config).state_dict()
    moved, gap = _l2(s, init), _l2(a, s)
    assert moved > 0.1 and gap < 0.05 * moved, (gap, moved)


def test_world_size_must_divide_the_batch() -> None:
    from jscc_rt._validate import JsccInputError
    from jscc_rt.train.dist import DistInfo, local_batch, shard

    info = DistInfo(rank=1, world_size=4)
    assert local_batch(16, info) == 4
    assert shard(torch.arange(16), info).tolist() == [4, 5, 6, 7]
    with pytest.raises(JsccInputError, match=r"--batch-size 6 .* multiple of the number of processes, 4"):
        local_batch(6, info)
