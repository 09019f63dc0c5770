"""How the CLI words the library's errors: one line, the right exit status, what to do."""

from __future__ import annotations

import errno

import pytest

from rethinking.cli.base import _classify


def test_a_full_disk_is_never_called_out_of_memory():
    import tensorflow as tf

    # What TensorFlow raises when a checkpoint write meets a full disk (once: "Out of memory").
    err = tf.errors.ResourceExhaustedError(None, None, "runs/r/checkpoints/epoch-000003_temp/part-0; No space left on device")
    failure = _classify(err)
    assert failure.exit_code == 1 and failure.message.startswith("The disk is full")
    assert "free space or use another --log-dir" in failure.message and "Out of memory" not in failure.message
    assert "Out of memory" in _classify(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")).message


@pytest.mark.parametrize("err", [
    OSError(errno.ENOSPC, "No space left on device"),  # no file name
    OSError("Unable to synchronously create file (file write failed: No space left on device)"),  # h5py: no errno
    OSError(errno.EDQUOT, "Disk quota exceeded"),
])
def test_every_disk_full_error_says_what_to_do(err):
    failure = _classify(err)
    assert failure.exit_code == 1 and failure.message.startswith("The disk is full")
    assert "rerun the same command to resume" in failure.message and "\n" not in failure.message


def test_a_full_disk_names_the_file_when_the_error_does():
    failure = _classify(OSError(errno.ENOSPC, "No space left on device", "/logs/default/r/metrics.csv"))
    assert failure.message.startswith("The disk is full writing /logs/default/r/metrics.csv")
