"""The tray's control socket (`livegaze toggle` and a second `livegaze tray` talk to it) and the
lock that keeps one tray per user.

Both live in a private folder: $XDG_RUNTIME_DIR/livegaze when the runtime directory is the user's
own with mode 0700, otherwise <temp dir>/livegaze-<uid>, created with mode 0700. A folder owned by
someone else, or open to the group or others, is refused: whoever can write there could put a
socket in it that `livegaze toggle` would talk to, or that `livegaze tray` would take for a
running tray.

Who is at the other end is checked twice, because the folder alone is only as safe as its check
at the moment of use: the socket file must be the user's own (checked before connecting, every
platform with file owners), and on Linux the connected peer's uid is read with SO_PEERCRED from
the socket's native descriptor (the kernel's word, which a renamed or replaced file cannot fake).
The tray applies the same SO_PEERCRED check to every connection it accepts.
"""
from __future__ import annotations

import os
import socket as pysocket
import stat
import struct
import tempfile
import time
from pathlib import Path

from PyQt6.QtCore import QCoreApplication
from PyQt6.QtNetwork import QLocalServer, QLocalSocket

from livegaze.errors import LivegazeError

SOCKET_NAME = "tray.sock"
LOCK_NAME = "tray.lock"
POSIX = os.name == "posix"


def _problem(path: Path, st: os.stat_result, uid: int) -> str | None:
    """Why a folder is not a private folder of `uid` (None when it is)."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link, expected a private folder (mode 0700)"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder, expected a private folder (mode 0700)"
    if st.st_uid != uid:
        return (f"owned by uid {st.st_uid}, not by you (uid {uid}): another user could pose as the tray "
                "there; remove the folder")
    if st.st_mode & 0o077:
        return (f"open to other users (mode {stat.S_IMODE(st.st_mode):04o}), expected a private folder "
                f"(mode 0700): run chmod 700 {path}")
    return None


def _private_folder(path: Path, uid: int) -> Path:
    """`path`, created with mode 0700 if missing; refused unless it is `uid`'s own and private."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise LivegazeError(f"{path}: cannot create the tray's control folder ({exc.strerror})") from None
    problem = _problem(path, os.lstat(path), uid)
    if problem:
        raise LivegazeError(f"{path}: {problem}")
    return path


def control_dir(env=None) -> Path:
    """The user's private folder for the control socket and the tray lock (made if missing)."""
    env = os.environ if env is None else env
    if not POSIX:  # per-user temp folder; the socket is a named pipe (see server_name)
        return Path(tempfile.gettempdir())
    uid = os.getuid()
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        try:
            if _problem(Path(runtime), os.lstat(runtime), uid) is None:
                return _private_folder(Path(runtime) / "livegaze", uid)
        except FileNotFoundError:
            pass  # set but absent (a stale session variable): the temp folder below
    return _private_folder(Path(env.get("TMPDIR") or tempfile.gettempdir()) / f"livegaze-{uid}", uid)


def server_name(folder: Path | None = None) -> str:
    """What QLocalServer listens on: the socket's path (a per-user pipe name on Windows)."""
    if not POSIX:
        import getpass
        return f"livegaze-tray-{getpass.getuser()}"
    return str((folder or control_dir()) / SOCKET_NAME)


def peer_uid(descriptor: int) -> int | None:
    """The uid of the process at the other end of a connected Unix socket (Linux), else None."""
    if not hasattr(pysocket, "SO_PEERCRED") or descriptor < 0:
        return None
    sock = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_STREAM, fileno=os.dup(descriptor))
    try:
        _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(pysocket.SOL_SOCKET, pysocket.SO_PEERCRED,
                                                              struct.calcsize("3i")))
    finally:
        sock.close()  # closes the duplicate only
    return uid


def _check_socket_file(path: str) -> bool:
    """False when there is no socket (no tray); raises when the file is not the user's own socket."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(st.st_mode):
        raise LivegazeError(f"{path}: is not a socket, expected the tray's control socket: remove it")
    if st.st_uid != os.getuid():
        raise LivegazeError(f"{path}: owned by uid {st.st_uid}, not by you (uid {os.getuid()}); refusing to talk "
                            "to it: remove it")
    return True


def send_command(command: str, timeout_ms: int = 1000) -> bool:
    """Send a command ("toggle", "start", "stop", "show") to the user's running tray; False if none
    is running. A socket or a peer that is not the user's own is a LivegazeError."""
    name = server_name()
    if POSIX and not _check_socket_file(name):
        return False
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(timeout_ms):
        return False
    uid = peer_uid(int(sock.socketDescriptor())) if POSIX else None
    if uid is not None and uid != os.getuid():
        sock.abort()
        raise LivegazeError(f"{name}: answered by a process of uid {uid}, not by you (uid {os.getuid()}); "
                            "refusing to send it commands")
    sock.write(command.encode() + b"\n")
    sock.flush()
    sock.waitForBytesWritten(timeout_ms)
    sock.disconnectFromServer()
    return True


def listen(server: QLocalServer) -> str:
    """Make `server` listen on the user's control socket; a LivegazeError when it cannot. The
    caller holds the tray lock, so a socket file left there is a dead tray's and is replaced,
    unless it is not the user's own."""
    name = server_name()
    if POSIX:
        _check_socket_file(name)
    QLocalServer.removeServer(name)
    server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
    if not server.listen(name):
        why = server.errorString()
        if POSIX and len(os.fsencode(name)) > 100:  # sun_path holds 104-108 bytes, by platform
            why = "the path is too long for a socket: set XDG_RUNTIME_DIR or TMPDIR to a shorter folder"
        raise LivegazeError(f"{name}: cannot create the tray's control socket ({why})")
    return name


def accepts(conn: QLocalSocket) -> bool:
    """Whether a connection to the tray comes from the user's own processes (Linux: SO_PEERCRED;
    elsewhere the private folder is the guard)."""
    if not POSIX:
        return True
    uid = peer_uid(int(conn.socketDescriptor()))
    return uid is None or uid == os.getuid()


class TrayLock:
    """An exclusive lock (flock) on the control folder's lock file, held for the tray's life and
    taken before the socket is made: of two trays started at once, one gets it. The kernel drops
    it when the process ends, however it ends, so a crashed tray never blocks the next."""

    def __init__(self, folder: Path | None = None):
        self.path = (folder or control_dir()) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True when this process now holds the lock; False while another tray holds it."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            raise LivegazeError(f"{self.path}: cannot create the tray's lock file ({exc.strerror})") from None
        try:
            if POSIX:
                import fcntl
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                import msvcrt
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def take_over_or_hand_over(timeout_s: float = 30.0) -> TrayLock | None:
    """The tray lock when this process is to be the tray; None when another tray runs (it has been
    asked to show its window). A tray that holds the lock but has not yet made its socket is
    starting: it is waited for. Raises when it never answers."""
    lock = TrayLock()
    deadline = time.monotonic() + timeout_s
    while True:
        if lock.acquire():
            return lock
        if send_command("show"):
            return None
        if time.monotonic() > deadline:
            raise LivegazeError(f"{lock.path}: another livegaze tray holds this lock but does not answer on "
                                f"{server_name()}; quit it (or end its process) and start again")
        app = QCoreApplication.instance()
        if app is not None:
            app.processEvents()
        time.sleep(0.05)  # polling a peer that is starting up; no timing is asserted on it

