"""Tracking measured on clips with known ground-truth motion, through the real landmarker."""
import numpy as np
import pytest

from livegaze.landmarks import Landmarker
from livegaze.evaluation.clips import ClipSpec, iter_frames
from livegaze.tracking import EyeTracker, TrackerConfig, measure_eye


def _run(spec):
    raw, smooth, truth = [], [], []
    tracker = EyeTracker(TrackerConfig())
    with Landmarker() as lm:
        for i, (frame, _, m, irises) in enumerate(iter_frames(spec)):
            face = lm.detect(frame, i * 33)
            boxes = tracker.update(face, i / spec.fps)
            raw.append(measure_eye(face, 0)[:2])
            smooth.append(boxes[0].centre)
            truth.append(m[:, 2])  # photo translation: the face moves with it
    return np.array(raw), np.array(smooth), np.array(truth)


def test_still_face_jitter_reduced_three_fold():
    spec = ClipSpec(frames=60, motion="still", noise=6.0, seed=1)
    raw, smooth, _ = _run(spec)
    raw_std = np.linalg.norm(raw[15:].std(0))
    smooth_std = np.linalg.norm(smooth[15:].std(0))
    assert raw_std > 0.05, "the noisy clip should make the raw landmarks jitter"
    assert smooth_std * 3 <= raw_std, (raw_std, smooth_std)


def test_moving_face_lags_at_most_one_frame():
    spec = ClipSpec(frames=60, motion="pan", velocity=(3.0, 1.0))
    raw, smooth, truth = _run(spec)
    speed = np.linalg.norm(np.diff(truth, axis=0), axis=1).mean()
    offset = (raw - truth)[15:].mean(0)  # landmarks' fixed offset from the photo origin
    lag_px = np.linalg.norm((raw - smooth)[15:], axis=1).mean()
    lag_frames = lag_px / speed
    assert lag_frames <= 1.0, lag_frames
    # and the smoothed track follows the true motion
    assert np.abs((smooth - truth - offset)[15:]).max() < 2 * speed + 2


def test_reset_after_face_lost_and_jump_restarts():
    tracker = EyeTracker(TrackerConfig(max_missed=2))
    spec = ClipSpec(frames=3, motion="still")
    with Landmarker() as lm:
        face = lm.detect(next(iter_frames(spec))[0])
    for _ in range(5):
        tracker.update(face)
    for _ in range(3):
        assert tracker.update(None) is None
    assert tracker.filters[0].kf is None and tracker.resets == 1
    first = tracker.update(face)
    assert np.allclose(first[0].centre, measure_eye(face, 0)[:2], atol=1e-3)


def test_measurement_far_from_prediction_restarts_filter():
    tracker = EyeTracker()
    spec = ClipSpec(frames=1)
    with Landmarker() as lm:
        face = lm.detect(next(iter_frames(spec))[0])
    for _ in range(10):
        tracker.update(face)
    moved = type(face)(face.points + np.array([200, 0, 0], np.float32), face.blendshapes, face.pose)
    boxes = tracker.update(moved)
    assert boxes[0].cx == pytest.approx(measure_eye(moved, 0)[0], abs=1e-3)
