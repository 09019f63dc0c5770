"""Kill-safe file writes: a temporary file in the same folder, then a rename.

A reader (or a process killed at any instant) sees either the old file or the new one, never half
of one. Files get the permissions of a normally created file (0666 less the umask), so results
stay readable by collaborators. Pure Python: every layer may use it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Permissions of a file created normally: mkstemp's 0600 would hide results from collaborators.
FILE_MODE = 0o666 & ~_umask()


def temporary_path(path: Path) -> Path:
    """A private name beside ``path`` that keeps its suffixes (libraries choose formats by them)."""
    suffixes = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffixes)] if suffixes else path.name
    return path.with_name(f".{stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{suffixes}")


# What temporary_path makes: .<stem>.<pid>.<8 hex>.tmp<suffixes>
_TEMPORARY = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}\.tmp(\.[^/]+)?$")


def is_temporary(name: str) -> bool:
    """Whether ``name`` is a temporary file of ``atomic_write_with`` (left behind only by a kill)."""
    return bool(_TEMPORARY.match(name))


def remove_temporary(directory: str | Path) -> list[Path]:
    """Removes the temporary files killed writes left in ``directory`` (not below it).

    Only the folder's one writer may call this (e.g. the owner of a run directory's lock): another
    writer's temporary file lives only for the moment of its write.

    Returns:
        The files removed.
    """
    removed = []
    directory = Path(directory)
    if not directory.is_dir():
        return removed
    for path in directory.iterdir():
        if is_temporary(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def fsync_directory(directory: str | Path) -> None:
    """Makes a rename, link or removal in ``directory`` durable (power-safe, not only kill-safe).

    Best effort: a platform or filesystem that cannot fsync a directory (Windows) is left alone.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_with(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Calls ``write(temporary path)``, then renames the result to ``path``.

    Args:
        path: the file to (re)write.
        write: writes the whole file at the path it is given (e.g. ``lambda p: fig.savefig(p)``).

    Returns:
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
        fsync_directory(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline=""))
