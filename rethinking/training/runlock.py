"""One writer per run directory: a lock file naming its process, kept fresh by a heartbeat.

``run.lock`` in a run directory names the live process that owns it::

    {"host": "node7", "pid": 4242, "process_start": 917263, "boot_id": "1c0e...",
     "pid_namespace": "pid:[4026531836]", "token": "9f1c...", "started": 1796090000.0,
     "heartbeat": 1796090000.0}

It is created complete or not at all: written to a private temporary file, then hard-linked to
``run.lock`` (``link`` fails if the name exists, atomically, also on NFS), so a reader never sees
half a lock; the directory is then fsynced, so the lock survives a power cut too. The heartbeat
is the lock file's modification time: every ``HEARTBEAT_SECONDS`` the owner touches the inode it
created (through a descriptor it keeps open), never the name, so a heartbeat can never write over
a lock another process has taken meanwhile.

A lock is stale, and the next process takes it over, when its process is gone:

* in the same process space (same host name, boot id and PID namespace, so PIDs are comparable):
  no process with that PID and start time;
* anywhere else (another machine on a shared filesystem, or a container with its own PID
  namespace that shares the host name, e.g. ``--net=host`` workers on one volume): no heartbeat
  for ``STALE_SECONDS``. The age is the difference of two modification times stamped by the
  filesystem that holds the run (the lock's, and that of a file the acquirer has just written),
  so the hosts' clocks do not enter it where the filesystem stamps times itself (local disks;
  NFS, whose server stamps them). On a shared filesystem whose clients stamp their own times, a
  clock skew between two hosts larger than ``STALE_SECONDS`` would make a live lock look stale.

Breaking a stale lock is serialized by ``run.lock.break`` (created with ``O_EXCL``, naming its
process), so of two processes that find the same stale lock only one takes it; a break file left
by a process that died is removed at once (the same staleness rules).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from rethinking.atomic import fsync_directory

logger = logging.getLogger(__name__)

LOCK_FILE = "run.lock"
BREAK_SUFFIX = ".break"
# Seconds between heartbeats, and without one before a lock held from another process space is stale.
HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 180.0
# Seconds after which an empty or unreadable break file (its writer died between creating and
# filling it: microseconds) is stale, and after which a lock's private temporary file is litter.
BREAK_EMPTY_STALE_SECONDS = 5.0
PRIVATE_STALE_SECONDS = 60.0
_PRIVATE = re.compile(rf"^\.{re.escape(LOCK_FILE)}\.[0-9a-f]{{32}}\.\d+\.tmp$")


class RunLocked(RuntimeError):
    """The run directory is owned by another live process."""


class LockLost(RuntimeError):
    """This process no longer owns the run directory (another process took the lock over)."""


def _read_first_line(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def boot_id() -> str | None:
    """This machine's boot id (Linux; None elsewhere): PIDs compare only within one boot."""
    return _read_first_line("/proc/sys/kernel/random/boot_id")


