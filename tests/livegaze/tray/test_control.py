"""The tray's control socket and lock (livegaze.tray.control): a private folder, owners checked
on both sides, one tray per user however many start at once. Real `livegaze tray` and `livegaze
toggle` processes."""
import os
import queue
import signal
import subprocess
import sys
import threading

import pytest

from livegaze.tray import control

ROOT_ONLY = pytest.mark.skipif(os.getuid() != 0, reason="making files of another uid needs root")
IMPOSTOR_UID = 12345


def tray_env(tmp_path, runtime=None):
    """The environment of a user without XDG_RUNTIME_DIR (or with `runtime`) whose temp folder is
    `tmp_path/tmp`: the control folder is tmp_path/tmp/livegaze-<uid>."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    (tmp_path / "tmp").mkdir(mode=0o1777, exist_ok=True)
    env.update(TMPDIR=str(tmp_path / "tmp"), QT_QPA_PLATFORM="offscreen", LIVEGAZE_CONFIG=str(tmp_path / "cfg"))
    if runtime:
        env["XDG_RUNTIME_DIR"] = str(runtime)
    return env


def livegaze(env, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "livegaze", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def error_line(result):
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("livegaze: error: "), result.stderr
    return lines[0]


@ROOT_ONLY
def test_a_control_folder_of_another_user_is_refused_by_tray_and_toggle(tmp_path):
    env = tray_env(tmp_path)
    folder = tmp_path / "tmp" / f"livegaze-{os.getuid()}"
    folder.mkdir(mode=0o700)
    os.chown(folder, IMPOSTOR_UID, IMPOSTOR_UID)
    for command in ("tray", "toggle"):
        line = error_line(livegaze(env, command))
        assert line == (f"livegaze: error: {folder}: owned by uid {IMPOSTOR_UID}, not by you (uid {os.getuid()}): "
                        "another user could pose as the tray there; remove the folder")
    assert os.listdir(folder) == []  # nothing made in it


@pytest.mark.parametrize("mode", [0o777, 0o750])
def test_a_control_folder_open_to_others_is_refused(tmp_path, mode):
    env = tray_env(tmp_path)
    folder = tmp_path / "tmp" / f"livegaze-{os.getuid()}"
    folder.mkdir()
    folder.chmod(mode)
    for command in ("tray", "toggle"):
        assert error_line(livegaze(env, command)) == (
            f"livegaze: error: {folder}: open to other users (mode {mode:04o}), expected a private folder "
            f"(mode 0700): run chmod 700 {folder}")


@ROOT_ONLY
def test_a_runtime_dir_of_another_user_is_not_used(tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    os.chown(runtime, IMPOSTOR_UID, IMPOSTOR_UID)
    env = tray_env(tmp_path, runtime)
    assert control.control_dir(env) == tmp_path / "tmp" / f"livegaze-{os.getuid()}"
    own = tmp_path / "own-run"
    own.mkdir(mode=0o700)
    assert control.control_dir(tray_env(tmp_path, own)) == own / "livegaze"
    assert (os.stat(own / "livegaze").st_mode & 0o777) == 0o700


IMPOSTOR = r"""
import fcntl, os, socket, sys
folder, uid = sys.argv[1], int(sys.argv[2])
lock = os.open(os.path.join(folder, "tray.lock"), os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(lock, fcntl.LOCK_EX)  # what a tray holds: a second `livegaze tray` will ask this one
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(os.path.join(folder, "tray.sock"))  # bound by root in the user's folder: the file is theirs
os.setuid(uid)  # SO_PEERCRED reports the listener's credentials from listen() on
server.listen(8)
print("ready", flush=True)
while True:
    conn, _ = server.accept()
    data = conn.recv(100)
    print("GOT", data, flush=True)
    conn.close()
"""


@ROOT_ONLY
def test_a_socket_answered_by_another_uid_is_refused_by_tray_and_toggle(tmp_path):
    """The socket file is the user's own, but the process behind it is not: only the peer's
    credentials (SO_PEERCRED) can tell."""
    env = tray_env(tmp_path)
    folder = control.control_dir(env)
    impostor = subprocess.Popen([sys.executable, "-c", IMPOSTOR, str(folder), str(IMPOSTOR_UID)],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert impostor.stdout.readline().strip() == "ready"
        for command in ("toggle", "tray"):
            assert error_line(livegaze(env, command)) == (
                f"livegaze: error: {folder / 'tray.sock'}: answered by a process of uid {IMPOSTOR_UID}, not by you "
                f"(uid {os.getuid()}); refusing to send it commands")
    finally:
        impostor.kill()
        out, _ = impostor.communicate()
    # It was connected to (that is how its uid is learned), but not a byte was sent to it.
    assert out.splitlines() == ["GOT b''", "GOT b''"]


@ROOT_ONLY
def test_a_socket_file_of_another_user_is_refused_and_left_in_place(tmp_path):
    env = tray_env(tmp_path)
    folder = control.control_dir(env)
    import socket
    squatter = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    squatter.bind(str(folder / "tray.sock"))
    squatter.listen(1)
    os.chown(folder / "tray.sock", IMPOSTOR_UID, IMPOSTOR_UID)
    try:
        for command in ("tray", "toggle"):
            assert error_line(livegaze(env, command)) == (
                f"livegaze: error: {folder / 'tray.sock'}: owned by uid {IMPOSTOR_UID}, not by you "
                f"(uid {os.getuid()}); refusing to talk to it: remove it")
        assert os.stat(folder / "tray.sock").st_uid == IMPOSTOR_UID
    finally:
        squatter.close()


def test_a_socket_that_cannot_be_made_is_an_error(tmp_path):
    env = tray_env(tmp_path)
    (tmp_path / "file").write_text("")
    env["TMPDIR"] = str(tmp_path / "file")
    assert error_line(livegaze(env, "tray")) == (
        f"livegaze: error: {tmp_path / 'file' / f'livegaze-{os.getuid()}'}: cannot create the tray's control "
        "folder (Not a directory)")
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    env["TMPDIR"] = str(deep)
    line = error_line(livegaze(env, "tray"))
    assert line.endswith("tray.sock: cannot create the tray's control socket (the path is too long for a socket: "
                         "set XDG_RUNTIME_DIR or TMPDIR to a shorter folder)")


def _lines(proc, out: queue.Queue):
    for line in proc.stdout:
        out.put((proc, line.strip()))
    out.put((proc, None))


def test_two_trays_started_together_end_as_one(tmp_path):
    env = tray_env(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-m", "livegaze", "tray"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    lines: queue.Queue = queue.Queue()
    for p in procs:
        threading.Thread(target=_lines, args=(p, lines), daemon=True).start()
    try:
        seen = {}
        while len(seen) < 2:  # each tells, in one line, whether it became the tray
            proc, line = lines.get(timeout=120)
            if line and line.startswith("livegaze: "):
                seen.setdefault(proc, line)
            assert line is not None or proc in seen, proc.stderr.read()
        running = [p for p, l in seen.items() if l.startswith("livegaze: tray running")]
        handed = [p for p, l in seen.items() if l == "livegaze: the tray is already running; its window is brought up"]
        assert len(running) == 1 and len(handed) == 1, seen
        assert handed[0].wait(timeout=60) == 0
        assert running[0].poll() is None
        assert livegaze(env, "toggle").returncode == 0  # the one tray answers
        running[0].send_signal(signal.SIGTERM)
        assert running[0].wait(timeout=60) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
