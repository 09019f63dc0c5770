"""Per-example learning dynamics on hand-made correctness histories."""

from __future__ import annotations

import numpy as np
import pytest

from rethinking.training.dynamics import empty, forgetting_score, from_history, update


def test_forgetting_events_epochs_correct_and_first_fit_on_a_hand_made_history():
    # Rows: epochs 0 (before training), 1, ..., 5; columns: five examples.
    history = np.array([
        # a  b  c  d  e
        [1, 0, 0, 1, 0],  # epoch 0: a and d right by chance
        [0, 1, 0, 1, 0],  # a wrong after training began: not a forgetting event (epoch 0 is not "learned")
        [1, 0, 0, 1, 0],  # b forgotten (1)
        [0, 1, 0, 1, 0],  # a forgotten (1)
        [1, 0, 0, 1, 1],  # b forgotten (2); e learned late
        [1, 1, 0, 1, 1],
    ], bool)
    d = from_history(history)
    assert d.first_correct.tolist() == [0, 1, -1, 0, 4]
    assert d.first_learned.tolist() == [2, 1, -1, 1, 4]  # epoch 0 is not "learned"
    assert d.forgetting_events.tolist() == [1, 2, 0, 0, 0]
    assert d.epochs_correct.tolist() == [3, 3, 0, 5, 2]
    assert d.last_correct.tolist() == [True, True, False, True, True]
    assert d.first_correct.dtype == d.forgetting_events.dtype == np.int32
    # Toneva et al.'s ranking: c, never learned, scores the 5 epochs trained, above every count.
    assert forgetting_score(d, epochs=5).tolist() == [1, 2, 5, 0, 0]
    order = np.argsort(-forgetting_score(d, epochs=5), kind="stable")
    assert order.tolist()[:3] == [2, 1, 0]  # most forgotten first: c (never learned), then b (2), a (1)


def test_update_is_pure_and_checks_the_length():
    start = empty(3)
    after = update(start, np.array([1, 1, 0], bool), 1)
    assert start.first_correct.tolist() == [-1, -1, -1] and after.first_correct.tolist() == [1, 1, -1]
    with pytest.raises(ValueError, match="4 evaluated examples for dynamics of 3"):
        update(after, np.ones(4, bool), 2)


def test_counts_start_after_a_resume_without_stored_history():
    # Resumed at epoch 3 from a checkpoint that kept no history: the first evaluation seen is epoch 4,
    # and a transition is counted from epoch 4 -> 5 on, never against the unknown epoch 3.
    d = empty(2, since_epoch=4)
    d = update(d, np.array([1, 0], bool), 4)
    d = update(d, np.array([0, 0], bool), 5)
    d = update(d, np.array([1, 1], bool), 6)
    d = update(d, np.array([0, 1], bool), 7)
    assert d.forgetting_events.tolist() == [2, 0]
    assert d.epochs_correct.tolist() == [2, 2]  # a at 4 and 6, b at 6 and 7
