"""WarpCorrector.warp_by: a move given, not measured (the calibration's image match tries many).
It must warp as correct_frame does once that has decided its move (correct_frame's own tests
check that against moved irises), and also where no iris fit is found."""
import numpy as np
import pytest

from livegaze.correctors.warp import WarpCorrector
from livegaze.evaluation.clips import photo
from livegaze.stills import still_landmarker
from tests.livegaze.correctors.conftest import squint


@pytest.fixture(scope="module")
def grace():
    image = photo("grace_hopper")
    with still_landmarker() as lm:
        return image, lm.detect(image)


@pytest.mark.parametrize("k, move", [(1.0, (0.0, -0.06)), (1.0, (0.05, 0.03)), (0.6, (0.0, -0.15))])
def test_the_image_and_the_move_made_are_those_of_correct_frame_in_shift_mode(grace, k, move):
    """A lift, a move down and aside, and a lift a narrowed eye cannot give in full (cut: what
    is returned is less than asked, and is what correct_frame made)."""
    image, face = grace
    face = squint(face, k)
    by_move, by_frame = image.copy(), image.copy()
    made = WarpCorrector().warp_by(image, face, move, by_move)
    corrector = WarpCorrector(mode="shift", shift=move, smooth_cutoff=0.0)
    assert corrector.correct_frame(image, face, 1.0, by_frame)
    assert np.array_equal(by_move, by_frame) and not np.array_equal(by_move, image)
    np.testing.assert_allclose(made, corrector.last_move, atol=1e-12)
    if k < 1:
        assert -0.15 < made[1] < -0.01 and made[0] == 0


def test_without_an_iris_fit_it_still_moves(grace):
    """Eyes faded to a seventh of their contrast (a dim, washed-out frame), so that the iris fit
    finds no limbus: correct_frame measures nothing and moves nothing; warp_by places the iris
    by MediaPipe's point and makes the whole lift."""
    image, face = grace
    blurred = image.copy()
    for eye in range(2):
        x0, y0 = np.floor(face.eye_contour(eye).min(0)).astype(int) - 6
        x1, y1 = np.ceil(face.eye_contour(eye).max(0)).astype(int) + 6
        box = blurred[y0:y1, x0:x1].astype(np.float32)
        blurred[y0:y1, x0:x1] = np.round(box.mean((0, 1)) + (box - box.mean((0, 1))) / 7).astype(np.uint8)
    corrector = WarpCorrector(mode="shift", shift=(0.0, -0.06))
    assert not corrector.correct_frame(blurred, face, 1.0, blurred.copy())
    assert corrector.last_refusal == "iris_not_found"
    out = blurred.copy()
    made = WarpCorrector().warp_by(blurred, face, (0.0, -0.06), out)
    np.testing.assert_allclose(made, (0.0, -0.06), atol=1e-12)
    assert not np.array_equal(out, blurred)


def test_a_move_under_a_fifth_of_a_pixel_changes_nothing(grace):
    image, face = grace
    out = image.copy()
    width = min(face.eye_size(e)[0] for e in range(2))
    made = WarpCorrector().warp_by(image, face, (0.0, -0.15 / width), out)
    assert made.shape == (2,) and not made.any() and np.array_equal(out, image)


def test_a_move_past_max_shift_is_cut_to_it_in_its_own_direction(grace):
    image, face = grace
    made = WarpCorrector(max_shift=0.05).warp_by(image, face, (0.06, -0.08), image.copy())
    assert np.hypot(*made) <= 0.05 + 1e-9
    assert made[0] > 0 and made[1] < 0 and abs(made[0] / made[1] - 0.06 / -0.08) < 1e-6


def test_in_place_when_no_output_is_given(grace):
    image, face = grace
    warped = image.copy()
    made = WarpCorrector().warp_by(warped, face, (0.0, -0.06))
    expected = image.copy()
    WarpCorrector().warp_by(image, face, (0.0, -0.06), expected)
    assert made.shape == (2,) and np.array_equal(warped, expected) and not np.array_equal(warped, image)


def test_half_a_pixel_is_made(grace):
    """A move of half a pixel on these eyes (above the fifth of a pixel that is skipped) is made:
    pixels change, and all of it is returned."""
    image, face = grace
    width = min(face.eye_size(e)[0] for e in range(2))
    out = image.copy()
    made = WarpCorrector().warp_by(image, face, (0.0, -0.5 / width), out)
    np.testing.assert_allclose(made, (0.0, -0.5 / width), atol=1e-12)
    assert not np.array_equal(out, image)


def test_the_cut_to_max_shift_is_made_in_full(grace):
    """A move twice max_shift along a direction the eyes can give: exactly max_shift is made."""
    image, face = grace
    made = WarpCorrector(max_shift=0.05).warp_by(image, face, (0.1, 0.0), image.copy())
    np.testing.assert_allclose(made, (0.05, 0.0), atol=1e-12)


def test_eyes_off_the_image_move_nothing(grace):
    """Landmarks beyond the image's right edge (a face leaving the frame): no eye has pixels to
    move, so nothing changes and the move made is zero (a pair, like any other)."""
    image, face = grace
    points = face.points.copy()
    points[:, 0] += image.shape[1] + 50
    gone = type(face)(points, face.blendshapes, face.pose)
    out = image.copy()
    made = WarpCorrector().warp_by(image, gone, (0.0, -0.06), out)
    assert made.shape == (2,) and not made.any() and np.array_equal(out, image)
