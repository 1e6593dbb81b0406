"""Odd sources through the real CLI: a one-frame video, a stream that cannot seek, a picture too
large to decode, damaged files whose decoders talk (their lines stay off the terminal)."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from livegaze.evaluation.clips import photo
from tests.livegaze.test_full_disk import frame_count, livegaze

GREYS = [40, 90, 140, 190, 240]  # one level per frame: which frame is which, without a face


def frames_of(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    cap.release()
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    face = cv2.resize(photo("astronaut"), (320, 320))
    one = folder / "one.mp4"
    writer = cv2.VideoWriter(str(one), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 320))
    writer.write(face)
    writer.release()
    raw = b"".join(cv2.imencode(".jpg", np.full((240, 320, 3), g, np.uint8))[1].tobytes() for g in GREYS)
    (folder / "raw.mjpeg").write_bytes(raw)
    Image.new("1", (12000, 12000)).save(folder / "bomb.png")  # 144 megapixels in a few kilobytes
    jpeg = cv2.imencode(".jpg", face)[1].tobytes()
    end = jpeg.rfind(b"\xff\xd9")
    (folder / "junk.jpg").write_bytes(jpeg[:end] + b"\x00" * 7 + jpeg[end:])  # "Corrupt JPEG data"
    (folder / "cut.mp4").write_bytes(one.read_bytes()[:2000])  # "moov atom not found"
    return folder


@pytest.mark.parametrize("extra,frames", [([], 1), (["--loop", "--max-frames", "4"], 4)])
def test_a_one_frame_video_is_read(files, tmp_path, extra, frames):
    out = tmp_path / "out.avi"
    result = livegaze("run", "--input", str(files / "one.mp4"), "--output", str(out), "--corrector", "geometric",
                      *extra)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and f"wrote {out}" in result.stdout
    assert frame_count(out) == frames


def assert_the_greys_in_order(out):
    got = [float(f.mean()) for f in frames_of(out)]
    assert len(got) == len(GREYS), got
    assert all(abs(a - b) < 6 for a, b in zip(got, GREYS)), got  # the first frame is not lost


def test_a_stream_that_cannot_seek_keeps_its_first_frame(files, tmp_path):
    out = tmp_path / "out.avi"
    result = livegaze("run", "--input", str(files / "raw.mjpeg"), "--output", str(out), "--corrector", "geometric")
    assert result.returncode == 0, result.stderr
    assert_the_greys_in_order(out)


def test_a_pipe_is_read_as_a_stream(files, tmp_path):
    out = tmp_path / "out.avi"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-m", "livegaze", "run", "--input", "/dev/stdin", "--output", str(out),
                             "--corrector", "geometric"], input=(files / "raw.mjpeg").read_bytes(),
                            capture_output=True, timeout=180, env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert_the_greys_in_order(out)


LIMIT = "12000x12000 pixels is over livegaze's limit of 100 megapixels"


@pytest.mark.parametrize("command", ["run", "photo", "eval"])
def test_a_decompression_bomb_is_refused_before_decoding(files, tmp_path, command):
    bomb = str(files / "bomb.png")
    args = {"run": ["run", "--input", bomb, "--output", str(tmp_path / "out.avi")],
            "photo": ["photo", bomb, "-o", str(tmp_path / "out")],
            "eval": ["eval", bomb, "--report", str(tmp_path / "report"), "--corrector", "geometric"]}[command]
    result = livegaze(*args)
    assert result.returncode == (1 if command == "photo" else 2)  # photo: 1 when any file failed
    said = (result.stdout + result.stderr).strip().splitlines()
    assert [line for line in said if LIMIT in line] == [f"livegaze: error: {bomb}: {LIMIT} (expected a smaller picture)"]
    assert "DecompressionBomb" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.avi").exists()
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_a_damaged_video_is_one_line_without_ffmpegs_own(files, tmp_path):
    result = livegaze("run", "--input", str(files / "cut.mp4"), "--output", str(tmp_path / "out.avi"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"livegaze: error: --input {files / 'cut.mp4'}: cannot open (expected a readable video file)"]


def test_a_damaged_jpeg_is_read_without_libjpegs_own_line(files, tmp_path):
    result = livegaze("photo", str(files / "junk.jpg"), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "Corrupt JPEG" not in result.stdout + result.stderr
    assert result.stderr.strip() == ""
