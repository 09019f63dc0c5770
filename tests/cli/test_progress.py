"""Progress inside an epoch: a bar on a terminal, periodic lines in a log, nothing when asked."""

from __future__ import annotations

import io
import os
import pty
import sys
import threading
from pathlib import Path

import pytest

from rethinking.cli.progress import ProgressPrinter, describe_step, duration, resolve_mode
from rethinking.cli.train_group import batch_norm_lags
from rethinking.training.progress import StepProgress, StepReporter


def step(n: int, steps: int = 100, seconds: float = 2.0) -> StepProgress:
    return StepProgress(epoch=3, epochs=10, step=n, steps=steps, seconds=seconds, loss=1.2345, accuracy=0.5)


def test_a_step_line_has_steps_elapsed_eta_loss_and_accuracy():
    assert step(25).eta_seconds == pytest.approx(6.0)  # 2 s for 25 steps: 75 left at the same rate
    line = describe_step(step(25), bar=True)
    assert line.startswith("epoch 3/10 [=====>") and " 25/100" in line and "ETA 6.0 s" in line
    assert "batch loss 1.2345" in line and "acc  50.0%" in line
    assert "evaluating" in describe_step(step(100), bar=False)  # training done: the evaluations follow
    assert (duration(4.24), duration(42), duration(185), duration(3725), duration(None)) == (
        "4.2 s", "42 s", "3 min 05 s", "1 h 02 min", "?")


def test_the_bar_redraws_in_place_and_is_cleared_before_an_epoch_line():
    stream, lines = io.StringIO(), []
    printer = ProgressPrinter("bar", stream=stream, echo=lines.append)
    printer.step(step(10))
    printer.step(step(20))
    printer.line("epoch    3/10  loss ...")
    drawn = stream.getvalue()
    assert drawn.count("\r") == 4 and "\n" not in drawn and "ETA" in drawn  # two redraws, a clear (\r spaces \r)
    assert drawn.endswith("\r") and lines == ["epoch    3/10  loss ..."]


def test_lines_come_every_interval_and_none_prints_nothing():
    now = [0.0]
    lines: list[str] = []
    printer = ProgressPrinter("lines", every_seconds=30, echo=lines.append, clock=lambda: now[0])
    for t, n in ((10, 10), (31, 20), (45, 30), (62, 40)):
        now[0] = t
        printer.step(step(n))
    assert [line.split("step ")[1].split("/")[0].strip() for line in lines] == ["20", "40"]
    quiet: list[str] = []
    stream = io.StringIO()
    none = ProgressPrinter("none", echo=quiet.append, stream=stream)
    none.step(step(50))
    assert quiet == [] and stream.getvalue() == ""
    assert resolve_mode("auto", io.StringIO()) == "lines" and resolve_mode("bar") == "bar"


def test_the_reporter_calls_at_most_every_interval_and_always_at_the_last_step():
    now = [0.0]
    seen: list[int] = []
    reporter = StepReporter(lambda p: seen.append(p.step), epoch=1, epochs=5, steps=10, every_seconds=1.0,
                            clock=lambda: now[0])
    for batch in range(10):
        now[0] = 0.3 * (batch + 1)
        reporter.on_train_batch_end(batch, {"loss": 2.0, "accuracy": 0.1})
    assert seen == [1, 5, 9, 10]  # t = 0.3, 1.5 (>= 1.3), 2.7 (>= 2.5), and the last step at 3.0


def test_the_batch_norm_note_needs_batch_norm_and_a_large_gap_between_the_modes():
    row = {"batch_norm": True, "train_loss": 11.1, "batch_loss": 2.44}
    assert batch_norm_lags(row)
    assert not batch_norm_lags({**row, "batch_norm": False})
    assert not batch_norm_lags({**row, "train_loss": 2.9})  # within 1 nat
    assert not batch_norm_lags({**row, "batch_loss": float("nan")})  # epoch 0: no training step yet


def _train_args(tmp_path: Path, *extra: str) -> list[str]:
    # Graph mode, not XLA: the bar is the engine's, whichever compiles the step (XLA's compile is
    # about 1 s here; the default XLA path has CLI tests of its own).
    return ["train", "--dataset", "digits", "--model", "mlp_1x512", "--epochs", "1", "--batch-size", "4",
            "--no-jit-compile", "--log-dir", str(tmp_path), *extra]


@pytest.mark.slow
def test_under_a_terminal_the_bar_shows_inside_the_epoch_and_in_a_log_periodic_lines(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "150")
    # A pseudo-terminal as this process's stdout: it is a TTY, so --progress auto draws the bar.
    leader, follower = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:  # drains the terminal while the command writes to it
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the terminal was closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with open(follower, "w", encoding="utf-8", closefd=True) as terminal:
        assert terminal.isatty()
        monkeypatch.setattr(sys, "stdout", terminal)
        code, _, err = cli(*_train_args(tmp_path / "tty"))
        monkeypatch.undo()
    reader.join(timeout=10)
    os.close(leader)
    assert code == 0, err[-2000:]
    shown = b"".join(chunks).decode(errors="replace")
    bars = [part for part in shown.split("\r") if part.startswith("epoch 1/1 [")]
    assert bars and any("ETA" in bar for bar in bars), shown[-2000:]
    assert "epoch    1/1  loss" in shown  # then the epoch's line
    # A pipe (a log file): periodic full lines, no carriage returns.
    code, out, err = cli(*_train_args(tmp_path / "log", "--progress-seconds", "0.1"))
    assert code == 0, err[-2000:]
    assert "\r" not in out
    assert [line for line in out.splitlines() if line.startswith("  epoch 1/1 step ") and "ETA" in line]
