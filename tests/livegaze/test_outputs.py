"""What an output file already was is respected: its mode, a symlink's target, and a run still
writing it (real CLI runs)."""
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.livegaze.test_full_disk import frame_count, livegaze, small_video


def test_replacing_a_private_video_keeps_it_private(averted_clip, tmp_path):
    out = tmp_path / "call.avi"
    small_video(out)
    os.chmod(out, 0o600)
    result = livegaze("run", "--input", averted_clip[0], "--output", str(out), "--max-frames", "6",
                      "--corrector", "geometric")
    assert result.returncode == 0, result.stderr
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert frame_count(out) == 6


def test_a_symlinked_output_is_written_through(averted_clip, tmp_path):
    (tmp_path / "videos").mkdir()
    target = tmp_path / "videos" / "call.avi"
    small_video(target)
    link = tmp_path / "call.avi"
    os.symlink(target, link)
    result = livegaze("run", "--input", averted_clip[0], "--output", str(link), "--max-frames", "6",
                      "--corrector", "geometric")
    assert result.returncode == 0, result.stderr
    assert os.path.islink(link) and os.readlink(link) == str(target)
    assert frame_count(target) == 6
    assert sorted(os.listdir(tmp_path / "videos")) == ["call.avi"]


def wait_for(condition, process, what, limit=120):
    """Poll for a file the other run makes (a handshake); `limit` only guards against a hang."""
    deadline = time.monotonic() + limit
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the first run ended before {what}: {process.stderr.read()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {limit}s")
        time.sleep(0.05)


def test_a_second_run_to_the_same_output_is_refused(averted_clip, tmp_path):
    out = tmp_path / "call.avi"
    before = small_video(out)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    first = subprocess.Popen([sys.executable, "-m", "livegaze", "run", "--input", averted_clip[0], "--loop",
                              "--paced", "--fps", "10", "--output", str(out), "--corrector", "geometric"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # Its temporary file exists once it holds the output's lock and writes.
        wait_for(lambda: any(n.startswith(".livegaze-") and n.endswith(".avi") and "lock" not in n
                             for n in os.listdir(tmp_path)), first, "temporary file")
        second = livegaze("run", "--input", averted_clip[0], "--output", str(out), "--max-frames", "3",
                          "--corrector", "geometric")
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"livegaze: error: --output {out}: another livegaze run is writing this file "
            "(wait for it to finish, or choose another name)"]
        assert out.read_bytes() == before  # the second run touched nothing
    finally:
        first.send_signal(signal.SIGTERM)
        stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert f"wrote {out}" in stdout
    assert frame_count(out) > 0 and out.read_bytes() != before
    assert os.listdir(tmp_path) == ["call.avi"]  # the lock went with the first run
