"""What a user types wrong gets one line, a nonzero exit, and nothing half-written (real CLI,
in a subprocess where a hang or a native crash would show)."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

# Runs the CLI with a real Ctrl-C or kill at a chosen moment (see the probe's docstring).
PROBE = str(Path(__file__).with_name("interrupt_probe.py"))


def livegaze(*args, cwd=None, timeout=120):
    """Run the CLI; a hang past `timeout` fails the test (a guard, not a timing assertion)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "livegaze", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def leftovers(folder):
    return [n for n in os.listdir(folder) if n.startswith(".livegaze-")]


@pytest.mark.parametrize("fps", ["inf", "nan", "1e6", "0", "-5"])
def test_impossible_frame_rates_are_refused_before_anything_opens(averted_clip, tmp_path, fps):
    out = tmp_path / "out.mp4"
    result = livegaze("run", "--input", averted_clip[0], "--output", str(out), "--fps", fps)
    assert result.returncode == 2
    assert "expected a frame rate from 1 to 240" in result.stderr
    assert result.stderr.count("livegaze: error") == 1
    assert not out.exists() and not leftovers(tmp_path)


def test_a_tiny_image_names_the_real_problem(tmp_path):
    tiny = tmp_path / "dot.png"
    cv2.imwrite(str(tiny), np.zeros((1, 1, 3), np.uint8))
    result = livegaze("run", "--input", str(tiny), "--output", str(tmp_path / "out.mp4"), "--max-frames", "3")
    assert result.returncode == 2
    assert "is 1x1 pixels (expected at least 32x32" in result.stderr
    assert "cannot write this format" not in result.stderr


def test_output_equal_to_input_is_refused_by_any_path(averted_clip, tmp_path):
    src = tmp_path / "talk.mp4"
    src.write_bytes(open(averted_clip[0], "rb").read())
    before = src.read_bytes()
    link = tmp_path / "link.mp4"
    os.symlink(src, link)
    for output in (str(src), str(tmp_path / "." / "talk.mp4"), str(link)):
        result = livegaze("run", "--input", str(src), "--output", output)
        assert result.returncode == 2, output
        assert "is the same file as --input" in result.stderr
    assert src.read_bytes() == before


def test_no_camera_with_a_file_output_fails_at_once(tmp_path):
    """A camera that never opened, recording to a file: one line, no endless "camera lost" video."""
    out = tmp_path / "call.mp4"
    result = livegaze("run", "--input", "/dev/video97", "--output", str(out), timeout=60)
    assert result.returncode == 2
    assert "camera /dev/video97 cannot be opened" in result.stderr
    assert "stopped delivering frames" not in result.stderr  # no contradicting second message
    assert not out.exists() and not leftovers(tmp_path)


@pytest.mark.parametrize("args,message", [
    (["--max-frames", "-1"], "--max-frames -1: expected 0"),
    (["--height", "480"], "--height 480 without --width: give both"),
    (["--width", "641", "--height", "480"], "--width 641: expected an even number of pixels"),
])
def test_small_gaps(averted_clip, tmp_path, args, message):
    result = livegaze("run", "--input", averted_clip[0], "--output", str(tmp_path / "o.mp4"), *args)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_demo_with_no_frames_is_refused_before_any_folder_is_made(tmp_path):
    result = livegaze("demo", "--frames", "0", "--output-dir", str(tmp_path / "demo"))
    assert result.returncode == 2 and "--frames 0: expected 1 to 100000" in result.stderr
    assert not (tmp_path / "demo").exists()


def test_a_truncated_video_is_reported(averted_clip, tmp_path):
    """A file cut short: the frames that decode are written, with a line saying it ended early."""
    src = tmp_path / "cut.avi"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    cap = cv2.VideoCapture(averted_clip[0])
    for _ in range(30):
        ok, frame = cap.read()
        writer.write(cv2.resize(frame, (320, 240)))
    writer.release()
    data = src.read_bytes()
    src.write_bytes(data[: int(len(data) * 0.5)])  # half the file: the index still claims 30 frames
    result = livegaze("run", "--input", str(src), "--output", str(tmp_path / "o.avi"), "--no-virtual-camera")
    if cv2.VideoCapture(str(src)).get(cv2.CAP_PROP_FRAME_COUNT) < 29:
        pytest.skip("this OpenCV build does not report the cut file's original frame count")
    assert result.returncode == 0
    assert "looks truncated or damaged" in result.stderr
    assert (tmp_path / "o.avi").exists()


def test_odd_sized_input_to_mp4_says_so(tmp_path):
    from livegaze.evaluation.clips import photo

    src = tmp_path / "odd.png"
    cv2.imwrite(str(src), cv2.resize(photo("astronaut"), (321, 241)))
    result = livegaze("run", "--input", str(src), "--output", str(tmp_path / "o.mp4"), "--max-frames", "2")
    assert result.returncode == 0, result.stderr
    assert "MPEG-4 needs even sizes, so the video is 320x240" in result.stderr
    cap = cv2.VideoCapture(str(tmp_path / "o.mp4"))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (320, 240)


def test_a_normal_run_prints_only_livegazes_own_lines(tmp_path):
    """No MediaPipe/TFLite/OpenCV native lines unless --verbose (then they come back)."""
    from livegaze.evaluation.clips import photo

    src = tmp_path / "face.png"
    cv2.imwrite(str(src), photo("astronaut"))
    quiet = livegaze("run", "--input", str(src), "--output", str(tmp_path / "o.mp4"), "--max-frames", "3")
    assert quiet.returncode == 0
    lines = [l for l in (quiet.stdout + quiet.stderr).splitlines() if l.strip()]
    assert lines and all(l.startswith(("frames:", "wrote", "livegaze:")) for l in lines), lines
    loud = livegaze("-v", "run", "--input", str(src), "--output", str(tmp_path / "o.mp4"), "--max-frames", "3")
    assert any("W0000" in l or "XNNPACK" in l for l in loud.stderr.splitlines())


