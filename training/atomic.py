"""Writing files so that a failure leaves nothing half-written: every file the project writes
(checkpoints, engines, videos, images, settings, label lists) goes to a hidden temporary name
beside its destination and is renamed into place only when complete.

Complete means durable: the temporary file is fsynced before the rename and the folder after
it, so a power cut leaves the old file or the new one, never an empty or partial one. A short
write or a full disk raises OSError and the temporary file is removed.

A destination that is a symlink is written through (its target is replaced); an existing
destination's permission bits are kept (a 0600 file stays 0600).

While a temporary file is being written its writer holds an flock on it. A later run removes
only temporaries whose lock it can take: a dead writer's lock is gone, a live one's is held even
from another PID namespace (a container sharing the folder), where a process id means nothing.

It lives in `training`, the lowest package (livegaze -> engines -> training), so all three use
this one copy; it needs only the standard library.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import tempfile
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; a dead writer is told by its process id instead
    fcntl = None

log = logging.getLogger(__name__)

# Temporary files are named with the writing process's id (for people reading the folder);
# whether the writer is alive is told by its lock.
TEMP_PREFIX = ".livegaze-"
LOCK_PREFIX = TEMP_PREFIX + "lock-"

_held: dict[str, int] = {}  # temporary path -> the descriptor holding its lock
_held_guard = threading.Lock()


def destination(path: str | os.PathLike) -> str:
    """Where writing `path` really lands: through any symlink, to its target."""
    return os.path.realpath(os.fspath(path))


def temp_beside(path: str | os.PathLike) -> str:
    """The name of a new, empty hidden file beside `path`'s destination (its folder is made if
    missing), locked by this process until `commit` or `discard`; a dead run's leftovers there
    are removed first."""
    dst = destination(path)
    folder = os.path.dirname(dst)
    os.makedirs(folder, exist_ok=True)
    remove_stale_temps(folder)
    while True:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{TEMP_PREFIX}{os.getpid()}-",
                                   suffix=os.path.splitext(dst)[1])
        if _lock_if_same(fd, tmp):
            break
        # Another run's cleanup took the new file between mkstemp and the lock: it removes it.
        os.close(fd)
    with _held_guard:
        _held[tmp] = fd
    return tmp


def _lock_if_same(fd: int, path: str) -> bool:
    """Take `fd`'s lock without waiting; True when taken and `path` is still that file."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
    try:
        here, held = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


def _release(tmp: str) -> None:
    with _held_guard:
        fd = _held.pop(tmp, None)
    if fd is not None:
        os.close(fd)


def commit(tmp: str, path: str | os.PathLike) -> None:
    """Move a finished temporary file into place, durably: its data reach the disk before the
    rename, the rename before this returns. It gets the existing destination's permission bits,
    or those the user's umask gives a new file (mkstemp alone would leave it 0600)."""
    dst = destination(path)
    try:
        existing = os.stat(dst).st_mode & 0o7777
    except FileNotFoundError:
        existing = None
    if existing is None:
        umask_mode(tmp)
    else:
        os.chmod(tmp, existing)
    with _held_guard:
        fd = _held.get(tmp)
    if fd is not None:
        os.fsync(fd)  # the data whoever wrote the file by name left in the page cache
    else:
        _fsync_path(tmp)
    os.replace(tmp, dst)
    _release(tmp)  # the file is in place: nothing to clean up any more
    _fsync_path(os.path.dirname(dst))


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems cannot sync a folder; the file itself was synced
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF) or not os.path.isdir(path):
            raise
    finally:
        os.close(fd)


def discard(tmp: str | None) -> None:
    """Remove an unfinished temporary file (no matter if it is gone already) and its lock."""
    if not tmp:
        return
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    finally:
        _release(tmp)


@contextlib.contextmanager
def replacing(path: str | os.PathLike):
    """`with replacing(dst) as tmp:` write `tmp` by any means; on a clean exit it becomes `dst`,
    on an exception it is removed and `dst` is left as it was."""
    tmp = temp_beside(path)
    try:
        yield tmp
        commit(tmp, path)
    finally:
        discard(tmp)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Replace `path` with `data`; every write is checked (a short one raises OSError)."""
    with replacing(path) as tmp:
        with _held_guard:
            fd = _held[tmp]
        _write_all(fd, data)
    return Path(path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)  # ENOSPC, EFBIG, EIO raise OSError
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode())


def write_jpeg(path: str | os.PathLike, image) -> Path:
    """Replace `path` with `image` as a quality-95 JPEG. Not cv2.imwrite: it reports a full disk
    only by returning False and syncs nothing, so an index written after it could list lost images."""
    import cv2  # here, not at the top: the rest of this module needs no OpenCV
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ValueError(f"{path}: cannot encode the image as JPEG")
    return write_bytes(path, data.tobytes())


def umask_mode(path: str | os.PathLike) -> None:
    """Give a file made by mkstemp (0600) the mode the user's umask gives a new file."""
    mask = os.umask(0)  # the only way to read the umask is to set it
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


class OutputLock:
    """A lock on an output path, so two runs never write the same file at once: a hidden lock
    file beside the destination, flocked while held, removed on release."""

    def __init__(self, path: str | os.PathLike):
        dst = destination(path)
        self.path = os.path.join(os.path.dirname(dst), LOCK_PREFIX + os.path.basename(dst))
        self.fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            if fcntl is None:
                self.fd = fd
                return True
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            if _lock_if_same(fd, self.path):
                self.fd = fd
                return True
            os.close(fd)  # the holder removed it as we took it: try a fresh one

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)  # removed while still held: nobody takes a dead file
            os.close(self.fd)
            self.fd = None


def remove_stale_temps(folder: str) -> list[str]:
    """Remove hidden temp files in `folder` that provably belong to a dead livegaze run: our
    prefix, owned by this user, and nobody holds their lock. Returns what went."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(TEMP_PREFIX):
            continue
        path = os.path.join(folder, name)
        try:
            if _stale(path, name):
                removed.append(path)
                log.info("removed %s, left by an interrupted run", path)
        except OSError:
            pass  # gone already, or not ours to judge
    return removed


def _stale(path: str, name: str) -> bool:
    """Remove `path` when its writer is provably dead; True when it was removed."""
    info = os.lstat(path)
    if info.st_uid != os.getuid() or not os.path.isfile(path) or os.path.islink(path):
        return False
    if fcntl is None:
        return _stale_by_pid(path, name)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its writer holds the lock: alive, wherever it runs
        if not _lock_if_same(fd, path):
            return False
        os.unlink(path)  # unlinked under our lock: a writer starting now sees it gone
        return True
    finally:
        os.close(fd)


def _stale_by_pid(path: str, name: str) -> bool:
    pid = name[len(TEMP_PREFIX):].split("-", 1)[0]
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
        return False
    except ProcessLookupError:
        pass
    except PermissionError:
        return False
    os.unlink(path)
    return True
