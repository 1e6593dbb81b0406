"""The upper lids' place read from the image (livegaze.lids), on a real photo with MediaPipe's
landmarks. Known truths: the eye region pushed down by a set number of pixels while the brow
stays (a lid and eye dropping), the whole frame moved (the head moving), and looks held."""
import cv2
import numpy as np
import pytest

from livegaze.evaluation.clips import photo
from livegaze.gate import GateConfig
from livegaze.landmarks import Landmarker
from livegaze.lids import HOLD_OUT, USUAL_FRAMES, USUAL_MIN, USUAL_SHARE, LidWatch, eye_patch
from livegaze.stills import still_landmarker

SIZE = (640, 480)


@pytest.fixture(scope="module")
def still():
    return webcam_still()


def webcam_still():
    """grace_hopper.jpg's head at webcam scale (eyes about 30 px wide), with its landmarks."""
    image = photo("grace_hopper")
    scale = SIZE[1] / image.shape[0]
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
    x0 = (SIZE[0] - image.shape[1]) // 2
    frame[:, x0:x0 + image.shape[1]] = image[:, :SIZE[0]]
    with Landmarker() as lm:
        face = lm.detect(frame, 0)
    assert face is not None
    return frame, face


def lowered(frame, face, pixels):
    """The frame with everything from just above each upper lid down past the eye moved down by
    `pixels`, fading to nothing over the forehead: the brow stays, the lid and eye drop."""
    h, w = frame.shape[:2]
    ys = np.arange(h, dtype=np.float32)[:, None] * np.ones((1, w), np.float32)
    xs = np.ones((h, 1), np.float32) * np.arange(w, dtype=np.float32)[None, :]
    shift = np.zeros((h, w), np.float32)
    for eye in range(2):
        contour = face.eye_contour(eye)
        width = face.eye_size(eye)[0]
        top = contour[:, 1].min()
        near_x = np.abs(xs - contour[:, 0].mean()) < 0.8 * width
        ramp = np.clip((ys - (top - 0.35 * width)) / (0.2 * width), 0, 1)  # 0 at the brow, 1 at the lid
        below = ys < contour[:, 1].max() + 0.5 * width
        shift = np.maximum(shift, np.where(near_x & below, ramp, 0) * pixels)
    return cv2.remap(frame, xs, ys - shift, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def primed(frame, face, frames=USUAL_MIN):
    watch = LidWatch()
    for _ in range(frames):
        watch.update(frame, face)
    return watch


def test_a_lid_pushed_down_reads_as_that_many_eye_widths(still):
    frame, face = still
    width = np.mean([face.eye_size(eye)[0] for eye in range(2)])
    for pixels in (1.5, 3.0, 5.0):
        watch = primed(frame, face)
        drop = watch.update(lowered(frame, face, pixels), face)
        assert drop == pytest.approx(pixels / width, abs=0.3 * pixels / width + 0.005), (pixels, drop)


def test_the_head_moving_is_not_a_lid_dropping(still):
    """The whole frame moved (landmarks found afresh on each): the lids have not moved against
    the brow, also where the landmarks are off by a few pixels (MediaPipe's video mode lags a
    sudden move): well under the drop the gate takes for a look past the screen."""
    frame, face = still
    watch = primed(frame, face)
    with still_landmarker() as lm:
        for dx, dy in ((3, 5), (-4, 2), (0, -6), (7, -3)):
            m = np.float32([[1, 0, dx], [0, 1, dy]])
            moved = cv2.warpAffine(frame, m, SIZE, borderMode=cv2.BORDER_REPLICATE)
            found = lm.detect(moved)
            assert abs(watch.update(moved, found)) < 0.6 * GateConfig().lid_drop, (dx, dy)
            lagging = type(found)(found.points - np.float32([0.6 * dx, 0.6 * dy, 0]), {}, found.pose)
            assert abs(watch.update(moved, lagging)) < 0.6 * GateConfig().lid_drop, ("lagging", dx, dy)


def test_nothing_is_said_until_the_usual_place_is_known(still):
    frame, face = still
    watch = LidWatch()
    said = [watch.update(frame, face) for _ in range(USUAL_MIN + 1)]
    assert all(s is None for s in said[:USUAL_MIN])
    assert said[USUAL_MIN] is not None
    watch.reset()
    assert watch.update(frame, face) is None


def test_a_look_held_for_a_quarter_of_the_record_becomes_the_usual_one(still):
    """Without a `past` (nothing kept out), a lower look held for over a quarter of the record
    is the lowest the lids usually sit: the usual place."""
    frame, face = still
    width = np.mean([face.eye_size(eye)[0] for eye in range(2)])
    low = lowered(frame, face, 4.0)
    watch = primed(frame, face, USUAL_FRAMES)
    first = watch.update(low, face)
    assert first > 2.5 / width
    drops = [watch.update(low, face) for _ in range(USUAL_FRAMES // 4 + 2)]
    assert drops[0] > 2.5 / width and drops[-4] > 2.5 / width  # a glance does not move the usual place
    assert abs(drops[-1]) < 0.5 / width, drops[-5:]  # held this long, it is the usual one


def test_a_look_past_the_usual_one_is_kept_out_of_the_record_for_a_while(still):
    """A look more than `past` below the usual place (a keyboard while typing) stays that far
    below it for HOLD_OUT frames; held longer, it joins the record and becomes the usual one."""
    frame, face = still
    width = np.mean([face.eye_size(eye)[0] for eye in range(2)])
    low = lowered(frame, face, 4.0)
    watch = primed(frame, face, USUAL_FRAMES)
    past = GateConfig().lid_drop
    joined = HOLD_OUT + int(np.ceil(USUAL_FRAMES * (1 - USUAL_SHARE)))  # frames until it is the usual look
    drops = [watch.update(low, face, past=past) for _ in range(joined + 2)]
    assert min(drops[:joined - 3]) > 2.5 / width, min(drops[:joined - 3])
    assert abs(drops[-1]) < 0.5 / width, drops[-5:]


def test_each_look_past_the_usual_one_is_kept_out_afresh(still):
    """Two looks at the keyboard with reading between: the second is kept out of the record for
    HOLD_OUT frames of its own, not what the first left of them."""
    frame, face = still
    width = np.mean([face.eye_size(eye)[0] for eye in range(2)])
    low = lowered(frame, face, 4.0)
    watch = primed(frame, face, USUAL_FRAMES)
    past = GateConfig().lid_drop
    for _ in range(HOLD_OUT // 2):
        watch.update(low, face, past=past)
    for _ in range(10):
        watch.update(frame, face, past=past)
    second = [watch.update(low, face, past=past) for _ in range(HOLD_OUT + 10)]
    assert min(second) > 2.5 / width, int(np.argmin(second))


def test_reading_after_seconds_of_looking_into_the_camera_is_the_usual_look(still):
    """The lids read the screen (lower), then look into the camera (higher) for over half the
    record, then read again: that reading is at the usual place, not a look down past it (the
    usual place is the lowest the lids held for a quarter of the record, not their median)."""
    frame, face = still
    width = np.mean([face.eye_size(eye)[0] for eye in range(2)])
    reading = lowered(frame, face, 4.0)
    watch = primed(reading, face, USUAL_FRAMES)
    past = GateConfig().lid_drop
    camera = [watch.update(frame, face, past=past) for _ in range(USUAL_FRAMES // 2 + 20)]
    assert camera[-1] < -2.5 / width  # the camera look: lids well above the usual place
    again = [watch.update(reading, face, past=past) for _ in range(5)]
    assert max(abs(d) for d in again) < 0.5 / width, again


def test_a_tiny_eye_has_no_patch(still):
    frame, face = still
    small = cv2.resize(frame, None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA)
    points = face.points.copy()
    points[:, :2] *= 0.2
    assert eye_patch(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), type(face)(points, {}, face.pose), 0) is None
    assert LidWatch().update(small, type(face)(points, {}, face.pose)) is None


def test_another_face_starts_the_record_afresh(still):
    """A cut to a face elsewhere in the frame (the same photo moved by two eye widths) or
    another size: the lids are not compared across faces, so nothing is said until the new
    face's usual place is known."""
    frame, face = still
    width = face.eye_size(0)[0]
    for move, scale in (((2 * width, 0), 1.0), ((0, 0), 1.4)):
        watch = primed(frame, face)
        m = np.float32([[scale, 0, move[0]], [0, scale, move[1]]])
        other = cv2.warpAffine(frame, m, SIZE, borderMode=cv2.BORDER_REPLICATE)
        points = face.points.copy()
        points[:, :2] = points[:, :2] * scale + np.float32(move)
        assert watch.update(other, type(face)(points, {}, face.pose)) is None, (move, scale)


def test_a_large_eye_reads_the_same_drop(still):
    """The frame four times larger (eyes about 110 px wide: a close face, a 4K camera): the patch
    is smoothed before sampling, and a drop still reads as its share of the eye's width."""
    frame, face = still
    big = cv2.resize(frame, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    points = face.points.copy()
    points[:, :2] = points[:, :2] * 4 + 1.5  # pixel centres scale about the corner
    large = type(face)(points, {}, face.pose)
    width = np.mean([large.eye_size(eye)[0] for eye in range(2)])
    assert width > 64 / 0.7
    for pixels in (6.0, 16.0):
        watch = primed(big, large)
        drop = watch.update(lowered(big, large, pixels), large)
        assert drop == pytest.approx(pixels / width, abs=0.15 * pixels / width + 0.005), (pixels, drop)


@pytest.mark.parametrize("shift", [-12, -5, 0, 3, 9, 20])
def test_the_flow_starts_from_the_shift_that_lays_the_band(still, shift):
    """A patch moved by a whole number of rows, up or down, as far as a look can move a lid:
    the band search finds exactly that shift (the rows beyond come from the image, not padding)."""
    from livegaze.lids import BAND, PATCH_PX, _band_shift, lid_row, _V

    frame, face = still
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    width = face.eye_size(0)[0]
    moved = cv2.warpAffine(gray, np.float32([[1, 0, 0], [0, 1, shift * width / PATCH_PX]]), SIZE,
                           flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    reference, patch = eye_patch(gray, face, 0), eye_patch(moved, face, 0)
    margin = int(np.argmin(np.abs(_V - lid_row(face, 0))))
    top, bottom = margin + round(BAND[0] * PATCH_PX), margin + round(BAND[1] * PATCH_PX)
    assert _band_shift(reference, patch, top, bottom) == shift


def test_a_look_past_a_lower_usual_one_is_kept_out_too(still):
    """Once a lower look has become the usual one (held past HOLD_OUT), a look further down
    still is measured against it and kept out of the record for HOLD_OUT frames of its own."""
    frame, face = still
    width = np.mean([face.eye_size(eye)[0] for eye in range(2)])
    watch = primed(frame, face, USUAL_FRAMES)
    past = GateConfig().lid_drop
    low, lower = lowered(frame, face, 4.0), lowered(frame, face, 8.0)
    for _ in range(USUAL_FRAMES):
        watch.update(low, face, past=past)
    assert abs(watch.update(low, face, past=past)) < 0.5 / width  # the lower look is the usual one
    further = [watch.update(lower, face, past=past) for _ in range(HOLD_OUT + 10)]
    assert min(further) > 2.5 / width, int(np.argmin(further))
