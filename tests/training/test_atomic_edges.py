"""training.atomic at its edges: the temporary's name, folders that cannot be synced, writes of
one byte or none, the lock file's place and mode, odd files with our prefix, and the process-id
rule a system without flock (Windows) uses."""
import errno
import os
import re
import stat
import subprocess
import sys

import pytest

from training import atomic


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


def open_fds():
    return set(os.listdir("/proc/self/fd"))


def test_the_temporary_is_hidden_beside_the_destination_with_its_pid_and_extension(tmp_path):
    """Writers such as OpenCV pick the format by the extension, and people reading the folder
    see whose it is: .livegaze-<pid>-<random><ext>, in the destination's folder."""
    tmp = atomic.temp_beside(tmp_path / "clip.mp4")
    try:
        assert os.path.dirname(tmp) == str(tmp_path)
        assert re.fullmatch(rf"\.livegaze-{os.getpid()}-[^/]+\.mp4", os.path.basename(tmp)), tmp
    finally:
        atomic.discard(tmp)


def test_a_commit_leaves_no_descriptor_open(tmp_path):
    before = open_fds()
    tmp = atomic.temp_beside(tmp_path / "a.bin")
    with open(tmp, "wb") as f:
        f.write(b"data")
    atomic.commit(tmp, tmp_path / "a.bin")
    assert open_fds() == before and (tmp_path / "a.bin").read_bytes() == b"data"


def test_a_file_written_elsewhere_can_be_committed_by_name(tmp_path):
    """commit() of a file this module did not make (no lock held): synced by name, moved."""
    tmp = tmp_path / ".partial"
    tmp.write_bytes(b"whole")
    atomic.commit(str(tmp), tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == b"whole" and not tmp.exists()


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOTSUP, errno.EBADF])
def test_a_folder_that_cannot_be_synced_still_commits(tmp_path, monkeypatch, code):
    """Some filesystems refuse to fsync a folder (EINVAL, ENOTSUP, EBADF): the file itself was
    synced, so the write succeeds; the same refusal for the file itself is an error."""
    real = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(code, os.strerror(code))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    atomic.write_bytes(tmp_path / "a.bin", b"x")
    assert (tmp_path / "a.bin").read_bytes() == b"x"

    def fsync_files(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(code, os.strerror(code))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync_files)
    (tmp_path / ".other").write_bytes(b"y")
    with pytest.raises(OSError):
        atomic.commit(str(tmp_path / ".other"), tmp_path / "b.bin")


def test_a_folder_sync_failing_otherwise_is_an_error(tmp_path, monkeypatch):
    real = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError) as info:
        atomic.write_bytes(tmp_path / "a.bin", b"x")
    assert info.value.errno == errno.EIO


def test_one_byte_is_written_and_a_write_of_nothing_is_a_full_disk(tmp_path, monkeypatch):
    atomic.write_bytes(tmp_path / "one", b"1")
    assert (tmp_path / "one").read_bytes() == b"1"
    monkeypatch.setattr(os, "write", lambda fd, data: 0)  # the disk took nothing
    with pytest.raises(OSError) as info:
        atomic.write_bytes(tmp_path / "one", b"22")
    assert info.value.errno == errno.ENOSPC and (tmp_path / "one").read_bytes() == b"1"


def test_a_new_file_gets_the_umasks_mode(tmp_path):
    old = os.umask(0o002)
    try:
        atomic.write_bytes(tmp_path / "shared.txt", b"x")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "shared.txt").st_mode & 0o777 == 0o664


def test_the_output_lock_is_a_private_hidden_file_beside_the_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "videos").mkdir()
    lock = atomic.OutputLock(tmp_path / "videos" / "call.mp4")
    assert lock.acquire()
    try:
        assert os.listdir(tmp_path / "videos") == [".livegaze-lock-call.mp4"]
        assert os.stat(tmp_path / "videos" / ".livegaze-lock-call.mp4").st_mode & 0o777 == 0o600
    finally:
        lock.release()
    assert os.listdir(tmp_path / "videos") == []


