"""What a run knows besides its weights: history, time to fit, per-example dynamics."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from rethinking.training.dynamics import ExampleDynamics
from rethinking.training.dynamics import empty as empty_dynamics


@dataclasses.dataclass
class RunState:
    """What a run knows besides its weights (mutable: updated after every epoch).

    Attributes:
        epoch: epochs completed.
        step: optimizer steps taken.
        history: one dict of metrics per evaluated epoch (epoch 0 = before training).
        best_test_accuracy: highest test accuracy so far (what early stopping could give).
        best_test_epoch: the epoch it was reached.
        fit_epoch: first epoch with training accuracy >= the fit threshold (None: not yet).
        fit_step: the first evaluated step at which training accuracy >= the fit threshold: the
            end of ``fit_epoch``, or earlier with ``fit_every`` (an evaluation within an epoch).
        batch_fit_step: the first step at which the running training-mode batch accuracy of the
            epoch (what SGD saw, as the paper's curves) reached the fit threshold.
        dynamics: per training example (index order), its learning history so far (first epoch
            fitted, forgetting events, epochs correct; ``first_correct`` is its first field).
        train_examples: the last evaluation of the training set (for examples.csv).
        test_examples: the last evaluation of the test set (for test_examples.csv).
        train_seconds: wall time spent in training steps (not evaluation), summed over sessions.
        images_trained: training images processed, summed over sessions.
        wall_seconds: total wall time of the run, summed over sessions.
        saved_at: when the checkpoint of this state was written (``time.time()``); a resumed run
            drops the TensorBoard points written after it (``summaries.drop_events_after``).
    """

    epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    best_test_accuracy: float = float("nan")
    best_test_epoch: int | None = None
    fit_epoch: int | None = None
    fit_step: int | None = None
    batch_fit_step: int | None = None
    dynamics: ExampleDynamics = dataclasses.field(default_factory=lambda: empty_dynamics(0))
    train_seconds: float = 0.0
    images_trained: int = 0
    wall_seconds: float = 0.0
    saved_at: float | None = None  # wall time (s) the checkpoint holding this state was written
    train_examples: Any = None  # the last training-set SplitEvaluation (not checkpointed)
    test_examples: Any = None  # the last test-set SplitEvaluation (not checkpointed)

    @property
    def first_correct(self) -> np.ndarray:
        """Per training example, the first evaluated epoch at which it was correct (-1: never yet)."""
        return self.dynamics.first_correct

    def to_json(self) -> dict[str, Any]:
        """Everything but ``dynamics`` (stored as .npz)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values.pop("dynamics")
        values.pop("train_examples")
        values.pop("test_examples")
        return values

    @classmethod
    def from_json(cls, values: dict[str, Any], dynamics: ExampleDynamics) -> RunState:
        return cls(**values, dynamics=dynamics)
