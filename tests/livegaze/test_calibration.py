"""`livegaze calibrate` through the real CLI, on a video of the two looks with known truth."""
import os

import cv2
import numpy as np
import pytest

from livegaze.correctors import CorrectConfig, from_config
from livegaze.calibration import Calibration, Calibrator, calibration_path, load, save
from livegaze.cli import main
from livegaze.errors import LivegazeError
from livegaze.evaluation.clips import ClipSpec, iter_frames


@pytest.fixture(scope="module")
def two_looks(tmp_path_factory):
    """51 frames looking into the camera, then 51 looking 0.12 eye widths to the right (a screen
    beside the camera), with sensor noise; 30 fps."""
    path = str(tmp_path_factory.mktemp("calib") / "looks.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for gaze in ((0.0, 0.0), (0.12, 0.0)):
        for frame, _, _, _ in iter_frames(ClipSpec(frames=51, photos=("astronaut",), motion="still", gaze=gaze,
                                                   noise=2.0)):
            writer.write(frame)
    writer.release()
    return path


def test_calibrate_measures_the_screen_offset_and_run_uses_it(two_looks, capsys):
    assert main(["calibrate", "--input", two_looks, "--seconds", "1"]) == 0
    out = capsys.readouterr().out
    assert "Look into the camera lens" in out and "middle of your screen" in out
    saved = load()
    assert saved is not None and os.path.isfile(calibration_path())
    dx, dy = saved.shift
    assert dx < -0.04 and abs(dy) < 0.03  # back to the left, by most of the 0.12 look
    corrector = from_config(CorrectConfig())
    assert corrector.config.mode == "shift" and np.allclose(corrector.config.shift, saved.shift)
    assert np.allclose(corrector.config.bias, saved.bias)


def test_a_video_too_short_is_one_clear_error(two_looks, capsys):
    assert main(["calibrate", "--input", two_looks, "--seconds", "3"]) == 2
    assert "the video ended before the calibration was done" in capsys.readouterr().err
    assert load() is None  # nothing half-written


def test_a_user_who_keeps_looking_at_the_camera_is_told_and_nothing_is_saved(tmp_path, capsys):
    """Both looks at the camera (the user did not look at the screen when asked): one line that
    says so and what to do, exit 2, no calibration file."""
    path = str(tmp_path / "same.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for seed in (0, 1):
        for frame, _, _, _ in iter_frames(ClipSpec(frames=51, photos=("astronaut",), motion="still",
                                                   noise=2.0, seed=seed)):
            writer.write(frame)
    writer.release()
    assert main(["calibrate", "--input", path, "--seconds", "1"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("livegaze")]  # not the bars
    assert len(err) == 1 and err[0].startswith("livegaze: error: calibration: your eyes moved only 0.0")
    assert "look into the camera lens, then at the middle of your screen" in err[0]
    assert load() is None and not os.path.exists(calibration_path())


def test_without_enough_faces_nothing_is_saved():
    calibrator = Calibrator(min_frames=5)
    calibrator.begin("camera")
    for _ in range(6):
        calibrator.add((0.0, 0.01))
    calibrator.begin("screen")
    calibrator.add(None)
    with pytest.raises(LivegazeError, match="only 0 usable frames while looking at the screen"):
        calibrator.result()


def test_saved_calibration_round_trips_and_a_damaged_one_is_named(tmp_path):
    path = tmp_path / "calibration.toml"
    save(Calibration(camera=(0.01, -0.02), screen=(0.03, 0.07), when="now"), path)
    back = load(path)
    assert np.allclose(back.shift, (0.02, 0.09)) and np.allclose(back.bias, (0.01, -0.02))
    path.write_text("camera = [1, \n")
    with pytest.raises(LivegazeError, match="unreadable calibration"):
        load(path)


def test_without_calibration_shift_mode_moves_the_eyes_up():
    corrector = from_config(CorrectConfig())
    assert corrector.config.mode == "shift" and corrector.config.shift[1] < 0


def test_an_empty_calibration_lifts_the_eyes_as_an_uncalibrated_run_does():
    """Calibration() stands for "no calibration" (the eval's uncalibrated row): its move is the
    same lift of 0.08 eye widths (y is down, so up is negative) that a run without a saved
    calibration makes, and nothing is taken off in lock mode. It once moved the eyes down."""
    empty = Calibration()
    assert np.allclose(empty.shift, (0.0, -0.08)) and np.allclose(empty.bias, (0.0, 0.0))
    assert np.allclose(empty.shift, from_config(CorrectConfig()).config.shift)


@pytest.mark.parametrize("camera", ["[nan, 0.0]", "[inf, 0.0]", "[0.0]", "[0.0, 5.0]", '["a", 0.0]'])
def test_a_damaged_calibration_is_refused_before_the_run(averted_clip, tmp_path, camera):
    """NaN used to make every frame an error (exit 0, `wrote`); `[0.0]` was a traceback."""
    import subprocess
    import sys

    config = tmp_path / "config"
    config.mkdir()
    (config / "calibration.toml").write_text(f"camera = {camera}\nscreen = [0.0, 0.08]\n")
    out = tmp_path / "out.avi"
    result = subprocess.run([sys.executable, "-m", "livegaze", "run", "--input", averted_clip[0], "--output",
                             str(out), "--max-frames", "3"], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, LIVEGAZE_CONFIG=str(config)))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"livegaze: error: {config / 'calibration.toml'}: ")
    assert f"camera = {camera}".replace('"', "'") in lines[0]
    assert lines[0].endswith("run `livegaze calibrate` again")
    assert not out.exists()


def test_a_calibration_that_load_would_refuse_is_never_saved(tmp_path):
    path = tmp_path / "calibration.toml"
    with pytest.raises(LivegazeError, match="not usable"):
        save(Calibration(camera=(float("nan"), 0.0), screen=(0.0, 0.08)), path)
    assert not path.exists()


def test_a_calibration_run_inside_another_job_draws_no_progress_bars(two_looks, tmp_path, capsys):
    """`livegaze eval` calibrates a dozen clips under its own progress bar: with progress off,
    run_calibration writes nothing to the terminal (tqdm draws on stderr) and still measures."""
    from livegaze.calibration import run_calibration

    quiet = run_calibration(two_looks, seconds=1.0, echo=lambda *_: None, path=tmp_path / "c.toml", progress=False)
    assert capsys.readouterr().err == ""
    shown = run_calibration(two_looks, seconds=1.0, echo=lambda *_: None, path=tmp_path / "d.toml")
    assert "camera" in capsys.readouterr().err
    assert quiet.shift == pytest.approx(shown.shift) and quiet.shift[0] < -0.04
