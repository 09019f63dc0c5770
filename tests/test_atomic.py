"""Kill-safe writes: the old or the new file, never half of one; normal permissions."""

from __future__ import annotations

import stat

import pytest

from rethinking.atomic import FILE_MODE, atomic_write_text, atomic_write_with, temporary_path


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "results.json"
    atomic_write_text(path, "old")

    def half_then_crash(tmp):
        tmp.write_text("ne")
        raise KeyboardInterrupt  # a kill in the middle of the write

    with pytest.raises(KeyboardInterrupt):
        atomic_write_with(path, half_then_crash)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_files_get_normal_permissions_and_keep_their_suffixes(tmp_path):
    seen = []
    atomic_write_with(tmp_path / "final.weights.h5", lambda tmp: (seen.append(tmp.name), tmp.write_bytes(b"x")))
    assert seen[0].startswith(".final.") and seen[0].endswith(".tmp.weights.h5")
    mode = stat.S_IMODE((tmp_path / "final.weights.h5").stat().st_mode)
    assert mode == FILE_MODE and mode & stat.S_IRGRP and mode & stat.S_IROTH
    assert temporary_path(tmp_path / "inputs.png").suffix == ".png"
