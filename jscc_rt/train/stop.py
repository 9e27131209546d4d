"""Stop a long training run cleanly: SIGTERM or Ctrl-C checkpoints after the current step instead of losing it.

A run that checkpoints every few hundred steps loses up to that many steps when it is killed (on a 2-core CPU in
fp32, ten minutes or more). Inside :class:`GracefulStop` the first SIGTERM or SIGINT only sets a flag; the training
loop reads it after each step (:meth:`GracefulStop.now`), writes its resumable checkpoint and returns with
``stopped`` set to the signal's name. The command then exits with ``128 + signum`` (what a shell reports for a
process ended by that signal, so ``make`` and scripts stop their queue) and the same command with ``--resume``
continues bit-exactly where it stopped. A second Ctrl-C aborts at once (``KeyboardInterrupt``); SIGKILL cannot be
caught, and loses the steps since the last checkpoint as before.

Under ``torchrun`` each rank may see the signal at a different step; :meth:`GracefulStop.now` takes the maximum of
the ranks' flags (one all-reduce of a scalar per step), so every rank stops at the same step and joins the
checkpoint.
"""
from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any, Callable

import torch

from jscc_rt.train.dist import DistInfo, any_rank

#: The signals that ask for a checkpoint and a clean stop.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class GracefulStop:
    """Context manager that turns SIGTERM / SIGINT into a stop request for a training loop.

    Handlers are installed only in the main thread (Python delivers signals there; elsewhere this is a no-op that
    never requests a stop), not over a signal that is ignored (a background job's SIGINT stays ignored) or handled
    from C, and the previous handlers are restored on exit. Inside the trainers the handlers are in place from the
    start of set-up, so a request during set-up (e.g. building a diffusion run's latent set) takes effect after the
    first step; a second Ctrl-C aborts at once.
    """

    def __init__(self) -> None:
        self.signal: str | None = None  # name of the first stop signal received, e.g. "SIGTERM"
        self._old: dict[int, Any] = {}

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                old = signal.getsignal(s)
                if old is None or old == signal.SIG_IGN:  # ignored (e.g. SIGINT of a `cmd &` job) or set from C
                    continue
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: abort without the checkpoint
        if self.signal is None:
            self.signal = signal.Signals(signum).name

    def now(self, info: DistInfo | None = None, device: torch.device | None = None) -> bool:
        """Whether to stop after this step: this process was signalled, or (under torchrun) any rank was; a rank
        that learns it from another records that rank's request as ``SIGTERM``."""
        own = self.signal is not None
        if info is None or not info.enabled:
            return own
        # the agreed answer only: a signal handled right after the all-reduce returns (Python runs handlers between
        # bytecodes) is this rank's alone for now, and every rank sees it at the next step
        agreed = any_rank(own, info, device or torch.device("cpu"))
        if agreed and self.signal is None:
            self.signal = "SIGTERM"
        return agreed


def run_stoppable(train_fn: Callable[..., dict], *args: Any) -> dict:
    """``train_fn(*args, stop)`` inside a :class:`GracefulStop`: its result, plus ``"stopped"`` (the signal's name)
    when a stop was requested."""
    with GracefulStop() as stop:
        res = train_fn(*args, stop)
    return {**res, "stopped": stop.signal} if stop.signal else res


def exit_status(kind: str, out: str, result: dict, steps: int) -> int:
    """A training CLI's exit code for ``result`` (what its train function returned): 0, or for a run that
    returned ``stopped``, ``128 + signum`` after saying on stderr at which step it stopped (``step`` or
    ``stopped_at``; ``steps`` when it finished), where the checkpoint is and how to go on. Under torchrun only rank 0
    reports and returns the code (the other ranks, whose result has ``rank``, return 0), so its message is not cut
    short by the launcher tearing the group down when a first rank exits with an error."""
    if "stopped" not in result or "rank" in result:
        return 0
    name, at = result["stopped"], result.get("stopped_at", result.get("step", steps))
    if at >= steps:
        say = f"{name} after the run finished all {steps} steps; its outputs are written, nothing to resume."
    else:
        say = (f"{name} at step {at} of {steps}; the run is checkpointed in {out}/train_state.pt. Continue it with "
               "the same command plus --resume.")
    print(f"jscc-rt train {kind}: {say}", file=sys.stderr)
    return 128 + int(signal.Signals[name])
