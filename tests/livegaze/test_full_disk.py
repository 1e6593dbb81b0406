"""A disk that fills up while livegaze writes: one line, exit 2, and the file that was there before
stays as it was (real CLI runs, a real file size limit or a real small filesystem)."""
import os
import resource
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest


def small_video(path, frames=5):
    """A valid video written here with OpenCV: what a previous run left."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*("MJPG" if str(path).endswith(".avi") else "mp4v")),
                             30, (64, 64))
    for i in range(frames):
        writer.write(np.full((64, 64, 3), 40 * i, np.uint8))
    writer.release()
    return path.read_bytes()


def frame_count(path):
    cap = cv2.VideoCapture(str(path))
    try:
        count = 0
        while cap.read()[0]:
            count += 1
        return count
    finally:
        cap.release()


def livegaze(*args, size_limit=None, timeout=180):
    """The CLI in a subprocess; `size_limit` caps the bytes any file it writes may hold (the
    kernel then makes a short write and fails the next with EFBIG, as on a full disk)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size_limit, size_limit))

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "livegaze", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, preexec_fn=limit if size_limit else None)


def assert_one_line_and_old_file_kept(result, out, before):
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("livegaze: error:") == 1, result.stderr
    assert "could not be written whole" in result.stderr and "existing file is unchanged" in result.stderr
    assert "wrote" not in result.stdout
    assert "Traceback" not in result.stderr and "moov atom" not in result.stderr, result.stderr
    assert out.read_bytes() == before
    assert [n for n in os.listdir(out.parent) if n.startswith(".livegaze-")] == []


@pytest.mark.parametrize("ext", [".mp4", ".avi"])
def test_a_file_size_limit_keeps_the_old_video(averted_clip, tmp_path, ext):
    out = tmp_path / f"out{ext}"
    before = small_video(out)
    result = livegaze("run", "--input", averted_clip[0], "--output", str(out), "--max-frames", "20",
                      "--corrector", "geometric", size_limit=64 * 1024)
    assert_one_line_and_old_file_kept(result, out, before)
    assert frame_count(out) == 5


def test_a_full_filesystem_keeps_the_old_video(averted_clip, small_filesystem):
    out = small_filesystem / "out.mp4"
    before = small_video(out)
    result = livegaze("run", "--input", averted_clip[0], "--output", str(out), "--max-frames", "30",
                      "--corrector", "geometric")
    assert_one_line_and_old_file_kept(result, out, before)
    assert frame_count(out) == 5


def test_a_video_that_fits_is_written_whole(averted_clip, tmp_path):
    """The check that refuses a cut-off file accepts a whole one (no false alarm)."""
    out = tmp_path / "out.avi"
    small_video(out)
    result = livegaze("run", "--input", averted_clip[0], "--output", str(out), "--max-frames", "12",
                      "--corrector", "geometric")
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    assert frame_count(out) == 12
