"""The warp corrector over a stream of frames: smoothing, steadiness at the eye's limits, and
what it does when the iris comes and goes. Real photos through the real landmarker."""
import cv2
import numpy as np
import pytest

from livegaze.correctors.warp import WarpCorrector
from livegaze.landmarks import EYE_CONTOURS, EYE_CORNERS, Landmarker
from livegaze.evaluation.clips import photo
from tests.conftest import iris_darkness_centre, shared_photo


def test_a_still_noisy_face_flickers_no_more_than_the_camera():
    """Sensor noise on a still face looking away: through the real landmarker and processor, the
    eye regions of the output change from frame to frame at most 1.2 times as much as the
    input's (the move is smoothed over frames, not re-measured raw each frame)."""
    from livegaze.evaluation.temporal import eye_regions, run_stream
    from livegaze.evaluation.clips import ClipSpec, iter_frames

    frames = [f for f, _, _, _ in iter_frames(ClipSpec(frames=40, photos=("grace_hopper",), motion="still",
                                                       gaze=(0.1, 0.1), noise=4.0, seed=5))]
    done, _ = run_stream(frames, WarpCorrector())
    assert [f.status for f in done].count("corrected") >= 35
    near = eye_regions(next(f.face for f in done if f.face is not None), frames[0].shape)

    def flicker(seq):
        return np.mean([np.abs(a.astype(float) - b.astype(float))[near].mean() for a, b in zip(seq, seq[1:])])

    assert flicker([f.image for f in done]) <= 1.2 * flicker(frames)


def test_reset_forgets_the_stream(averted_portrait):
    """After reset the first move is the measured one (no memory of an earlier face)."""
    image, face = averted_portrait
    corrector = WarpCorrector()
    corrector.correct_frame(image, face, 1.0, image.copy())
    first = corrector.last_move.copy()
    shifted = WarpCorrector(offset=(0.1, 0.0))
    shifted.correct_frame(image, face, 1.0, image.copy())
    corrector.config.offset = (0.1, 0.0)
    corrector.correct_frame(image, face, 1.0, image.copy())  # smoothed: part of the way
    assert 0 < np.linalg.norm(corrector.last_move - first) < np.linalg.norm(shifted.last_move - first)
    corrector.reset()
    corrector.correct_frame(image, face, 1.0, image.copy())
    assert np.allclose(corrector.last_move, shifted.last_move, atol=1e-6)


def test_the_corrected_iris_follows_a_moving_face_without_lag():
    """A face panning 4 px per frame: relative to the eye it sits in, the corrected iris is where
    it is on a still face (a lag of one frame would put it 4 px behind, against the motion)."""
    from livegaze.frames import Frame, Outcome
    from livegaze.processor import FrameProcessor
    from livegaze.evaluation.clips import ClipSpec, iter_frames

    def offsets(spec):
        processor = FrameProcessor([Landmarker()], WarpCorrector())
        found = []
        try:
            for i, (image, _, m, _) in enumerate(iter_frames(spec)):
                frame = Frame(seq=i + 1, t_capture=i / 30, image=image, original=image)
                processor.process(frame)
                if i >= 8 and frame.outcome is Outcome.CORRECTED:
                    contour = frame.face.eye_contour(0)
                    corners = frame.face.points[list(EYE_CORNERS[0]), :2]
                    found.append(iris_darkness_centre(frame.image, contour)[0] - corners[:, 0].mean())
        finally:
            processor.close()
        return np.array(found)

    base = dict(frames=24, photos=("grace_hopper",), gaze=(0.1, 0.05))
    still = offsets(ClipSpec(**base, motion="still"))
    moving = offsets(ClipSpec(**base, motion="pan", velocity=(4.0, 0.0)))
    assert len(still) >= 12 and len(moving) >= 12
    assert abs(np.median(moving) - np.median(still)) < 1.0  # well under one frame of motion (4 px)


@pytest.mark.parametrize("name", ["obama_partial_face.jpg", "grace_hopper"])
def test_a_lift_at_the_eye_s_limit_holds_steady_on_a_still_noisy_face(name):
    """The default live lift on a still face with sensor noise, 640 pixels wide, where the lift
    is at the limit of what the eye gives (obama_partial_face.jpg: the fold measure, jittering
    with the landmarks, crosses its limit; Grace Hopper: a glasses rim the field keeps off).
    Decided afresh each frame, the made lift jumped between 0.08 and 0.056 on a third of the
    frames; with the limit's hysteresis it changes by under 0.005 eye widths per frame."""
    image = shared_photo(name) if name.endswith(".jpg") else photo(name)
    image = cv2.resize(image, (640, round(image.shape[0] * 640 / image.shape[1])))
    rng = np.random.default_rng(1)
    corrector = WarpCorrector(mode="shift")
    made = []
    with Landmarker() as lm:
        for i in range(40):
            frame = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
            face = lm.detect(frame, i * 33)
            assert corrector.correct_frame(frame, face, 1.0, frame.copy(), t=i / 30)
            made.append(corrector.last_plans[0].made[1])
    lifts = -np.array(made[10:])  # after the move's smoothing has settled
    assert lifts.min() > 0.05, lifts
    assert np.abs(np.diff(lifts)).max() < 0.005, np.round(lifts, 3)


def test_an_iris_lost_for_a_while_eases_out_and_back_in(averted_portrait):
    """A stream whose eyes read as shut (nothing to measure) for four frames, a blink, and later
    for half a second. Over the blink the last move is held whole. Over the long gap it is held
    for the same few frames, then eased out, and afterwards eased back in, never changing by
    more than a sixth of the move from one frame to the next (switched off and on whole, the
    eyes jumped: in a dim room the iris is found on some frames only). How much a shut eye is
    corrected at all is the gate's to say (it eases the strength out)."""
    image, face = averted_portrait
    points = face.points.copy()
    for eye in range(2):
        idx = list(EYE_CONTOURS[eye])
        mid = points[idx, 1].mean()
        points[idx, 1] = mid + (points[idx, 1] - mid) * 0.2
    shut = type(face)(points, face.blendshapes, face.pose)
    corrector = WarpCorrector(smooth_cutoff=0.0)
    sizes = []
    for i, f in enumerate([face] * 10 + [shut] * 4 + [face] * 3 + [shut] * 15 + [face] * 15):
        corrector.correct_frame(image, f, 1.0, image.copy(), t=i / 30)
        sizes.append(float(np.hypot(*corrector.last_move)))
    sizes = np.array(sizes)
    full = sizes[9]
    assert full > 0.05 and np.allclose(sizes[10:23], full)  # held over the blink and the gap's start
    assert sizes[31] == 0.0  # eased out
    back = sizes[32:]
    assert 0.0 < back[0] < 0.2 * full and np.allclose(back[-1], full)  # eased back in
    assert np.abs(np.diff(sizes)).max() <= full / 6 + 1e-6, np.round(sizes / full, 2)
