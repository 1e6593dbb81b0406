"""Shared fixtures: synthetic clips from packaged photos, written once per session."""
import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GLOG_minloglevel", "2")


@pytest.fixture(autouse=True)
def own_config_dir(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's own settings or calibration."""
    monkeypatch.setenv("LIVEGAZE_CONFIG", str(tmp_path_factory.mktemp("config")))


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
