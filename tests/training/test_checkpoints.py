"""Checkpoints on their own: save, prune to the newest two, restore the newest intact one."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from rethinking.training.dynamics import from_history
from rethinking.training.checkpoints import KEEP, CheckpointError, Checkpointer, RunState


def _model_and_checkpointer(folder):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(model.trainable_variables)
    return model, Checkpointer(folder, model, optimizer)


def test_save_keeps_the_newest_two_and_restore_returns_weights_and_state(tmp_path):
    model, checkpointer = _model_and_checkpointer(tmp_path / "ckpt")
    for epoch in range(1, 5):
        model.layers[0].kernel.assign(np.full((3, 2), float(epoch), np.float32))
        history = np.array([[0, 0]] + [[1, e % 2] for e in range(1, epoch + 1)], bool)  # the 2nd: forgotten, relearned
        checkpointer.save(RunState(epoch=epoch, step=10 * epoch, dynamics=from_history(history)))
    kept = sorted({p.name.split(".")[0] for p in (tmp_path / "ckpt").glob("epoch-*.index")})
    assert kept == ["epoch-000003", "epoch-000004"] and KEEP == 2
    model.layers[0].kernel.assign(np.zeros((3, 2), np.float32))
    state = checkpointer.restore()
    assert state.epoch == 4 and state.step == 40 and state.first_correct.tolist() == [1, 1]
    assert state.dynamics.forgetting_events.tolist() == [0, 2] and state.dynamics.epochs_correct.tolist() == [4, 2]
    assert state.dynamics.last_correct.tolist() == [True, False] and state.dynamics.since_epoch == 0
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), np.full((3, 2), 4.0))
    assert json.loads((tmp_path / "ckpt" / "latest.json").read_text())["epoch"] == 4


def test_no_checkpoint_is_none_and_only_damaged_ones_are_an_error(tmp_path):
    _, checkpointer = _model_and_checkpointer(tmp_path / "ckpt")
    assert checkpointer.restore() is None
    checkpointer.save(RunState(epoch=1))
    (tmp_path / "ckpt" / "epoch-000001.state.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="No intact checkpoint .*epoch-000001"):
        checkpointer.restore()


def test_a_checkpoint_of_an_older_version_resumes_with_counts_from_the_next_epoch(tmp_path):
    """Older checkpoints stored only first_correct.npy: its fit epochs are kept, counts start afresh."""
    _, checkpointer = _model_and_checkpointer(tmp_path / "ckpt")
    checkpointer.save(RunState(epoch=3, dynamics=from_history(np.ones((4, 2), bool))))
    folder = tmp_path / "ckpt"
    (folder / "epoch-000003.examples.npz").unlink()
    np.save(folder / "epoch-000003.first_correct.npy", np.array([2, -1, 0], np.int32))
    state = checkpointer.restore()
    assert state.first_correct.tolist() == [2, -1, 0] and state.dynamics.since_epoch == 4
    # First correct at epoch 2 (after training began) was learned then; at epoch 0 (by chance) not yet.
    assert state.dynamics.first_learned.tolist() == [2, -1, -1]
    assert state.dynamics.forgetting_events.tolist() == [0, 0, 0] and state.dynamics.epochs_correct.tolist() == [0, 0, 0]
    (folder / "epoch-000003.first_correct.npy").unlink()  # neither file: a damaged checkpoint
    with pytest.raises(CheckpointError, match="examples.npz is missing"):
        checkpointer.restore()
