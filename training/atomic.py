"""Writing files so that a failure leaves nothing half-written: every file the project writes
(checkpoints, engines, videos, images, settings, label lists) goes to a hidden temporary name
beside its destination and is renamed into place only when complete.

It lives in `training`, the lowest package (livegaze -> engines -> training), so all three use
this one copy; it needs only the standard library.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

# Temporary files are named with the writing process's id, so a later run can tell a dead
# run's leftovers (removed) from a live run's (kept).
TEMP_PREFIX = ".livegaze-"


def temp_beside(path: str | os.PathLike) -> str:
    """The name of a new, empty hidden file beside `path` (its folder is made if missing);
    a dead run's leftovers there are removed first."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temps(folder)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{TEMP_PREFIX}{os.getpid()}-",
                               suffix=os.path.splitext(str(path))[1])
    os.close(fd)
    return tmp


def commit(tmp: str, path: str | os.PathLike) -> None:
    """Move a finished temporary file into place, with the mode the user's umask gives a new
    file (mkstemp alone would leave it 0600)."""
    umask_mode(tmp)
    os.replace(tmp, path)


def discard(tmp: str | None) -> None:
    if tmp and os.path.exists(tmp):
        os.unlink(tmp)


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
    with replacing(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode())


def umask_mode(path: str | os.PathLike) -> None:
    """Give a file made by mkstemp (0600) the mode the user's umask gives a new file."""
    mask = os.umask(0)  # the only way to read the umask is to set it
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def remove_stale_temps(folder: str) -> list[str]:
    """Remove hidden temp files in `folder` that provably belong to a dead livegaze run: our
    prefix with a process id that no longer exists, owned by this user. Returns what went."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(TEMP_PREFIX):
            continue
        pid = name[len(TEMP_PREFIX):].split("-", 1)[0]
        path = os.path.join(folder, name)
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that process is alive: its file is in use
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # alive, someone else's
        try:
            if os.stat(path).st_uid == os.getuid():
                os.unlink(path)
                removed.append(path)
                log.info("removed %s, left by an interrupted run (process %s)", path, pid)
        except OSError:
            pass
    return removed
