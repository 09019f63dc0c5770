"""Kill-safe file writes: a temporary file in the same folder, then a rename.

A reader (or a process killed at any instant) sees either the old file or the new one, never half
of one. Files get the permissions of a normally created file (0666 less the umask), so results
stay readable by collaborators. Pure Python: every layer may use it.
"""

from __future__ import annotations

import os
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
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline=""))
