"""``log.jsonl`` (one JSON line per validation) and its plot ``val_curve.png``, rewritten at every validation."""
from __future__ import annotations

import json
import time
from pathlib import Path


class RunLog:
    """Append-only JSON-lines log in ``folder`` plus the validation curve; a no-op on non-main ranks."""

    def __init__(self, folder: Path, *, enabled: bool = True, keep_until: int | None = None) -> None:
        """``keep_until``: on resume, drop lines after this step (validations a killed run logged past its last
        checkpoint; the resumed run logs them again); None starts a new log."""
        self.path = folder / "log.jsonl"
        self.plot_path = folder / "val_curve.png"
        self.enabled = enabled
        if not enabled:
            return
        kept = [r for r in self.records() if keep_until is not None and r.get("step", 0) <= keep_until]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def records(self) -> list[dict]:
        """Every parsable line of the log (a half-written last line of a killed run is skipped)."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def write(self, rec: dict, *, plot: bool = True) -> None:
        """Append ``rec`` and redraw ``val_curve.png``."""
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        if plot:
            self.plot()

    def plot(self) -> bool:
        """Validation PSNR (and the training PSNR moving average) vs step; False when matplotlib is missing."""
        try:
            from jscc_rt.eval.plots import finish, pyplot

            plt = pyplot()
        except ImportError:
            return False
        recs = [r for r in self.records() if "step" in r]
        val_key = next((k for r in recs for k in r if k.startswith("val_psnr")), None)
        if not recs or val_key is None:
            return False
        fig, ax = plt.subplots(figsize=(6, 3.6))
        steps = [r["step"] for r in recs if val_key in r]
        ax.plot(steps, [r[val_key] for r in recs if val_key in r], "o-", label=f"validation ({val_key[9:]}, "
                f"{recs[-1].get('val_set', '')})")
        if any("train_psnr_ema" in r for r in recs):
            ax.plot([r["step"] for r in recs if "train_psnr_ema" in r],
                    [r["train_psnr_ema"] for r in recs if "train_psnr_ema" in r], "--", alpha=0.7,
                    label="training crops (moving average, random SNR)")
        tmp = self.plot_path.with_name("val_curve.tmp.png")
        finish(fig, ax, tmp, xlabel="step", ylabel="PSNR (dB)",
               title=f"step {recs[-1]['step']}, {recs[-1].get('precision', 'fp32')} training")
        tmp.replace(self.plot_path)
        return True


class StepTimer:
    """Training throughput: seconds spent inside training steps (not validation or checkpoints).

    ``steps_per_s()`` covers this invocation, leaving out its first ``warmup`` steps (allocator and oneDNN/cuDNN
    kernel selection) when there are more; ``window()`` covers the steps since its previous call.
    """

    def __init__(self, warmup: int = 5) -> None:
        self.warmup = warmup
        self.n = self.timed_n = self.win_n = 0
        self.total_s = self.timed_s = self.win_s = 0.0
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def stop(self) -> None:
        dt = time.perf_counter() - self._t0
        self.n, self.total_s, self.win_n, self.win_s = self.n + 1, self.total_s + dt, self.win_n + 1, self.win_s + dt
        if self.n > self.warmup:
            self.timed_n, self.timed_s = self.timed_n + 1, self.timed_s + dt

    def steps_per_s(self) -> float:
        if self.timed_n:
            return round(self.timed_n / self.timed_s, 3)
        return round(self.n / self.total_s, 3) if self.n else 0.0

    def window(self) -> float:
        """Steps per second since the previous ``window()`` call (then restarts the window)."""
        sps = self.win_n / self.win_s if self.win_n else 0.0
        self.win_n, self.win_s = 0, 0.0
        return round(sps, 3)


class CpuClock:
    """Process CPU time in seconds (every thread of this process: set-up, steps, validations, checkpoints) since
    construction (``time.process_time``). Unlike wall time it stands still while the process is paused (SIGSTOP) or
    waits, so it measures what a run cost on its machine; the trainer adds the earlier invocations' total from the
    resumed state and, under torchrun, every rank's share."""

    def __init__(self) -> None:
        self._t0 = time.process_time()

    def seconds(self) -> float:
        """CPU seconds of this process since construction."""
        return time.process_time() - self._t0
