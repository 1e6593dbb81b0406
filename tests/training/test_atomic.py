"""training.atomic: a write that fails leaves the old file and no temporary behind; a finished one
has the umask's mode; a dead run's temporaries are removed and a live run's are kept."""
import os
import subprocess
import sys

import pytest

from training import atomic


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.replacing(path) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("disk full, say")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.toml"]


def test_a_finished_write_replaces_the_file_with_the_umasks_mode(tmp_path):
    path = tmp_path / "deep" / "er" / "model.onnx"  # folders are made
    old = os.umask(0o027)
    try:
        atomic.write_bytes(path, b"\x00\x01")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"\x00\x01"
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["model.onnx"]


def test_only_a_dead_runs_temporaries_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale = tmp_path / f"{atomic.TEMP_PREFIX}{dead.stdout.strip()}-abc.mp4"
    live = tmp_path / f"{atomic.TEMP_PREFIX}{os.getppid()}-abc.mp4"  # the test runner's parent: alive
    other = tmp_path / ".someone-elses.tmp"
    for p in (stale, live, other):
        p.write_bytes(b"x")
    atomic.write_text(tmp_path / "out.txt", "done")
    assert not stale.exists() and live.exists() and other.exists()
    assert (tmp_path / "out.txt").read_text() == "done"
