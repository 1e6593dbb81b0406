"""The suite never touches the user's own setup (tests/conftest.py moves every place livegaze
finds the user's files through): a test run under a "user" with a live tray socket, a cache, a
config and a home folder of their own leaves all four as they were, from any current folder."""
import os
import socket
import subprocess
import sys

from tests.conftest import ROOT


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def test_a_test_run_leaves_the_users_tray_cache_config_and_home_alone(tmp_path):
    user = tmp_path / "user"
    places = {name: user / name.lower() for name in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
                                                      "XDG_RUNTIME_DIR")}
    for folder in places.values():
        folder.mkdir(mode=0o700, parents=True)
    # The user's tray, listening where livegaze.tray.control puts it for this user.
    (places["XDG_RUNTIME_DIR"] / "livegaze").mkdir(mode=0o700)
    socket_path = places["XDG_RUNTIME_DIR"] / "livegaze" / "tray.sock"
    tray = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tray.bind(str(socket_path))
    tray.listen(16)
    tray.setblocking(False)
    inode = os.stat(socket_path).st_ino
    env = {k: v for k, v in os.environ.items() if k not in ("LIVEGAZE_CONFIG", "LIVEGAZE_CACHE")}
    env.update({name: str(folder) for name, folder in places.items()}, PYTHONPATH=str(ROOT))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", f"--rootdir={ROOT}",
             str(ROOT / "tests/livegaze/tray/isolation_probe.py"),
             str(ROOT / "tests/livegaze/tray/test_tray.py") + "::test_toggle_checkbox_and_local_command"],
            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0 and "3 passed" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
        try:
            connection, _ = tray.accept()
            connection.close()
            raise AssertionError("a test connected to the user's tray socket")
        except BlockingIOError:
            pass  # nobody connected
    finally:
        tray.close()
    assert os.stat(socket_path).st_ino == inode  # not replaced by a test's tray
    assert files_under(user) == [os.path.join("xdg_runtime_dir", "livegaze", "tray.sock")]
    # Where the probe's cache and settings went: test folders, not the user's.
    cache = next(l.split(" ", 1)[1] for l in result.stdout.splitlines() if l.startswith("CACHE "))
    settings = next(l.split(" ", 1)[1] for l in result.stdout.splitlines() if l.startswith("SETTINGS "))
    for path in (cache, settings):
        assert not path.startswith(str(user)), path
    assert files_under(elsewhere) == []


def test_the_cache_folder_follows_the_environment_and_is_never_the_current_folder(tmp_path, monkeypatch):
    from engines.cache import cache_dir, cache_root
    from livegaze.tray.settings import settings_path

    monkeypatch.delenv("LIVEGAZE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert cache_dir() == tmp_path / "xdg" / "livegaze"
    monkeypatch.setenv("LIVEGAZE_CACHE", "")  # empty: as if unset, not "."
    assert cache_root().is_absolute() and cache_root() != ROOT / "engines"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIVEGAZE_CACHE", "rel")
    assert cache_dir() == tmp_path / "rel"
    monkeypatch.setenv("LIVEGAZE_CONFIG", "")
    assert settings_path().is_absolute() and settings_path() != tmp_path / "settings.toml"
