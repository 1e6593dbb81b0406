"""training.atomic: a write that fails leaves the old file and no temporary behind; a finished one
has the umask's mode (or the replaced file's) and reached the disk before its rename; a dead run's
temporaries are removed and a live run's are kept, told by the lock its writer holds."""
import errno
import os
import subprocess
import sys
import textwrap

import pytest

from training import atomic

HOLD_LOCK = ("import fcntl, sys; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); "
             "print('locked', flush=True); sys.stdin.read()")


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


def test_replacing_a_private_file_keeps_it_private(tmp_path):
    path = tmp_path / "calibration.toml"
    path.write_text("old")
    os.chmod(path, 0o600)
    atomic.write_text(path, "new")
    assert path.read_text() == "new"
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_symlinked_destination_is_written_through(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "out.png"
    target.write_bytes(b"old")
    link = tmp_path / "out.png"
    os.symlink(target, link)
    atomic.write_bytes(link, b"new")
    assert os.path.islink(link) and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path / "real")) == ["out.png"]


def test_a_short_write_then_a_full_disk_raises_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "engine.plan"
    path.write_bytes(b"old engine")
    real_write = os.write
    calls = []

    def full_disk(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[:100]))  # a short write: the disk had 100 bytes left
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError) as info:
        atomic.write_bytes(path, b"x" * 1000)
    assert info.value.errno == errno.ENOSPC
    assert calls == [1000, 900]  # the short write was followed up, not taken for the whole
    assert path.read_bytes() == b"old engine"
    assert os.listdir(tmp_path) == ["engine.plan"]


def test_a_real_file_size_limit_is_a_failed_write_that_keeps_the_old_file(tmp_path):
    """RLIMIT_FSIZE with SIGXFSZ ignored: the kernel's own short write, then EFBIG."""
    path = tmp_path / "settings.toml"
    path.write_bytes(b"old")
    script = textwrap.dedent(f"""
        import errno, resource, signal, sys
        from training import atomic
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            atomic.write_bytes({str(path)!r}, b"y" * 100000)
        except OSError as exc:
            print("failed", errno.errorcode[exc.errno])
        else:
            print("wrote")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "failed EFBIG", result.stderr
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["settings.toml"]


def test_a_full_filesystem_keeps_the_old_file(small_filesystem):
    path = small_filesystem / "checkpoint.pt"
    path.write_bytes(b"old")
    with pytest.raises(OSError) as info:
        atomic.write_bytes(path, os.urandom(256 * 1024))
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old"
    assert os.listdir(small_filesystem) == ["checkpoint.pt"]


@pytest.mark.parametrize("how", ["write_bytes", "written by name"])
def test_the_file_is_whole_and_synced_when_it_is_renamed(tmp_path, monkeypatch, how):
    """At the rename the temporary holds every byte and was fsynced; the folder is fsynced
    after it (a power cut then leaves the old file or the new one, never a partial one)."""
    path = tmp_path / "model.pt"
    path.write_bytes(b"old")
    data = os.urandom(300000)
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        info = os.fstat(fd)
        events.append(("fsync", (info.st_dev, info.st_ino)))
        return real_fsync(fd)

    def replace(src, dst):
        info = os.stat(src)
        with open(src, "rb") as f:
            events.append(("replace", (info.st_dev, info.st_ino), f.read()))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    if how == "write_bytes":
        atomic.write_bytes(path, data)
    else:  # how torch.save, OpenCV and ONNX write: they open the temporary by its name
        with atomic.replacing(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(data)
    renames = [i for i, e in enumerate(events) if e[0] == "replace"]
    assert len(renames) == 1
    at = renames[0]
    _, inode, content = events[at]
    assert content == data
    assert ("fsync", inode) in events[:at]  # the file's data reached the disk first
    folder = os.stat(tmp_path)
    assert ("fsync", (folder.st_dev, folder.st_ino)) in events[at + 1:]  # then the rename
    assert path.read_bytes() == data


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


def test_a_temporary_whose_writer_holds_its_lock_is_kept_whatever_its_pid(tmp_path):
    """The writer may live in another PID namespace, where its process id means nothing here:
    the lock it holds decides."""
    pid = dead_pid()
    live = tmp_path / f"{atomic.TEMP_PREFIX}{pid}-abc.mp4"  # that pid is gone here
    stale = tmp_path / f"{atomic.TEMP_PREFIX}{pid}-def.mp4"
    other = tmp_path / ".someone-elses.tmp"
    for p in (live, stale, other):
        p.write_bytes(b"x")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(live)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        atomic.write_text(tmp_path / "out.txt", "done")
        assert live.exists() and not stale.exists() and other.exists()
    finally:
        holder.stdin.close()
        holder.wait(30)
    assert (tmp_path / "out.txt").read_text() == "done"
    assert atomic.remove_stale_temps(str(tmp_path)) == [str(live)]  # its writer is gone now


def test_another_process_cleaning_up_keeps_this_runs_temporary(tmp_path):
    tmp = atomic.temp_beside(tmp_path / "out.mp4")
    try:
        cleanup = subprocess.run([sys.executable, "-c", "import sys; from training import atomic; "
                                  "print(atomic.remove_stale_temps(sys.argv[1]))", str(tmp_path)],
                                 capture_output=True, text=True, check=True, timeout=60)
        assert cleanup.stdout.strip() == "[]" and os.path.exists(tmp)
    finally:
        atomic.discard(tmp)
    assert os.listdir(tmp_path) == []


def test_an_output_lock_is_refused_to_a_second_process_and_removed_after(tmp_path):
    lock = atomic.OutputLock(tmp_path / "out.mp4")
    assert lock.acquire()
    probe = ("import sys; from training import atomic; "
             "print(atomic.OutputLock(sys.argv[1]).acquire())")
    second = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "out.mp4")], capture_output=True,
                            text=True, check=True, timeout=60)
    assert second.stdout.strip() == "False"
    lock.release()
    assert os.listdir(tmp_path) == []
    again = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "out.mp4")], capture_output=True,
                           text=True, check=True, timeout=60)
    assert again.stdout.strip() == "True"