def test_releasing_an_output_lock_twice_unheld_or_already_removed_is_harmless(tmp_path):
    atomic.OutputLock(tmp_path / "a.mp4").release()  # never acquired
    lock = atomic.OutputLock(tmp_path / "b.mp4")
    assert lock.acquire()
    os.unlink(lock.path)  # someone removed it meanwhile
    lock.release()
    lock.release()
    assert lock.acquire()
    lock.release()
    assert os.listdir(tmp_path) == []


def test_odd_files_with_our_prefix_are_left_alone(tmp_path):
    """Only regular files of this user are ours to judge: a pipe, a folder, a symlink, or a
    file of another user with the prefix stay, and are not reported as removed."""
    pid = dead_pid()
    os.mkfifo(tmp_path / f".livegaze-{pid}-pipe.mp4")
    (tmp_path / f".livegaze-{pid}-dir.mp4").mkdir()
    target = tmp_path / "real.mp4"
    target.write_bytes(b"x")
    os.symlink(target, tmp_path / f".livegaze-{pid}-link.mp4")
    names = sorted(os.listdir(tmp_path))
    if os.getuid() == 0:  # root can make a file another user owns
        theirs = tmp_path / f".livegaze-{pid}-theirs.mp4"
        theirs.write_bytes(b"x")
        os.chown(theirs, 4321, 4321)
        names = sorted(os.listdir(tmp_path))
    assert atomic.remove_stale_temps(str(tmp_path)) == []
    assert sorted(os.listdir(tmp_path)) == names


def test_a_live_writers_temporary_is_not_reported_as_removed(tmp_path):
    tmp = atomic.temp_beside(tmp_path / "out.mp4")
    try:
        assert atomic.remove_stale_temps(str(tmp_path)) == [] and os.path.exists(tmp)
    finally:
        atomic.discard(tmp)


def test_without_flock_a_dead_writer_is_told_by_its_process_id(tmp_path, monkeypatch):
    """Where there is no flock (Windows), the temporary's process id decides: a process that no
    longer exists left it (removed); this process's own, or a running one's, are kept, and so
    is a name with no process id in it."""
    monkeypatch.setattr(atomic, "fcntl", None)
    # A running writer of our own making: whatever the check does to its process, it is only
    # this one (it must still be running after: asking whether a process lives sends no signal).
    writer = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        gone = tmp_path / f".livegaze-{dead_pid()}-abc-def.mp4"
        mine = tmp_path / f".livegaze-{os.getpid()}-abc.mp4"
        running = tmp_path / f".livegaze-{writer.pid}-abc.mp4"
        unnamed = tmp_path / ".livegaze-notapid-abc.mp4"
        for p in (gone, mine, running, unnamed):
            p.write_bytes(b"x")
        assert atomic.remove_stale_temps(str(tmp_path)) == [str(gone)]
        assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in (mine, running, unnamed))
        assert writer.poll() is None
    finally:
        writer.stdin.close()
        writer.wait(30)


def test_without_flock_another_users_process_is_alive(tmp_path, monkeypatch):
    """A process id that belongs to another user's running process (the system refuses to
    signal it) is a live writer: its temporary stays."""
    monkeypatch.setattr(atomic, "fcntl", None)
    theirs = dead_pid()
    real_kill = os.kill

    def kill(pid, sig):
        if pid == theirs:
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
        return real_kill(pid, sig)

    monkeypatch.setattr(os, "kill", kill)
    held = tmp_path / f".livegaze-{theirs}-abc.mp4"
    held.write_bytes(b"x")
    assert atomic.remove_stale_temps(str(tmp_path)) == [] and held.exists()


def test_without_flock_an_output_lock_is_still_a_lock_file(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "fcntl", None)
    lock = atomic.OutputLock(tmp_path / "out.mp4")
    assert lock.acquire() is True and lock.fd is not None
    assert os.listdir(tmp_path) == [".livegaze-lock-out.mp4"]
    lock.release()
    assert os.listdir(tmp_path) == [] and lock.fd is None
