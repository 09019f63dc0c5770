"""Progress inside an epoch: steps done, elapsed time, ETA, running loss and accuracy.

``StepReporter`` is a Keras callback of the engine's epochs: after a training call it hands a
``StepProgress`` to a function (the CLI draws a bar or prints a line; a notebook may do anything),
at most every ``every_seconds`` and always after the epoch's last step. It reads the running
training-mode loss and accuracy Keras already computes, so it costs a clock read per call.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import keras

# Fastest rate at which the reporter calls its function (seconds): a bar redrawn more often is not
# read, and each call converts the running metrics to Python floats.
REPORT_SECONDS = 0.1


@dataclasses.dataclass(frozen=True)
class StepProgress:
    """Where an epoch is.

    Attributes:
        epoch: the epoch being trained, 1-based.
        epochs: the epoch cap of the run.
        step: steps done in this epoch.
        steps: steps of the epoch.
        seconds: wall seconds since the epoch began.
        loss: the running training-mode loss of the epoch (with the weight-decay penalty, as Keras
            reports it).
        accuracy: the running training-mode accuracy of the epoch (fraction), None if not compiled.
    """

    epoch: int
    epochs: int
    step: int
    steps: int
    seconds: float
    loss: float
    accuracy: float | None

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left in the epoch's training steps at the rate so far; None before the first step."""
        if self.step <= 0:
            return None
        return self.seconds / self.step * max(0, self.steps - self.step)


class StepReporter(keras.callbacks.Callback):
    """Calls ``report(StepProgress)`` during an epoch, at most every ``every_seconds``.

    Args:
        report: the function given each ``StepProgress``.
        epoch: the epoch (1-based) this callback watches.
        epochs: the run's epoch cap.
        steps: steps of the epoch.
        every_seconds: the shortest interval between calls (the last step is always reported).
        clock: the time source (tests).
    """

    def __init__(self, report: Callable[[StepProgress], None], epoch: int, epochs: int, steps: int,
                 every_seconds: float = REPORT_SECONDS, clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__()
        self.report, self.epoch, self.epochs, self.steps = report, epoch, epochs, steps
        self.every, self.clock = every_seconds, clock
        self.start = clock()
        self.last = -float("inf")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = self.clock()
        step = batch + 1  # ``batch`` is the index of the call's last step (steps_per_execution)
        if now - self.last < self.every and step < self.steps:
            return
        self.last = now
        logs = logs or {}
        accuracy = logs.get("accuracy")
        self.report(StepProgress(epoch=self.epoch, epochs=self.epochs, step=step, steps=self.steps,
                                 seconds=now - self.start, loss=float(logs.get("loss", float("nan"))),
                                 accuracy=None if accuracy is None else float(accuracy)))
