"""Shared fixtures: synthetic clips from packaged photos, written once per session; and the
isolation of every test from the user's own setup."""
import atexit
import os
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GLOG_minloglevel", "2")

# A suite started in the background of a non-interactive shell (`pytest &`, nohup) inherits
# SIGINT ignored: Python then installs no KeyboardInterrupt handler, the child processes inherit
# the ignore too, and the Ctrl-C tests would fail or wait forever. Python's own handler is put
# back (the children then start with the default, as from a terminal).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]

# Every place livegaze (or a library it uses) finds the user's files through: the home folder,
# the XDG folders (platformdirs reads them on every call), livegaze's own overrides. The tray's
# control socket and lock are in XDG_RUNTIME_DIR (livegaze.tray.control).
USER_PLACES = ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
               "XDG_RUNTIME_DIR", "LIVEGAZE_CONFIG", "LIVEGAZE_CACHE")
# The user's own values, before the suite moved them (the isolation tests compare against these).
USER_ENV = {name: os.environ.get(name) for name in USER_PLACES}


def _private_places(base: Path, names=USER_PLACES) -> dict:
    places = {}
    for name in names:
        folder = base / name.lower()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        places[name] = str(folder)
    return places


# Set at import, before any fixture or module runs, and inherited by every subprocess a test
# starts: session-wide fixtures (the clips), imports that look things up, and tests that build
# their subprocess environment from os.environ all see test folders, never the user's. The cache
# stays one folder for the whole session (engines built once are reused by later tests) and is
# removed at the end.
_SESSION = Path(tempfile.mkdtemp(prefix="livegaze-tests-"))
atexit.register(shutil.rmtree, _SESSION, ignore_errors=True)
os.environ.update(_private_places(_SESSION))


@pytest.fixture(autouse=True)
def own_user_places(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's own settings, calibration, cache or tray socket, and
    none depends on the folder pytest was started from: each test gets its own home, config and
    runtime folders (a tray a test starts is its own) and runs in the repository's root."""
    base = tmp_path_factory.mktemp("user")
    for name, value in _private_places(base, ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                                              "XDG_RUNTIME_DIR", "LIVEGAZE_CONFIG")).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def averted_clip(media_dir):
    """60 frames, 640x480, both photos, gaze turned down, gentle drift; returns (path, truth)."""
    from livegaze.evaluation.clips import PHOTOS, ClipSpec, write_clip

    path = str(media_dir / "averted.mp4")
    truth = write_clip(path, ClipSpec(frames=40, photos=PHOTOS, motion="wander", gaze=(0.12, 0.15)))
    return path, truth


@pytest.fixture(scope="session")
def blank_clip(media_dir):
    """A clip with no face at all."""
    import cv2

    path = str(media_dir / "blank.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for i in range(10):
        writer.write(np.full((240, 320, 3), 40 + i, np.uint8))
    writer.release()
    return path


def shared_photo(file: str) -> np.ndarray:
    """One of the shared test media (../shared/media beside the checkout, or $LIVEGAZE_MEDIA),
    read with OpenCV; the test is skipped where they are not here."""
    import cv2

    from livegaze.evaluation.quality import shared_media_dir

    folder = shared_media_dir()
    image = None if folder is None else cv2.imread(os.path.join(folder, file))
    if image is None:
        pytest.skip(f"{file} is not here (the shared media sit beside the clone, in ../shared/media)")
    return image


def opening_pixels(image, contour):
    """(grey ROI around an eyelid polygon, its mask of the opening, x0, y0)."""
    import cv2

    x0, y0 = np.floor(contour.min(0)).astype(int)
    x1, y1 = np.ceil(contour.max(0)).astype(int) + 1
    roi = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).astype(np.float32)
    mask = np.zeros(roi.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(contour - [x0, y0]).astype(np.int32)], 1)
    return roi, mask, x0, y0


def iris_darkness_centre(image, contour):
    """Centre of the dark pixels (iris and pupil) inside an eyelid polygon: an independent,
    landmark-free measure of where an iris is."""
    roi, mask, x0, y0 = opening_pixels(image, contour)
    values = roi[mask > 0]
    dark = (roi < np.percentile(values, 35)) & (mask > 0)
    ys, xs = np.nonzero(dark)
    weights = (values.max() - roi[ys, xs]) + 1e-3
    return np.array([np.average(xs, weights=weights) + x0, np.average(ys, weights=weights) + y0])


def moved_irises(image, shift):
    """(the photo with both irises moved by `shift` eye widths, landmarks found afresh on it,
    the true iris centres). The move is livegaze.evaluation.quality.avert (the geometric
    corrector's cut and paste, not the warp); the landmarker that finds the moved irises has no
    memory of the photo."""
    from livegaze.evaluation.quality import avert
    from livegaze.landmarks import Landmarker

    with Landmarker() as lm:
        face = lm.detect(image, 0)
    truth = [face.iris(eye)[0] + np.float32(shift) * face.eye_size(eye)[0] for eye in range(2)]
    moved = avert(image, face, shift)
    with Landmarker() as fresh:
        return moved, fresh.detect(moved, 0), truth


@pytest.fixture
def small_filesystem(tmp_path):
    """A 128 KiB tmpfs, to fill up for real (needs root and mount rights; skipped elsewhere).
    Unmounted lazily, so a file a test left open cannot keep it mounted."""
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    folder = tmp_path / "small"
    folder.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(folder)], capture_output=True)
    if made.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
