import subprocess
import sys

import cv2
import numpy as np
import pytest


def livegaze(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "livegaze", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def _error_line(result):
    lines = [l for l in result.stderr.splitlines() if l.startswith("livegaze: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("make,args,expect", [
    (None, ["--input", "{d}/missing.mp4"], "no such file"),
    ("empty", ["--input", "{d}/empty.mp4"], "empty"),
    ("zero", ["--input", "{d}/zero.png"], "zero size"),
    ("video", ["--input", "{d}/in.avi", "--width", "641", "--height", "480"], "even"),
    ("video", ["--input", "{d}/in.avi", "--output", "{d}/nodir/out.mp4"], "does not exist"),
    ("video", ["--input", "{d}/in.avi", "--strength", "2"], "--strength"),
    ("video", ["--input", "{d}/in.avi", "--corrector", "nope"], "--corrector nope"),
])
def test_bad_input_one_line_nonzero_nothing_written(tmp_path, make, args, expect):
    if make == "empty":
        (tmp_path / "empty.mp4").write_bytes(b"")
    elif make == "zero":
        # a PNG header claiming 0x0 cannot be made by OpenCV, so write a 1-row image and truncate it
        (tmp_path / "zero.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
        expect = "zero.png"
    elif make == "video":
        w = cv2.VideoWriter(str(tmp_path / "in.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
        for _ in range(3):
            w.write(np.zeros((48, 64, 3), np.uint8))
        w.release()
    before = set(tmp_path.rglob("*"))
    result = livegaze("run", *[a.format(d=tmp_path) for a in args], "--output",
                      str(tmp_path / "result.mp4")) if "--output" not in args else \
        livegaze("run", *[a.format(d=tmp_path) for a in args])
    assert result.returncode != 0
    assert expect in _error_line(result)
    assert set(tmp_path.rglob("*")) == before


def test_grayscale_image_input_is_corrected_to_a_file(tmp_path):
    from livegaze.evaluation.clips import photo
    gray = cv2.cvtColor(photo("astronaut"), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    result = livegaze("run", "--input", str(tmp_path / "gray.png"), "--max-frames", "3",
                      "--output", str(tmp_path / "out.mp4"))
    assert result.returncode == 0, result.stderr
    assert int(cv2.VideoCapture(str(tmp_path / "out.mp4")).get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_run_without_virtual_camera_device_explains_fix(averted_clip):
    import os
    if os.path.exists("/dev/video0"):
        pytest.skip("a video device exists")
    result = livegaze("run", "--input", averted_clip[0], "--virtual-camera")
    assert result.returncode == 2
    assert "modprobe v4l2loopback" in _error_line(result)


def test_demo_writes_video_and_contact_sheet(tmp_path):
    result = livegaze("demo", "--output-dir", "demo", "--frames", "24", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # where the files are, as absolute paths, whatever folder it ran in
    assert f"wrote {tmp_path / 'demo' / 'before_after.mp4'}" in result.stdout
    assert f"wrote {tmp_path / 'demo' / 'contact_sheet.png'}" in result.stdout
    video = cv2.VideoCapture(str(tmp_path / "demo" / "before_after.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 24
    assert int(video.get(cv2.CAP_PROP_FRAME_WIDTH)) == 1280
    sheet = cv2.imread(str(tmp_path / "demo" / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[1] == 960
    assert "corrected" in result.stdout


def test_help_explains_every_command():
    result = livegaze("--help")
    for cmd in ("run", "demo", "devices", "bench", "build-engine", "tray"):
        assert cmd in result.stdout
    run_help = livegaze("run", "--help").stdout
    for opt in ("--input", "--output", "--strength", "--checkpoint", "--virtual-camera", "--fps"):
        assert opt in run_help


def test_toggle_without_running_tray_says_so():
    result = livegaze("toggle")
    assert result.returncode == 2
    assert "no livegaze tray is running" in _error_line(result)


def test_gate_thresholds_are_checked_before_anything_opens(capsys):
    from livegaze.cli import main

    assert main(["run", "--input", "no-such-camera-needed.mp4", "--head-full", "30", "--head-none", "20"]) == 2
    assert "--head-full 30 / --head-none 20: expected 0 <= full < none <= 90 degrees" in capsys.readouterr().err
    assert main(["photo", "x.jpg", "-o", "out", "--ease-frames", "0"]) == 2
    assert "--ease-frames 0: expected 1 to 60" in capsys.readouterr().err


def test_run_starts_from_a_saved_config_and_names_a_bad_one(tmp_path, averted_clip, capsys):
    """`--config` is the tray's file: its settings apply, a flag overrides one, a bad file is one line."""
    from livegaze.cli import main

    out = tmp_path / "o.avi"
    good, unused = tmp_path / "good.toml", tmp_path / "unused.avi"
    good.write_text(f'[capture]\nsource = "{averted_clip[0]}"\n[pipeline]\nmax_frames = 4\n'
                    f'[sink]\noutput = "{unused}"\n')
    assert main(["run", "--config", str(good), "--output", str(out)]) == 0
    assert "4 delivered" in capsys.readouterr().out and out.is_file()
    assert not unused.exists()
    bad = tmp_path / "bad.toml"
    bad.write_text("[live]\nstrength = 3.0\n")
    assert main(["run", "--config", str(bad)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"--config {bad}: bad settings: live (live.strength 3.0: expected a number from 0 to 1)")
    assert main(["run", "--config", str(tmp_path / "none.toml")]) == 2
    assert "none.toml: cannot read it" in capsys.readouterr().err