def test_a_missing_camera_gets_one_clear_line(tmp_path):
    result = livegaze("run", "--input", "/dev/video97", "--output", str(tmp_path / "o.mp4"), timeout=60)
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert lines == ["livegaze: error: camera /dev/video97 cannot be opened (is it connected, and not in use "
                     "by another app?); nothing was written"]


def test_files_follow_the_umask(averted_clip, tmp_path):
    """Videos, demo output and settings get the mode the user's umask gives new files (mkstemp
    alone makes them 0600)."""
    from livegaze.config import AppConfig
    from livegaze.tray import settings as store

    out = tmp_path / "o.mp4"
    env_umask = os.umask(0o022)
    try:
        result = livegaze("run", "--input", averted_clip[0], "--output", str(out), "--max-frames", "3")
        assert result.returncode == 0, result.stderr
        store.save(AppConfig(), tmp_path / "settings.toml")
    finally:
        os.umask(env_umask)
    assert os.stat(out).st_mode & 0o777 == 0o644
    assert os.stat(tmp_path / "settings.toml").st_mode & 0o777 == 0o644


def test_a_damaged_model_leads_with_its_own_cause(tmp_path):
    """Not with TensorRT/CUDA install hints: the cause first, then which runners tried."""
    torch = pytest.importorskip("torch")
    from livegaze.correctors import create
    from livegaze.errors import LivegazeError
    from training import checkpoint, networks

    path = tmp_path / "g.pt"
    checkpoint.save(str(path), {"gx": networks.build("generator", size=64, base=8, fc=32)})
    payload = checkpoint.load(str(path))
    first = next(iter(payload["state"]["gx"]))
    payload["state"]["gx"][first].view(-1)[0] = 1e7
    torch.save(payload, path)
    with pytest.raises(LivegazeError) as info:
        create("gazegan", checkpoint=str(path), runner="auto")
    text = str(info.value)
    assert text.startswith("--corrector gazegan: the model could not be opened: ") and "damaged" in text
    assert "TensorRT" not in text


def test_a_killed_runs_hidden_file_is_cleaned_by_the_next_run(averted_clip, tmp_path):
    """SIGKILL mid-recording leaves .livegaze-<pid>-*.mp4 (and the output's lock file); the next
    run to that folder removes them (nobody holds their lock any more) and keeps one whose writer
    holds its lock."""
    import fcntl
    import signal

    out = tmp_path / "o.mp4"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    killed = subprocess.run([sys.executable, PROBE, "kill:3", "run", "--input", averted_clip[0], "--output",
                             str(out), "--loop"], env=env, capture_output=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    stale = leftovers(tmp_path)
    assert sorted(n.startswith(".livegaze-lock-") for n in stale) == [False, True] and not out.exists()
    alive = tmp_path / ".livegaze-999999-keep.mp4"  # a writer elsewhere (its pid means nothing here)
    alive.write_bytes(b"in use")
    with open(alive, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what a live writer holds
        result = livegaze("run", "--input", averted_clip[0], "--output", str(out), "--max-frames", "2")
    assert result.returncode == 0, result.stderr
    assert leftovers(tmp_path) == [alive.name] and out.exists()


def test_repeated_ctrl_c_keeps_the_frames_so_far(averted_clip, tmp_path):
    """Two Ctrl-C mid-recording, the second while the first is still stopping the run: exit 0,
    the output holds exactly the frames reported delivered (at least the 5 written before the
    first) and plays; no hidden file is left and no native error ("Task is not initialized") or
    traceback shows. The probe sends both signals at those moments (no sleeps)."""
    out = tmp_path / "o.mp4"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, PROBE, "frames:5", "run", "--input", averted_clip[0],
                             "--output", str(out), "--loop"], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "not initialized" not in result.stderr
    assert "livegaze: stopping: finishing the output (frames so far are kept)" in result.stderr.splitlines()
    cap = cv2.VideoCapture(str(out))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames >= 5 and not leftovers(tmp_path)
    assert f"frames: {frames} delivered" in result.stdout


@pytest.mark.parametrize("phase", ["import:livegaze.cli", "import:mediapipe", "model"],
                         ids=["first-import", "native-import", "model-loading"])
def test_ctrl_c_while_starting_is_one_line(tmp_path, phase):
    """An interrupt during start-up (livegaze's first import, a native library's import, the
    face model's loading): exit 130 and exactly one line, `livegaze: interrupted` (the demo's
    progress bar aside)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, PROBE, phase, "demo", "--output-dir", str(tmp_path / "d"),
                             "--frames", "30"], env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("demo:")]
    assert (result.returncode, lines) == (130, ["livegaze: interrupted"]), result.stderr


def test_ctrl_c_inside_a_native_import_is_one_line_too():
    """Ctrl-C that lands inside a C extension's import comes out as its ImportError ("initialization
    failed"), caused by the KeyboardInterrupt: still one line and exit 130, no interpreter crash
    on the half-initialised module at shutdown."""
    code = ("import sys; import livegaze.cli as cli\n"
            "def devices(args):\n"
            "    try:\n        raise KeyboardInterrupt\n"
            "    except KeyboardInterrupt as exc:\n        raise ImportError('initialization failed') from exc\n"
            "cli.COMMANDS['devices'] = devices\nsys.exit(cli.main(['devices']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 130
    assert result.stderr.strip() == "livegaze: interrupted"
