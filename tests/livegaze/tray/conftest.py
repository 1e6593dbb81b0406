import os
import time

import pytest


@pytest.fixture(scope="session")
def qapp():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtWidgets import QApplication
    return QApplication.instance() or QApplication([])


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEGAZE_CONFIG", str(tmp_path / "config"))
    return tmp_path / "config"


def wait_until(qapp, condition, timeout=120.0):
    """Process Qt events until `condition()` holds (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        qapp.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return condition()


SCREEN_ANGLE = 14.0  # degrees below the camera of the screen in `reading_twins`


@pytest.fixture(scope="session")
def reading_twins(tmp_path_factory):
    """A camera for calibrating from the tray: (path of a clip of one face looking into the
    camera, {hash of each of its decoded frames: (its twin looking SCREEN_ANGLE degrees down,
    the twin's landmarks)}). The twin has the same head motion and noise (livegaze.evaluation.
    lookdown, the same seed)."""
    import hashlib

    import cv2

    from livegaze.evaluation.clips import photo
    from livegaze.evaluation.lookdown import ClipPlan, FacingFace, clip_frames
    from livegaze.landmarks import Landmarker
    from livegaze.stills import still_landmarker

    with still_landmarker() as lm:
        image = photo("grace_hopper")
        person = FacingFace("grace_hopper", image, lm.detect(image))
    folder = tmp_path_factory.mktemp("twins")
    paths = {}
    for name, angle in (("camera", 0.0), ("screen", SCREEN_ANGLE)):
        paths[name] = str(folder / f"{name}.avi")
        writer = cv2.VideoWriter(paths[name], cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
        for frame, _, _ in clip_frames(person, ClipPlan([angle] * 60, seed=4, noise=3.0, wander=0.5)):
            writer.write(frame)
        writer.release()
    camera, screen = (cv2.VideoCapture(paths[name]) for name in ("camera", "screen"))
    twins = {}
    with Landmarker() as lm:
        for i in range(60):
            (ok_a, a), (ok_b, b) = camera.read(), screen.read()
            assert ok_a and ok_b
            twins[hashlib.md5(a.tobytes()).hexdigest()] = (b, lm.detect(b, 33 * (i + 1), everyone=True))
    camera.release()
    screen.release()
    return paths["camera"], twins


def twin_calibrator(twins):
    """A Calibrator class for the tray's calibration on `reading_twins`' camera: in the screen
    phase each frame is replaced by its twin looking down. A video cannot know when the dialog
    asks for the second look; the user in front of a camera would turn the eyes then."""
    import hashlib

    from livegaze.calibration import Calibrator

    class TwinCalibrator(Calibrator):
        strangers = 0  # frames that were not the clip's as decoded here (their twin is unknown)

        def add(self, measured, image=None, face=None):
            if self.phase == "screen" and image is not None:
                twin = twins.get(hashlib.md5(image.tobytes()).hexdigest())
                if twin is None:
                    type(self).strangers += 1
                    return
                image, face = twin
            super().add(measured, image, face)

    return TwinCalibrator
