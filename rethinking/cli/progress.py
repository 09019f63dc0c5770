"""The terminal's view of training: a progress bar inside each epoch, or periodic lines in a log.

``--progress bar`` redraws one line with a carriage return (a terminal); ``lines`` prints a full
line at most every ``--progress-seconds`` (log files, CI, a sweep's workers); ``none`` prints
nothing inside an epoch. ``auto`` picks ``bar`` on a terminal, else ``lines``.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import click

PROGRESS_MODES = ("auto", "bar", "lines", "none")
BAR_WIDTH = 20  # characters of the bar itself


def resolve_mode(mode: str, stream: IO[str] | None = None) -> str:
    """``auto`` -> ``bar`` on a terminal, ``lines`` otherwise; other modes unchanged."""
    if mode != "auto":
        return mode
    stream = stream or sys.stdout
    return "bar" if hasattr(stream, "isatty") and stream.isatty() else "lines"


def duration(seconds: float | None) -> str:
    """``4.2 s``, ``42 s``, ``3 min 05 s``, ``1 h 02 min``; ``?`` for None."""
    if seconds is None or seconds != seconds:
        return "?"
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def describe_step(progress: Any, bar: bool) -> str:
    """One line of a ``StepProgress``: epoch, steps (with a bar), elapsed, ETA, running loss and accuracy."""
    p = progress
    steps = f"{p.step:>{len(str(p.steps))}}/{p.steps}"
    if bar:
        filled = BAR_WIDTH * p.step // max(1, p.steps)
        steps = "[" + "=" * filled + (">" if filled < BAR_WIDTH else "") + "." * max(0, BAR_WIDTH - filled - 1) + "] " + steps
    else:
        steps = f"step {steps}"
    accuracy = "" if p.accuracy is None else f"  acc {100 * p.accuracy:5.1f}%"
    tail = "  evaluating" if p.step >= p.steps else f"  ETA {duration(p.eta_seconds)}"
    return (f"epoch {p.epoch}/{p.epochs} {steps}  {duration(p.seconds)}{tail}  batch loss {p.loss:.4f}{accuracy}")


class ProgressPrinter:
    """Prints step progress and epoch lines without the two overwriting each other.

    Args:
        mode: ``bar``, ``lines`` or ``none`` (resolve ``auto`` first).
        every_seconds: the interval between lines in ``lines`` mode.
        prefix: put before every line (a sweep's ``[3/12]``).
        echo: prints one line (``click.echo``; tests give their own).
        stream: where the bar is drawn.
        clock: the time source (tests).
    """

    def __init__(self, mode: str, every_seconds: float = 30.0, prefix: str = "",
                 echo: Callable[[str], None] = click.echo, stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if mode not in ("bar", "lines", "none"):
            raise ValueError(f"Unknown progress mode {mode!r}: use bar, lines or none.")
        self.mode, self.every, self.prefix, self.echo = mode, every_seconds, prefix, echo
        self.stream, self.clock = stream or sys.stdout, clock
        self.last_line = clock()  # the first periodic line comes after one interval
        self.drawn = 0  # characters of the bar on screen

    def step(self, progress: Any) -> None:
        """Shows a ``StepProgress`` (a bar redraw, or a line if the interval has passed)."""
        if self.mode == "bar":
            width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
            text = (self.prefix + describe_step(progress, bar=True))[:width]
            self.stream.write("\r" + text + " " * max(0, self.drawn - len(text)))
            self.stream.flush()
            self.drawn = len(text)
        elif self.mode == "lines" and progress.step < progress.steps and self.clock() - self.last_line >= self.every:
            self.last_line = self.clock()
            self.echo(self.prefix + "  " + describe_step(progress, bar=False))

    def line(self, text: str) -> None:
        """Prints a full line (an epoch's summary), clearing the bar first."""
        if self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
            self.drawn = 0
        self.last_line = self.clock()
        self.echo(text)


def progress_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--progress``, ``--progress-seconds`` and ``--quiet`` (arguments ``progress``,
    ``progress_seconds``, ``quiet``)."""
    fn = click.option("-q", "--quiet", is_flag=True,
                      help="Print no epoch or step lines, only the summary (and errors).")(fn)
    fn = click.option("--progress-seconds", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
                      help="Seconds between the lines of --progress lines.")(fn)
    fn = click.option("--progress", type=click.Choice(PROGRESS_MODES), default="auto", show_default=True,
                      help="Progress inside an epoch: bar (redrawn in place), lines (one every --progress-seconds, "
                           "for logs), none; auto: bar on a terminal, lines otherwise.")(fn)
    return fn
