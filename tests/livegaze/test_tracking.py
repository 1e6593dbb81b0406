"""Tracking measured on clips with known ground-truth motion, through the real landmarker."""
import numpy as np
import pytest

from livegaze.landmarks import Landmarker
from livegaze.evaluation.clips import ClipSpec, iter_frames
from livegaze.tracking import EyeTracker, TrackerConfig


def landmark_box(face, eye):
    """The eye as the landmarks place it (livegaze.landmarks, not the tracker): centre, width
    and opening height in frame pixels."""
    width, height = face.eye_size(eye)
    return np.array([*face.eye_centre(eye), width, height])


def box(b):
    return np.array([b.cx, b.cy, b.w, b.h])


def _run(spec):
    raw, smooth, truth = [], [], []
    tracker = EyeTracker(TrackerConfig())
    with Landmarker() as lm:
        for i, (frame, _, m, irises) in enumerate(iter_frames(spec)):
            face = lm.detect(frame, i * 33)
            boxes = tracker.update(face, i / spec.fps)
            raw.append(face.eye_centre(0))
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
    """max_missed=2: two faceless frames keep the track, the third drops it; the next face
    starts a new track exactly where its landmarks put the eyes."""
    tracker = EyeTracker(TrackerConfig(max_missed=2))
    spec = ClipSpec(frames=3, motion="still")
    with Landmarker() as lm:
        face = lm.detect(next(iter_frames(spec))[0])
    for _ in range(5):
        tracker.update(face)
    for _ in range(2):
        assert tracker.update(None) is None
    assert tracker.filters[0].kf is not None and tracker.resets == 0
    assert tracker.update(None) is None
    assert tracker.filters[0].kf is None and tracker.resets == 1
    first = tracker.update(face)
    for eye in range(2):
        np.testing.assert_allclose(box(first[eye]), landmark_box(face, eye), atol=1e-3)


def test_a_still_face_is_tracked_where_its_landmarks_are():
    """The same landmarks every frame: the boxes stay exactly on them (no drift, no velocity
    made up), for both eyes."""
    tracker = EyeTracker()
    with Landmarker() as lm:
        face = lm.detect(next(iter_frames(ClipSpec(frames=1)))[0])
    for i in range(10):
        boxes = tracker.update(face, i / 30)
    for eye in range(2):
        np.testing.assert_allclose(box(boxes[eye]), landmark_box(face, eye), atol=1e-3)


def test_measurement_far_from_prediction_restarts_filter():
    """A face that jumps 200 pixels (a different face, a glitch) restarts the track there at
    once: the boxes move by exactly the jump, and keep their size."""
    tracker = EyeTracker()
    spec = ClipSpec(frames=1)
    with Landmarker() as lm:
        face = lm.detect(next(iter_frames(spec))[0])
    for _ in range(10):
        before = tracker.update(face)
    moved = type(face)(face.points + np.array([200, 0, 0], np.float32), face.blendshapes, face.pose)
    boxes = tracker.update(moved)
    for eye in range(2):
        np.testing.assert_allclose(box(boxes[eye]), box(before[eye]) + [200, 0, 0, 0], atol=1e-3)
    # A move well inside the gate (a tenth of an eye width) is smoothed, not jumped to.
    nudged = type(face)(moved.points + np.array([0.1 * boxes[0].w, 0, 0], np.float32), face.blendshapes, face.pose)
    after = tracker.update(nudged)
    assert boxes[0].cx < after[0].cx < boxes[0].cx + 0.1 * boxes[0].w
