"""One writer per run directory: a lock file with host, PID and a heartbeat.

``run.lock`` in a run directory names the live process that owns it::

    {"host": "node7", "pid": 4242, "process_start": 917263, "token": "9f1c...",
     "started": 1796090000.0, "heartbeat": 1796090360.0}

It is created complete or not at all: written to a private temporary file, then hard-linked to
``run.lock`` (``link`` fails if the name exists, atomically, also on NFS), so a reader never sees
half a lock. The owner rewrites it every ``HEARTBEAT_SECONDS`` (temporary file + rename).

A lock is stale, and the next process takes it over, when its process is gone: on the same host,
no process with that PID and start time; on another host (a shared filesystem), no heartbeat
for ``STALE_SECONDS``. Breaking a stale lock is itself serialized by ``run.lock.break`` (created
with ``O_EXCL``), so of two processes that find the same stale lock only one takes it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

LOCK_FILE = "run.lock"
BREAK_SUFFIX = ".break"
# Seconds between heartbeats, and without one before a lock held from another host is stale.
HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 180.0
# A break file older than this (seconds) belongs to a process that died while breaking a lock.
BREAK_STALE_SECONDS = 60.0


class RunLocked(RuntimeError):
    """The run directory is owned by another live process."""


class LockLost(RuntimeError):
    """This process no longer owns the run directory (another process took the lock over)."""


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a lock (the lock file's contents)."""

    host: str
    pid: int
    token: str
    started: float
    heartbeat: float
    process_start: int | None = None

    def describe(self) -> str:
        """``process 4242 on node7, heartbeat 12 s ago``."""
        age = max(0.0, time.time() - self.heartbeat)
        return f"process {self.pid} on {self.host}, heartbeat {age:.0f} s ago"


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or None if unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces, so split after its closing parenthesis.
    fields = text[text.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


# Tokens of the locks this process holds: a lock file with our PID but a token we never wrote
# was left by an earlier process that had the same PID (common in containers).
_OWN_TOKENS: set[str] = set()


def is_stale(holder: Holder, *, now: float | None = None, stale_seconds: float = STALE_SECONDS) -> bool:
    """Whether ``holder``'s process is gone (see the module docstring)."""
    now = time.time() if now is None else now
    if holder.host != socket.gethostname():
        return now - holder.heartbeat > stale_seconds
    if holder.pid == os.getpid():
        return holder.token not in _OWN_TOKENS
    if not pid_alive(holder.pid):
        return True
    start = process_start(holder.pid)
    return holder.process_start is not None and start is not None and start != holder.process_start


def read_holder(path: Path) -> Holder | None:
    """The lock's holder; None if there is no lock file. An unreadable file is a stale holder."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        return Holder(host=str(values["host"]), pid=int(values["pid"]), token=str(values["token"]),
                      started=float(values["started"]), heartbeat=float(values["heartbeat"]),
                      process_start=values.get("process_start"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        # Never written by this module (locks are linked into place complete): garbage, so stale.
        return Holder(host=socket.gethostname(), pid=-1, token="unreadable", started=0.0, heartbeat=0.0)


def _write_private(directory: Path, values: dict[str, Any]) -> Path:
    tmp = directory / f".{LOCK_FILE}.{values['token']}.{time.monotonic_ns()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(values, f)
        f.flush()
        os.fsync(f.fileno())
    return tmp


class RunLock:
    """Exclusive ownership of a run directory by this process, kept alive by a heartbeat thread.

    Use as a context manager, or ``acquire()`` / ``release()``. ``check()`` raises ``LockLost``
    if another process has taken the lock over (e.g. this one was suspended past the stale time).
    """

    def __init__(self, directory: str | Path, *, heartbeat_seconds: float = HEARTBEAT_SECONDS,
                 stale_seconds: float = STALE_SECONDS) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self.heartbeat_seconds = heartbeat_seconds
        self.stale_seconds = stale_seconds
        self.token = uuid.uuid4().hex
        self.started = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.taken_over: Holder | None = None

    def _values(self) -> dict[str, Any]:
        return {"host": socket.gethostname(), "pid": os.getpid(), "process_start": process_start(os.getpid()),
                "token": self.token, "started": self.started, "heartbeat": time.time()}

    def acquire(self) -> RunLock:
        """Takes the lock (creating the directory), breaking a stale one.

        Raises:
            RunLocked: another live process holds it.
            OSError: the directory cannot be created or written.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        _OWN_TOKENS.add(self.token)
        for _ in range(20):
            tmp = _write_private(self.directory, self._values())
            try:
                os.link(tmp, self.path)
                self._start_heartbeat()
                return self
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
            holder = read_holder(self.path)
            if holder is None:
                continue  # released meanwhile
            if not is_stale(holder, stale_seconds=self.stale_seconds):
                _OWN_TOKENS.discard(self.token)
                raise RunLocked(
                    f"{self.directory} is in use by {holder.describe()}; wait for it to finish, or stop it "
                    f"(a lock whose process has died is taken over automatically).")
            self._break(holder)
        _OWN_TOKENS.discard(self.token)
        raise RunLocked(f"Could not lock {self.directory}: other processes keep taking it; try again.")

    def _break(self, stale: Holder) -> None:
        """Removes the stale lock ``stale`` unless another process changed it meanwhile."""
        guard = self.path.with_name(LOCK_FILE + BREAK_SUFFIX)
        try:
            fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                if time.time() - guard.stat().st_mtime > BREAK_STALE_SECONDS:
                    guard.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
            time.sleep(0.05)
            return
        try:
            os.close(fd)
            current = read_holder(self.path)
            if current is not None and current.token == stale.token:
                self.path.unlink(missing_ok=True)
                self.taken_over = stale
                logger.warning("Took over %s from %s (no longer running).", self.directory, stale.describe())
        finally:
            guard.unlink(missing_ok=True)

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"run-lock-heartbeat {self.directory.name}",
                                        daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self.heartbeat()
            except (OSError, LockLost) as err:
                logger.error("Run lock heartbeat of %s failed: %s", self.directory, err)
                return

    def heartbeat(self) -> None:
        """Rewrites the lock with the current time (atomically).

        Raises:
            LockLost: the lock file is no longer ours.
        """
        self.check()
        tmp = _write_private(self.directory, self._values())
        # Checked again just before the rename: writing the new file takes long enough (a loaded
        # machine) for another process to take the lock over meanwhile, and the rename would then
        # put our token back over theirs. A window of a rename remains (issue 28's harder lock).
        try:
            self.check()
        except LockLost:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, self.path)

    def owns(self) -> bool:
        """Whether the lock file is ours."""
        holder = read_holder(self.path)
        return holder is not None and holder.token == self.token

    def check(self) -> None:
        """Raises ``LockLost`` unless this process still holds the lock."""
        if not self.owns():
            holder = read_holder(self.path)
            who = holder.describe() if holder is not None else "nobody (the lock file is gone)"
            raise LockLost(f"{self.directory} is no longer owned by this process (now: {who}); stopping without "
                           "writing, so the run directory keeps one writer.")

    def release(self) -> None:
        """Stops the heartbeat and removes the lock if it is still ours."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
        try:
            if self.owns():
                self.path.unlink(missing_ok=True)
        finally:
            _OWN_TOKENS.discard(self.token)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
