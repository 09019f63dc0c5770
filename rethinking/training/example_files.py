"""The per-example files of a run directory: examples.npz, examples.csv and test_examples.csv.

examples.npz holds examples.csv's columns as arrays and is written after every epoch; examples.csv
is written once, when the run completes (or on demand from the .npz); test_examples.csv holds the
final network's verdict on every test example (rundir.py describes the whole folder).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rethinking.atomic import atomic_write_text, atomic_write_with
from rethinking.training.dynamics import forgetting_score
from rethinking.training.rundir import (
    EXAMPLE_COLUMNS, EXAMPLES_BINARY_FILE, EXAMPLES_FILE, TEST_EXAMPLE_COLUMNS, TEST_EXAMPLES_FILE,
)

if TYPE_CHECKING:
    from rethinking.training.run_state import RunState


def examples_table(state: RunState) -> dict[str, np.ndarray]:
    """The columns of examples.csv (``EXAMPLE_COLUMNS``) as arrays: int64, and the loss as float32."""
    ev, d = state.train_examples, state.dynamics
    values = (ev.index, ev.label, ev.true_label, ev.label_corrupted, d.first_correct, d.first_learned,
              d.forgetting_events, forgetting_score(d, state.epoch), d.epochs_correct, d.first_learned < 0,
              d.last_correct)
    table = {name: np.asarray(value).astype(np.int64) for name, value in zip(EXAMPLE_COLUMNS[:-1], values)}
    table["loss"] = np.asarray(ev.loss, np.float32)
    return table


def write_examples_binary(directory: Path, state: RunState) -> None:
    """examples.npz: examples.csv's columns as arrays, written after every epoch (milliseconds where
    the CSV takes a quarter of a second at 50,000 examples: docs/benchmarks.md). examples.csv itself
    is written when the run completes, or from this file on demand (``examples_csv_from_binary``)."""
    table = examples_table(state)
    atomic_write_with(directory / EXAMPLES_BINARY_FILE, lambda tmp: _savez(tmp, table))


def _savez(path: Path, table: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would add ".npz" to a temporary name
        np.savez(f, **table)


def read_examples_binary(directory: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a run's examples.npz (its last completed epoch)."""
    with np.load(Path(directory) / EXAMPLES_BINARY_FILE) as data:
        return {name: data[name] for name in EXAMPLE_COLUMNS}


def examples_csv_from_binary(directory: str | Path) -> Path:
    """Writes examples.csv from examples.npz (a run still training, or killed): the CSV on demand."""
    directory = Path(directory)
    table = read_examples_binary(directory)
    body = io.StringIO()
    _save_with_loss(body, np.stack([table[name] for name in EXAMPLE_COLUMNS[:-1]], axis=1), table["loss"])
    atomic_write_text(directory / EXAMPLES_FILE, ",".join(EXAMPLE_COLUMNS) + "\n" + body.getvalue())
    return directory / EXAMPLES_FILE


def write_examples(directory: Path, state: RunState) -> None:
    """examples.csv: per training example, its labels and its learning dynamics (training/dynamics.py).

    ``first_correct_epoch`` counts the evaluation before training (epoch 0), ``first_learned_epoch``
    only those after it; ``never_learned``: not correct at any evaluation after training began (the
    one definition of "never fitted", also of ``examples_never_fitted`` in results.json);
    ``forgetting_events``: the correct -> incorrect transitions counted; ``forgetting_score``: the
    same, except that a never-learned example scores the epochs trained, more than any example
    could be forgotten (Toneva et al. 2019 rank never-learned examples as forgotten the maximum
    number of times); ``correct_at_end``: at the last evaluation. Counts cover the epochs from
    ``dynamics_since_epoch`` in results.json on; ``loss``: the cross-entropy (nats) against the
    label trained on at the last evaluation.
    """
    table = examples_table(state)
    # One formatting call for the whole table: per-row Python cost more than a small network's
    # epoch (docs/benchmarks.md, "examples.csv").
    body = io.StringIO()
    _save_with_loss(body, np.stack([table[name] for name in EXAMPLE_COLUMNS[:-1]], axis=1), table["loss"])
    atomic_write_text(directory / EXAMPLES_FILE, ",".join(EXAMPLE_COLUMNS) + "\n" + body.getvalue())


def _save_with_loss(body: io.StringIO, columns: np.ndarray, loss: np.ndarray) -> None:
    """Integer columns, then the per-example loss (nats, 6 significant digits), as CSV rows into ``body``.

    One ``savetxt`` over a float64 table (integers below 2^53 are exact in it): 1.4x the integer
    table's time at 50,000 examples, where formatting each cell as text first took 6x.
    """
    table = np.concatenate([columns.astype(np.float64), np.asarray(loss, np.float64)[:, None]], axis=1)
    np.savetxt(body, table, fmt=["%d"] * columns.shape[1] + ["%.6g"], delimiter=",")


def write_test_examples(directory: Path, test: Any) -> None:
    """test_examples.csv: per test example (index order), the label evaluated against, whether the
    final network classified it correctly (what McNemar's test compares two runs on) and its loss
    (the test-set loss differences of empirical uniform stability)."""
    columns = np.stack([test.index, test.label, test.correct], axis=1).astype(np.int64)
    body = io.StringIO()
    _save_with_loss(body, columns, test.loss)
    atomic_write_text(directory / TEST_EXAMPLES_FILE, ",".join(TEST_EXAMPLE_COLUMNS) + "\n" + body.getvalue())