def pid_namespace() -> str | None:
    """This process's PID namespace (``pid:[4026531836]``; Linux), None where unknown: containers
    sharing a host name but not a PID namespace cannot see each other's processes."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a lock: the lock file's contents, and its modification time as ``heartbeat``."""

    host: str
    pid: int
    token: str
    started: float
    heartbeat: float
    process_start: int | None = None
    boot_id: str | None = None
    pid_namespace: str | None = None

    def describe(self, now: float | None = None) -> str:
        """``process 4242 on node7, heartbeat 12 s ago``."""
        age = max(0.0, (time.time() if now is None else now) - self.heartbeat)
        return f"process {self.pid} on {self.host}, heartbeat {age:.0f} s ago"

    def in_this_process_space(self) -> bool:
        """Whether its PID names a process this one can see: same host name, and the same boot and
        PID namespace where the lock records them (locks of older versions record neither)."""
        return (self.host == socket.gethostname()
                and (self.boot_id is None or self.boot_id == boot_id())
                and (self.pid_namespace is None or self.pid_namespace == pid_namespace()))


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or None if unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # Field 22; the command name (field 2) may hold spaces, so split after its closing parenthesis.
    fields = text[text.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host (a PID no system can have: no)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's process
    return True


# Tokens of the locks this process holds: a lock file with our PID but a token we never wrote
# was left by an earlier process that had the same PID (common in containers).
_OWN_TOKENS: set[str] = set()


def is_stale(holder: Holder, *, now: float | None = None, stale_seconds: float = STALE_SECONDS) -> bool:
    """Whether ``holder``'s process is gone (see the module docstring).

    Args:
        holder: the lock's holder (``heartbeat``: the lock file's modification time).
        now: the present on the clock that stamped ``heartbeat`` (the filesystem's); default: this
            host's clock.
        stale_seconds: heartbeat age beyond which a holder outside this process space is gone.
    """
    if not holder.in_this_process_space():
        return (time.time() if now is None else now) - holder.heartbeat > stale_seconds
    if holder.pid == os.getpid():
        return holder.token not in _OWN_TOKENS
    if not pid_alive(holder.pid):
        return True
    start = process_start(holder.pid)
    return holder.process_start is not None and start is not None and start != holder.process_start


def _holder(values: Any, modified: float) -> Holder:
    return Holder(host=str(values["host"]), pid=int(values["pid"]), token=str(values["token"]),
                  started=float(values["started"]), heartbeat=modified,
                  process_start=None if values.get("process_start") is None else int(values["process_start"]),
                  boot_id=values.get("boot_id"), pid_namespace=values.get("pid_namespace"))


def read_holder(path: Path) -> Holder | None:
    """The holder of the lock (or break) file ``path``; None if there is none. An unreadable file
    is a stale holder."""
    try:
        modified = path.stat().st_mtime
        return _holder(json.loads(path.read_text(encoding="utf-8")), modified)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        # Never written by this module (locks are linked into place complete): garbage, so stale.
        return Holder(host=socket.gethostname(), pid=-1, token="unreadable", started=0.0, heartbeat=0.0)


def _write_private(directory: Path, values: dict[str, Any]) -> Path:
    tmp = directory / f".{LOCK_FILE}.{values['token']}.{time.monotonic_ns()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(values, f)
        f.flush()
        os.fsync(f.fileno())
    return tmp


def remove_private_litter(directory: Path, now: float) -> None:
    """Removes lock files' private temporary files that killed acquirers left (older than
    ``PRIVATE_STALE_SECONDS`` on the filesystem's clock ``now``: a live acquirer's exists for
    milliseconds)."""
    for path in directory.iterdir():
        if _PRIVATE.match(path.name):
            try:
                if now - path.stat().st_mtime > PRIVATE_STALE_SECONDS:
                    path.unlink(missing_ok=True)
            except OSError:
                pass


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
        self._fd: int | None = None  # our lock file's inode, touched by the heartbeat
        self.taken_over: Holder | None = None

    def _values(self) -> dict[str, Any]:
        return {"host": socket.gethostname(), "pid": os.getpid(), "process_start": process_start(os.getpid()),
                "boot_id": boot_id(), "pid_namespace": pid_namespace(), "token": self.token,
                "started": self.started, "heartbeat": time.time()}

    def acquire(self) -> RunLock:
        """Takes the lock (creating the directory), breaking a stale one.

        Raises:
            RunLocked: another live process holds it, or keeps breaking it.
            OSError: the directory cannot be created or written.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        _OWN_TOKENS.add(self.token)
        breaking = None
        for _ in range(20):
            tmp = _write_private(self.directory, self._values())
            try:
                now = tmp.stat().st_mtime  # the present on the filesystem's clock
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.link(tmp, self.path)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
                fsync_directory(self.directory)
                remove_private_litter(self.directory, now)
                self._start_heartbeat()
                return self
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
            holder = read_holder(self.path)
            if holder is None:
                continue  # released meanwhile
            if not is_stale(holder, now=now, stale_seconds=self.stale_seconds):
                _OWN_TOKENS.discard(self.token)
                raise RunLocked(
                    f"{self.directory} is in use by {holder.describe(now)}; wait for it to finish, or stop it "
                    f"(a lock whose process has died is taken over automatically).")
            breaking = self._break(holder, now)
        _OWN_TOKENS.discard(self.token)
        if breaking is not None:
            who = breaking.describe() if breaking.pid > 0 else "another process"
            raise RunLocked(f"Could not lock {self.directory}: {who} is breaking its stale lock "
                            f"({LOCK_FILE}{BREAK_SUFFIX}); try again.")
        raise RunLocked(f"Could not lock {self.directory}: other processes keep taking it; try again.")

    def _break(self, stale: Holder, now: float) -> Holder | None:
        """Removes the stale lock ``stale`` unless another process changed it meanwhile.

        Returns:
            The live process that is breaking it instead (its break file), else None.
        """
        guard = self.path.with_name(LOCK_FILE + BREAK_SUFFIX)
        try:
            fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            breaker = read_holder(guard)
            if breaker is not None and self._break_is_stale(breaker, guard, now):
                guard.unlink(missing_ok=True)  # its breaker died: the next round breaks the lock
                return None
            time.sleep(0.05)
            return breaker
        try:
            os.write(fd, json.dumps(self._values()).encode())
            os.close(fd)
            current = read_holder(self.path)
            if current is not None and current.token == stale.token:
                self.path.unlink(missing_ok=True)
                self.taken_over = stale
                logger.warning("Took over %s from %s (no longer running).", self.directory, stale.describe(now))
        finally:
            guard.unlink(missing_ok=True)
        return None

    def _break_is_stale(self, breaker: Holder, guard: Path, now: float) -> bool:
        if breaker.token == "unreadable":  # created but not yet (or never) filled
            try:
                return now - guard.stat().st_mtime > BREAK_EMPTY_STALE_SECONDS
            except FileNotFoundError:
                return False
        return is_stale(breaker, now=now, stale_seconds=self.stale_seconds)

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
        """Touches the lock file this process created (its modification time is the heartbeat).

        Through the descriptor of our own inode: if another process took the lock over meanwhile,
        the touch lands on our unlinked file, never on theirs.

        Raises:
            LockLost: the lock file is no longer ours.
        """
        self.check()
        if self._fd is not None:
            os.utime(self._fd)

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
                fsync_directory(self.directory)
        finally:
            _OWN_TOKENS.discard(self.token)
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
