"""Per-example learning dynamics: when each training example is first fitted, how often it is forgotten.

After every epoch the engine classifies every training example (in inference mode, against the
label it is trained on) and updates, per example:

* ``first_correct``: the first evaluated epoch at which it was classified correctly (-1: never);
  epoch 0 is the evaluation before any training step.
* ``forgetting_events``: how many times it went from correct to incorrect between two consecutive
  evaluations after training began (Toneva et al. 2019, "An empirical study of example forgetting
  during deep neural network learning", count the same transition per mini-batch presentation; we
  count it per epoch, over the whole training set in inference mode: our choice).
* ``first_learned``: the first epoch after training began (1, 2, ...) at which it was correct
  (-1: never: the example was never learned).
* ``epochs_correct``: at how many evaluations after training began (epochs 1, 2, ...) it was
  correct.
* ``last_correct``: whether it was correct at the last evaluation.

Epoch 0 (random initialization) sets ``first_correct`` and ``last_correct`` only: being right by
chance before training is not "learned", so it sets no ``first_learned`` and a transition from
epoch 0 to epoch 1 is not counted as forgetting. Pure NumPy, no TensorFlow: the functions return new arrays.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ExampleDynamics:
    """Per training example (in index order): its learning history so far.

    Attributes:
        first_correct: first evaluated epoch at which it was correct (-1: never yet).
        first_learned: first epoch after training began at which it was correct (-1: never yet).
        forgetting_events: correct -> incorrect transitions between consecutive evaluations after
            training began.
        epochs_correct: evaluations after training began at which it was correct.
        last_correct: correct at the last evaluation.
        since_epoch: the first epoch these counts cover (0, or later for a run resumed from a
            checkpoint written before the toolkit kept them).
    """

    first_correct: np.ndarray
    first_learned: np.ndarray
    forgetting_events: np.ndarray
    epochs_correct: np.ndarray
    last_correct: np.ndarray
    since_epoch: int = 0

    @property
    def size(self) -> int:
        return int(self.first_correct.size)


def empty(size: int, since_epoch: int = 0) -> ExampleDynamics:
    """No evaluation seen yet for ``size`` examples."""
    return ExampleDynamics(first_correct=np.full(size, -1, np.int32), first_learned=np.full(size, -1, np.int32),
                           forgetting_events=np.zeros(size, np.int32),
                           epochs_correct=np.zeros(size, np.int32), last_correct=np.zeros(size, bool),
                           since_epoch=since_epoch)


def update(dynamics: ExampleDynamics, correct: np.ndarray, epoch: int) -> ExampleDynamics:
    """The dynamics after the evaluation of ``epoch`` (``correct``: per example, in index order).

    Raises:
        ValueError: ``correct`` has another length than the dynamics.
    """
    correct = np.asarray(correct, bool)
    if correct.size != dynamics.size:
        raise ValueError(f"{correct.size} evaluated examples for dynamics of {dynamics.size}.")
    first = np.where((dynamics.first_correct < 0) & correct, np.int32(epoch), dynamics.first_correct)
    trained = epoch >= 1
    learned = np.where((dynamics.first_learned < 0) & correct & trained, np.int32(epoch), dynamics.first_learned)
    # A transition needs an earlier evaluation after training began (not the one at epoch 0).
    counted = trained and epoch - 1 >= max(1, dynamics.since_epoch)
    forgotten = dynamics.last_correct & ~correct if counted else np.zeros_like(correct)
    return dataclasses.replace(
        dynamics, first_correct=first.astype(np.int32), first_learned=learned.astype(np.int32),
        forgetting_events=(dynamics.forgetting_events + forgotten).astype(np.int32),
        epochs_correct=(dynamics.epochs_correct + (correct if trained else 0)).astype(np.int32),
        last_correct=correct.copy())


def forgetting_score(dynamics: ExampleDynamics, epochs: int) -> np.ndarray:
    """Forgetting events as Toneva et al. (2019) rank them: an example never learned scores ``epochs``
    (the epochs trained: more than any learned example can be forgotten), the others their count."""
    return np.where(dynamics.first_learned < 0, np.int32(epochs), dynamics.forgetting_events).astype(np.int32)


def from_history(history: np.ndarray) -> ExampleDynamics:
    """The dynamics of a whole correctness history: ``history[e, i]`` is example i at epoch e (0, 1, ...)."""
    history = np.asarray(history, bool)
    dynamics = empty(history.shape[1])
    for epoch, correct in enumerate(history):
        dynamics = update(dynamics, correct, epoch)
    return dynamics
