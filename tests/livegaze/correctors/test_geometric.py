import numpy as np
import pytest

from livegaze.align import Aligner
from livegaze.correctors.geometric import GeometricCorrector
from livegaze.landmarks import EYE_CONTOURS, Landmarker
from livegaze.evaluation.clips import ClipSpec, iter_frames
from tests.conftest import iris_darkness_centre


@pytest.fixture(scope="module")
def averted():
    """An aligned face whose gaze was turned down and aside by (0.15, 0.12) eye widths, per photo."""
    out = []
    with Landmarker() as lm:
        for name in ("astronaut", "grace_hopper"):
            frame = next(iter_frames(ClipSpec(frames=1, photos=(name,), gaze=(0.15, 0.12))))[0]
            face = lm.detect(frame)
            aligned = Aligner().align(frame, np.stack([face.eye_centre(0), face.eye_centre(1)]), face)
            out.append(aligned)
    return out


def test_correction_restores_the_camera_facing_eyes(averted):
    """Ground truth: the photos look into the camera. Turning their gaze away and correcting it
    must bring the eye pixels closer to the untouched photo than the averted ones were."""
    import cv2
    corrector = GeometricCorrector()
    for aligned in averted:
        name = "astronaut" if aligned is averted[0] else "grace_hopper"
        truth_frame = next(iter_frames(ClipSpec(frames=1, photos=(name,), gaze=(0.0, 0.0))))[0]
        truth = cv2.warpAffine(truth_frame, aligned.matrix, (256, 256), flags=cv2.INTER_LINEAR)
        out = corrector.correct(aligned, 1.0)
        assert out is not None
        opening = np.zeros((256, 256), np.uint8)
        for eye in range(2):
            cv2.fillPoly(opening, [np.round(aligned.points[list(EYE_CONTOURS[eye])]).astype(np.int32)], 1)
        inside = opening.astype(bool)
        err_before = np.abs(aligned.image[inside].astype(float) - truth[inside]).mean()
        err_after = np.abs(out[inside].astype(float) - truth[inside]).mean()
        assert err_after < 0.85 * err_before, (name, err_before, err_after)
        # only pixels inside the eye openings changed
        grown = cv2.dilate(opening, np.ones((3, 3), np.uint8)).astype(bool)
        assert np.array_equal(out[~grown], aligned.image[~grown])


def test_strength_scales_the_move(averted):
    aligned = averted[0]
    contour = aligned.points[list(EYE_CONTOURS[0])]
    start = iris_darkness_centre(aligned.image, contour)
    half = iris_darkness_centre(GeometricCorrector(pose_gain=0).correct(aligned, 0.5), contour)
    full = iris_darkness_centre(GeometricCorrector(pose_gain=0).correct(aligned, 1.0), contour)
    assert 0.2 < np.linalg.norm(half - start) / np.linalg.norm(full - start) < 0.8
    assert GeometricCorrector().correct(aligned, 0.0) is None


def test_closed_eyes_are_left_alone(averted):
    aligned = averted[0]
    points = aligned.points.copy()
    for eye in range(2):  # squash each eyelid polygon to a slit
        idx = list(EYE_CONTOURS[eye])
        mid_y = points[idx, 1].mean()
        points[idx, 1] = mid_y + (points[idx, 1] - mid_y) * 0.1
    closed = type(aligned)(**{**aligned.__dict__, "points": points})
    assert GeometricCorrector().correct(closed, 1.0) is None


def test_user_offset_moves_the_target(averted):
    aligned = averted[0]
    base = GeometricCorrector(pose_gain=0).targets(aligned.points, None)
    moved = GeometricCorrector(pose_gain=0, offset=(0.1, -0.05)).targets(aligned.points, None)
    width = np.linalg.norm(aligned.points[33] - aligned.points[133])
    assert np.allclose(moved[0] - base[0], [0.1 * width, -0.05 * width], atol=1e-3)
