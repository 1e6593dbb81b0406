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
            # The full model on every frame: its landmarks are not smoothed over frames (the
            # one-face model's are), so what is measured is the tracker's own smoothing.
            face = lm.detect(frame, i * 33, everyone=True)
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


@pytest.fixture(scope="module")
def one_face():
    with Landmarker() as lm:
        return lm.detect(next(iter_frames(ClipSpec(frames=1)))[0])


def shifted(face, dx):
    return type(face)(face.points + np.array([dx, 0, 0], np.float32), face.blendshapes, face.pose)


def track_error(face, times, position, use_times=True):
    """Eye 0's tracked x minus where the face truly is, per frame (pixels)."""
    tracker = EyeTracker()
    errors = []
    for t in times:
        boxes = tracker.update(shifted(face, position(t)), t if use_times else None)
        errors.append(boxes[0].cx - (face.eye_centre(0)[0] + position(t)))
    return np.array(errors)


def test_a_head_that_starts_moving_is_followed_within_two_and_a_half_frames(one_face):
    """Still for 20 frames, then 1.5 px a frame: the track is never more than 2.5 frames of
    that motion behind, and is back within a pixel 16 frames after the start."""
    speed = 1.5
    times = np.arange(60) / 30
    errors = track_error(one_face, times, lambda t: speed * max(0.0, t * 30 - 20))
    assert np.abs(errors[:20]).max() < 1e-3
    assert np.abs(errors[20:]).max() <= 2.5 * speed, np.abs(errors[20:]).max()
    assert np.abs(errors[36:]).max() < 1.0


def test_frames_at_uneven_times_are_tracked_by_their_timestamps(one_face):
    """A live source drops frames: a head moving steadily, seen 1 and 3 frames apart in turn,
    stays tracked to a tenth of a pixel (the filter steps by the real time between frames)."""
    times = np.cumsum([0] + [1, 3] * 30)[:60] / 30
    errors = track_error(one_face, times, lambda t: 45.0 * t)
    assert np.abs(errors[15:]).max() < 0.1, np.abs(errors[15:]).max()


def test_a_stream_without_timestamps_counts_one_frame_per_update(one_face):
    errors = track_error(one_face, np.arange(40) / 30, lambda t: 45.0 * t, use_times=False)
    assert np.abs(errors[15:]).max() < 0.1, np.abs(errors[15:]).max()


def test_faceless_frames_before_any_face_and_repeated_resets_are_counted(one_face):
    """A stream may start without a face; each dropped track counts once; timestamps go on
    working after a reset."""
    tracker = EyeTracker(TrackerConfig(max_missed=1))
    assert tracker.update(None, 0.0) is None and tracker.update(None, 0.1) is None
    assert tracker.resets == 0
    for round_ in range(2):
        t0 = round_ * 10.0
        for i in range(3):
            assert tracker.update(one_face, t0 + i / 30) is not None
        for i in range(3):  # the second drops the track; the third finds none to drop
            assert tracker.update(None, t0 + 1 + i / 30) is None
        assert tracker.resets == round_ + 1
    boxes = tracker.update(one_face, 30.0)
    np.testing.assert_allclose(box(boxes[0]), landmark_box(one_face, 0), atol=1e-3)
    assert tracker.update(one_face, 30.0 + 1 / 30) is not None


def test_a_move_inside_the_gate_is_smoothed_not_jumped_to(one_face):
    """The gate is in eye widths (0.6 of the width, whatever the eye's height): a move of 0.4
    widths is smoothed towards, not jumped to."""
    tracker = EyeTracker()
    for i in range(10):
        before = tracker.update(one_face, i / 30)
    width = before[0].w
    after = tracker.update(shifted(one_face, 0.4 * width), 10 / 30)
    assert before[0].cx < after[0].cx < before[0].cx + 0.4 * width - 1.0
