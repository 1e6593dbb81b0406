"""The warp corrector's memory over a stream, frame by frame, against values worked out by hand
from its settings: how fast a capped move grows back, how long a lost iris's move is held and
how fast it eases out and in, how fast a lower lid that took the larger share of a lift settles
back. The astronaut's photo (eyes about 18 px wide, no glasses) and its landmarks; a squint is
the same face with both openings narrowed about their middle (less room to lift)."""
import numpy as np
import pytest

from livegaze.correctors.warp import WarpCorrector
from livegaze.correctors.warpfield import FieldShape
from livegaze.evaluation.clips import photo
from livegaze.landmarks import EYE_CONTOURS, EYE_CORNERS, Landmarker
from tests.livegaze.correctors.conftest import squint


@pytest.fixture(scope="module")
def astronaut():
    image = photo("astronaut")
    with Landmarker() as lm:
        return image, lm.detect(image, 0)


def lift(corrector, image, face, t, strength=1.0):
    """One frame of a stream; the lift it made (eye widths, positive up)."""
    assert corrector.correct_frame(image, face, strength, image.copy(), t=t)
    made = [p.made for p in corrector.last_plans]
    np.testing.assert_allclose(made[0], made[1], atol=1e-9)  # both eyes alike
    return -float(made[0][1])


def test_a_capped_lift_grows_back_at_cap_rise_and_a_full_one_is_held_on_the_lower_limit(astronaut):
    """A lift of 0.14 asked (shift mode), first on a squint that can give only part of it, then
    on the open face that could give it all: the lift grows back by cap_rise (0.12 eye widths
    per second) times each frame's time step, never more, until it is whole, its lower lid
    still taking the share the squint needed, less its settling (see the lower-lid test).
    A lift of 0.16 made whole, then a squint: the move is kept on the fold limit less
    hold_margin, more than a fresh stream makes on that squint; the next frames keep it (a failed
    try to grow does not drop it further, nor does a slightly smaller ask); a narrower squint
    still drops it at once."""
    image, face = astronaut
    narrow = squint(face, 0.6)

    def warp(asked, **options):
        return WarpCorrector(mode="shift", shift=(0.0, -asked), smooth_cutoff=0.0, rim_check=False, **options)

    corrector = warp(0.14)
    first = lift(corrector, image, narrow, 0.0)
    assert 0.05 < first < 0.14 - 0.03  # capped: the case this test is about
    out = image.copy()
    assert corrector.correct_frame(image, face, 1.0, out, t=1 / 30)
    grown = -corrector.last_move[1]
    assert grown == pytest.approx(first + 0.12 / 30, abs=1e-9)
    alike = image.copy()  # the lower lid's share: 0.55 less (0.55 - 0.3) / 0.5 per second
    assert warp(grown, shape=FieldShape(lower_follow=0.55 - 0.25 / 0.5 / 30)).correct_frame(image, face, 1.0, alike)
    assert np.array_equal(out, alike)
    assert lift(corrector, image, face, 0.1) == pytest.approx(first + 0.12 * 0.1, abs=1e-9)
    assert lift(corrector, image, face, 0.6) == pytest.approx(0.14, abs=1e-9)  # grown past what was asked
    assert lift(corrector, image, face, 0.7) == pytest.approx(0.14, abs=1e-9)

    corrector = warp(0.16)
    assert lift(corrector, image, face, 0.0) == pytest.approx(0.16, abs=1e-9)
    alone = lift(warp(0.16), image, narrow, 0.0)
    kept = lift(corrector, image, narrow, 0.1)
    assert alone < kept < 0.16, (alone, kept)
    assert lift(corrector, image, narrow, 0.2) == pytest.approx(kept, abs=1e-9)
    assert lift(corrector, image, narrow, 0.3, strength=0.95) == pytest.approx(kept, abs=1e-9)
    assert lift(corrector, image, squint(face, 0.45), 0.4) < alone - 0.005


def test_a_lost_iris_s_move_is_held_for_hold_frames_then_eased_out_and_back_in_over_fade(astronaut):
    """A move aside of 0.08 eye widths (shift mode, unsmoothed), frames 0.05 s apart, the eyes
    shut (nothing measured) from frame 2 to 15. The move is held whole for hold_frames (6)
    shut frames, then falls by dt / fade = 0.05 / 0.3 = 1/6 of itself per frame to nothing
    (the frame then left alone, as shut); measured again, it rises by 1/6 per frame."""
    image, face = astronaut
    shut = squint(face, 0.2)
    corrector = WarpCorrector(mode="shift", shift=(0.08, 0.0), smooth_cutoff=0.0, rim_check=False)
    shares = []
    for i, f in enumerate([face] * 2 + [shut] * 14 + [face] * 8):
        moved = corrector.correct_frame(image, f, 1.0, image.copy(), t=i * 0.05)
        shares.append(corrector.last_move[0] / 0.08)
        assert moved == (shares[-1] > 0)
        assert corrector.last_refusal == ("" if moved else "eye_closed")
    expected = [1] * 2 + [1] * 6 + [5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0, 0, 0] + [1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1, 1, 1]
    np.testing.assert_allclose(shares, expected, atol=1e-9)


def test_time_steps_come_from_the_capture_times_or_are_a_thirtieth_of_a_second(astronaut):
    """The fade's step per frame is the time since the last frame over `fade`: 0.1 s apart, a
    third of the move per frame; with no capture times, 1/30 s (a ninth); two frames with the
    same time are 1 ms apart (no step of zero or less). After reset the first frame gets the
    whole move and the next frame's step is counted from it."""
    image, face = astronaut
    shut = squint(face, 0.2)

    def easing(times, fade=0.3):
        corrector = WarpCorrector(mode="shift", shift=(0.16, 0.0), smooth_cutoff=0.0, rim_check=False,
                                  hold_frames=0, fade=fade)
        shares = []
        for f, t in zip([face, shut, shut], times):
            corrector.correct_frame(image, f, 1.0, image.copy(), t=t)
            shares.append(corrector.last_move[0] / 0.16)
        corrector.reset()
        for f, t in zip([face, shut], times):
            corrector.correct_frame(image, f, 1.0, image.copy(), t=t)
            shares.append(corrector.last_move[0] / 0.16)
        return shares

    np.testing.assert_allclose(easing([5.0, 5.1, 5.2]), [1, 2 / 3, 1 / 3, 1, 2 / 3], atol=1e-9)
    np.testing.assert_allclose(easing([None] * 3), [1, 8 / 9, 7 / 9, 1, 8 / 9], atol=1e-9)
    np.testing.assert_allclose(easing([2.0, 2.0, 2.0], fade=0.01), [1, 0.9, 0.8, 1, 0.9], atol=1e-9)


def test_a_shut_eye_after_reset_is_left_alone(astronaut):
    """After a stream with a move, reset and shut eyes: nothing held from before, the frame is
    left alone (as the first frame of any stream with shut eyes)."""
    image, face = astronaut
    corrector = WarpCorrector(mode="shift", shift=(0.08, 0.0), smooth_cutoff=0.0, rim_check=False)
    corrector.correct_frame(image, face, 1.0, image.copy(), t=0.0)
    corrector.reset()
    out = image.copy()
    for i in range(8):
        assert not corrector.correct_frame(image, squint(face, 0.2), 1.0, out, t=0.1 + i / 30)
        assert corrector.last_refusal == "eye_closed"
    assert np.array_equal(out, image)


def test_a_lower_lid_that_took_the_larger_share_settles_back_over_follow_settle(astronaut):
    """A lift of 0.16 made in full only with the lower lid taking its larger share (0.55 of the
    lift, against the usual 0.3); then half of it, which the usual share allows. The lower lid
    returns to its usual share linearly over follow_settle (0.5 s): its share is 0.55 less
    (0.55 - 0.3) * dt / 0.5 after each frame, so each frame's output is what a corrector whose
    lower lid always takes that share makes, and after 0.5 s what the default makes."""
    image, face = astronaut

    def output(strength, t=None, corrector=None, lower=None):
        if corrector is None:
            shape = FieldShape() if lower is None else FieldShape(lower_follow=lower)
            corrector = WarpCorrector(mode="shift", shift=(0.0, -0.16), smooth_cutoff=0.0, rim_check=False,
                                      shape=shape)
        out = image.copy()
        assert corrector.correct_frame(image, face, strength, out, t=t)
        return out

    # What this test needs: the whole lift made, which the usual share alone cannot give.
    plain = WarpCorrector(mode="shift", shift=(0.0, -0.16), smooth_cutoff=0.0, rim_check=False,
                          shape=FieldShape(lower_follow_low_iris=0.3))
    assert lift(plain, image, face, None) < 0.15
    assert lift(WarpCorrector(mode="shift", shift=(0.0, -0.16), smooth_cutoff=0.0, rim_check=False),
                image, face, None) == pytest.approx(0.16)
    stream = WarpCorrector(mode="shift", shift=(0.0, -0.16), smooth_cutoff=0.0, rim_check=False)
    output(1.0, 0.0, stream)
    share = 0.55
    for t, dt in ((0.05, 0.05), (0.25, 0.2), (0.35, 0.1), (0.45, 0.1)):
        share -= 0.25 * dt / 0.5
        assert not np.array_equal(output(0.5, lower=share), output(0.5))  # the share shows on the output
        assert np.array_equal(output(0.5, t, stream), output(0.5, lower=share)), t
    # 0.325 - 0.25 * 0.1 / 0.5 is under 0.3: back to the usual share, and it stays there
    assert np.array_equal(output(0.5, 0.55, stream), output(0.5))
    assert np.array_equal(output(0.5, 0.65, stream), output(0.5))


def test_one_narrow_eye_sets_both_eyes_move_whichever_eye_is_built_first(astronaut):
    """One eye narrowed (the other open) and a lift of 0.14 asked, more than the narrow eye gives:
    both eyes make the same, smaller lift, whether the narrow eye is the one the corrector builds
    first or second. In a stream the eye that held the move back last is built first: after a
    frame where the other eye was the narrower, the lift is the same as on a fresh stream, and
    stays so on the next frame (10 s apart: no cap to grow back from)."""
    image, face = astronaut

    def one_narrow(eye, k):
        points = face.points.copy()
        idx = list(EYE_CONTOURS[eye])
        mid = points[idx, 1].mean()
        points[idx, 1] = mid + (points[idx, 1] - mid) * k
        return type(face)(points, face.blendshapes, face.pose)

    def warp():
        return WarpCorrector(mode="shift", shift=(0.0, -0.14), smooth_cutoff=0.0, rim_check=False)

    fresh = {eye: lift(warp(), image, one_narrow(eye, 0.6), 0.0) for eye in range(2)}
    assert all(0.05 < made < 0.14 - 0.02 for made in fresh.values()), fresh  # capped by the narrow eye
    stream = warp()
    before = lift(stream, image, one_narrow(1, 0.45), 0.0)
    assert before < fresh[0] - 0.01  # the other eye held it back more
    assert lift(stream, image, one_narrow(0, 0.6), 10.0) == pytest.approx(fresh[0], abs=1e-9)
    assert lift(stream, image, one_narrow(0, 0.6), 20.0) == pytest.approx(fresh[0], abs=1e-9)
    assert lift(stream, image, one_narrow(1, 0.6), 30.0) == pytest.approx(fresh[1], abs=1e-9)


def test_a_move_no_eye_can_give_any_of_leaves_the_frame_alone(astronaut):
    """A lift of two eye widths (the cap on the move raised out of the way) on narrowed eyes: not
    even a sixteenth of it keeps the map fold-free, so nothing moves: the frame is untouched and
    no move is reported, for either eye."""
    image, face = astronaut
    corrector = WarpCorrector(mode="shift", shift=(0.0, -2.0), smooth_cutoff=0.0, rim_check=False, max_shift=10.0)
    out = image.copy()
    assert not corrector.correct_frame(image, squint(face, 0.45), 1.0, out)
    assert np.array_equal(out, image)
    assert np.array_equal(corrector.last_move, [0.0, 0.0])
    assert all(np.array_equal(p.made, [0.0, 0.0]) for p in corrector.last_plans)
    # the same eyes do move for a lift they can give (the refusal above is about the size)
    assert WarpCorrector(mode="shift", shift=(0.0, -0.05), smooth_cutoff=0.0, rim_check=False).correct_frame(
        image, squint(face, 0.45), 1.0, out)


def test_a_fresh_corrector_reports_nothing_done():
    """Before its first frame a corrector reports no plans, no move, no refusal, no measurement
    (the eval report and calibration read these)."""
    corrector = WarpCorrector()
    assert corrector.last_plans == [] and corrector.last_refusal == "" and corrector.last_measured is None
    assert corrector.last_move.shape == (2,) and not corrector.last_move.any()


def test_the_plan_has_one_entry_per_eye_none_for_an_eye_under_six_pixels(astronaut):
    """Per eye: None for an eye under 6 pixels wide (eye 0's corners and contour squeezed
    towards their middle to 5.5 px; at 6.5 px it is planned), no fit and no move needed for an
    eye shut (under min_openness), while the other eye is planned as usual."""
    image, face = astronaut

    def narrowed(width):
        points = face.points.copy()
        idx = sorted(set(EYE_CONTOURS[0]) | set(EYE_CORNERS[0]))
        a, b = points[list(EYE_CORNERS[0]), :2]
        mid, now = (a + b) / 2, float(np.hypot(*(b - a)))
        points[idx, :2] = mid + (points[idx, :2] - mid) * (width / now)
        return type(face)(points, face.blendshapes, face.pose)

    corrector = WarpCorrector(rim_check=False)
    small = corrector.plan(image, narrowed(5.5))
    assert len(small) == 2 and small[0] is None and small[1] is not None and small[1].fit is not None
    assert not corrector.correct_frame(image, narrowed(5.5), 1.0, image.copy())
    assert corrector.last_refusal == "eye_too_small"
    planned = corrector.plan(image, narrowed(6.5))
    assert planned[0] is not None and planned[0].width == pytest.approx(6.5, abs=1e-3)
    # With no neutral offset and no head-turn term the target is the corners' midpoint.
    centred = WarpCorrector(neutral=(0.0, 0.0), turn_gain=0.0, rim_check=False).plan(image, face)
    for eye in range(2):
        corners = face.points[list(EYE_CORNERS[eye]), :2]
        np.testing.assert_allclose(centred[eye].target, corners.mean(0), atol=1e-3)

    points = face.points.copy()
    idx = list(EYE_CONTOURS[0])
    mid = points[idx, 1].mean()
    points[idx, 1] = mid + (points[idx, 1] - mid) * 0.2
    half_shut = type(face)(points, face.blendshapes, face.pose)
    assert half_shut.openness(0) < 0.15 < half_shut.openness(1)
    plans = corrector.plan(image, half_shut)
    assert plans[0].fit is None and np.array_equal(plans[0].need, [0.0, 0.0])
    assert plans[1].fit is not None


def test_offset_and_bias_move_the_target_and_the_move_by_what_they_say(astronaut):
    """Lock mode, unsmoothed: a target offset of 0.03 eye widths towards the temple adds 0.03 to
    what each eye needs aside, so to the measured move; a bias (the move measured while looking
    at the camera) of (0.02, 0.01) is taken off the move made. Iris settings that trust no iris
    (a contrast no eye has) leave the eyes alone."""
    image, face = astronaut

    def run(**options):
        corrector = WarpCorrector(mode="lock", smooth_cutoff=0.0, rim_check=False, **options)
        corrector.correct_frame(image, face, 1.0, image.copy())
        return corrector

    plain = run()
    assert plain.last_measured is not None and np.hypot(*plain.last_measured) > 0.02
    shifted = run(offset=(0.03, 0.0))
    np.testing.assert_allclose(shifted.last_measured - plain.last_measured, [0.03, 0.0], atol=1e-6)  # float32 target
    np.testing.assert_allclose(run(bias=(0.02, 0.01)).last_move, plain.last_move - [0.02, 0.01], atol=1e-9)
    from livegaze.irisfit import IrisFitConfig
    blind = run(iris=IrisFitConfig(min_contrast=256.0))
    assert blind.last_measured is None and blind.last_refusal == "iris_not_found"


def test_the_move_is_smoothed_by_a_one_euro_filter_with_the_configured_settings(astronaut):
    """The move asked changes from frame to frame (shift mode, frames 0.05 s apart): the move made
    is the One Euro filter's output (livegaze.smoothing) for smooth_cutoff and smooth_beta,
    applied to the moves asked, the first frame taken whole."""
    from livegaze.smoothing import OneEuro

    image, face = astronaut
    asked = [(0.02, 0.0), (0.08, 0.0), (0.08, 0.0), (0.03, 0.0), (0.06, 0.0)]
    corrector = WarpCorrector(mode="shift", smooth_cutoff=0.7, smooth_beta=3.0, rim_check=False)
    reference = OneEuro(0.7, 3.0)
    for i, move in enumerate(asked):
        corrector.config.shift = move
        corrector.correct_frame(image, face, 1.0, image.copy(), t=i * 0.05)
        np.testing.assert_allclose(corrector.last_move, reference(np.array(move), 0.05), atol=1e-9)
    assert corrector.last_move[0] not in (0.03, 0.06)  # smoothed, not the move asked


def test_on_a_tilted_head_a_lift_moves_the_iris_square_to_the_eye_s_corner_line():
    """The astronaut turned 25 degrees in the picture (and doubled, eyes about 37 px wide), its
    landmarks found afresh: a lift of 0.1 eye widths moves each iris's own pixels (template
    matching) along the eye's up direction, square to the line through its corners, by most of
    the lift, and hardly along that line (a sign slip in turning the field into frame pixels
    would tilt the move by twice the head's tilt)."""
    import cv2
    from tests.livegaze.correctors.test_warp import _iris_shift

    base = cv2.resize(photo("astronaut"), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    h, w = base.shape[:2]
    image = cv2.warpAffine(base, cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0), (w, h), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT)
    with Landmarker() as lm:
        face = lm.detect(image, 0)
    corrector = WarpCorrector(mode="shift", shift=(0.0, -0.1), smooth_cutoff=0.0, rim_check=False)
    out = image.copy()
    assert corrector.correct_frame(image, face, 1.0, out)
    for eye in range(2):
        a, b = face.points[list(EYE_CORNERS[eye]), :2]
        along = (b - a) / np.hypot(*(b - a))
        along = along if along[0] > 0 else -along
        up = np.array([along[1], -along[0]])  # a quarter turn anticlockwise on screen (y down)
        assert abs(np.degrees(np.arctan2(along[1], along[0]))) > 10  # the tilt this test is about
        shift = _iris_shift(image, out, face, eye)
        lifted = 0.1 * face.eye_size(eye)[0]
        assert shift @ up > 0.6 * lifted and abs(shift @ along) < 0.1 * lifted, (eye, shift @ up, shift @ along)


def test_what_each_frame_reports_when_it_is_left_alone_and_when_it_is_warped_in_place(astronaut):
    """Strength 0 or no face: nothing planned, measured or moved. One eye shut (the other open):
    nothing moved, "eye_closed", no measurement. With no output given the frame is warped in
    place."""
    image, face = astronaut
    corrector = WarpCorrector(mode="shift", shift=(0.08, 0.0), smooth_cutoff=0.0, rim_check=False)
    for strength, f in ((0.0, face), (1.0, None)):
        assert not corrector.correct_frame(image, f, strength, image.copy())
        assert corrector.last_plans == [] and corrector.last_measured is None
        assert corrector.last_move.shape == (2,) and not corrector.last_move.any()

    points = face.points.copy()
    idx = list(EYE_CONTOURS[1])
    mid = points[idx, 1].mean()
    points[idx, 1] = mid + (points[idx, 1] - mid) * 0.2
    one_shut = type(face)(points, face.blendshapes, face.pose)
    out = image.copy()
    assert not WarpCorrector(smooth_cutoff=0.0, rim_check=False).correct_frame(image, one_shut, 1.0, out)
    corrector = WarpCorrector(smooth_cutoff=0.0, rim_check=False)
    assert not corrector.correct_frame(image, one_shut, 1.0, out)
    assert corrector.last_refusal == "eye_closed" and corrector.last_measured is None
    assert np.array_equal(out, image) and corrector.last_move.shape == (2,) and not corrector.last_move.any()

    frame = image.copy()
    assert WarpCorrector(mode="shift", shift=(0.08, 0.0), rim_check=False).correct_frame(frame, face, 1.0)
    assert not np.array_equal(frame, image)


def test_the_move_is_capped_at_max_shift_strength_at_one_and_a_fifth_of_a_pixel_is_not_made(astronaut):
    """A move of (0.3, -0.4) (length 0.5) with max_shift 0.1 is made as (0.06, -0.08): its
    direction kept, its length 0.1. A strength above 1 is taken as 1. A move of 0.005 eye
    widths on eyes about 18.5 px wide (0.09 px) is not made: the frame is left alone."""
    image, face = astronaut
    capped = WarpCorrector(mode="shift", shift=(0.3, -0.4), smooth_cutoff=0.0, rim_check=False, max_shift=0.1)
    assert capped.correct_frame(image, face, 1.0, image.copy())
    np.testing.assert_allclose(capped.last_move, [0.06, -0.08], atol=1e-12)
    strong = WarpCorrector(mode="shift", shift=(0.05, 0.0), smooth_cutoff=0.0, rim_check=False)
    assert strong.correct_frame(image, face, 1.5, image.copy())
    np.testing.assert_allclose(strong.last_move, [0.05, 0.0], atol=1e-12)
    tiny = WarpCorrector(mode="shift", shift=(0.005, 0.0), smooth_cutoff=0.0, rim_check=False)
    out = image.copy()
    assert not tiny.correct_frame(image, face, 1.0, out)
    assert np.array_equal(out, image)


def test_a_capped_move_aside_grows_back_at_cap_rise_too(astronaut):
    """A move aside (towards image right, positive) of 0.6 eye widths, capped on a squint, then
    on the open face: it grows back by cap_rise times the time step, as a lift does."""
    image, face = astronaut
    corrector = WarpCorrector(mode="shift", shift=(0.6, 0.0), smooth_cutoff=0.0, rim_check=False, max_shift=1.0)
    assert corrector.correct_frame(image, squint(face, 0.45), 1.0, image.copy(), t=0.0)
    first = corrector.last_move[0]
    assert 0.1 < first < 0.5  # capped
    for t in (1 / 30, 0.1):
        assert corrector.correct_frame(image, face, 1.0, image.copy(), t=t)
        assert corrector.last_move[0] == pytest.approx(first + 0.12 * t, abs=1e-9)


def test_the_eye_built_first_may_be_the_one_outside_the_picture(astronaut):
    """The picture cut between the eyes, the first eye's side cut off (landmarks moved with the
    cut): the other eye still makes the whole move, the one outside none."""
    image, face = astronaut
    cut = int(round((face.eye_centre(0)[0] + face.eye_centre(1)[0]) / 2))
    half = np.ascontiguousarray(image[:, cut:])
    points = face.points.copy()
    points[:, 0] -= cut
    moved = type(face)(points, face.blendshapes, face.pose)
    assert moved.eye_centre(0)[0] < 0 < moved.eye_centre(1)[0]
    corrector = WarpCorrector(mode="shift", shift=(0.08, 0.0), smooth_cutoff=0.0, rim_check=False)
    out = half.copy()
    assert corrector.correct_frame(half, moved, 1.0, out)
    outside, inside = corrector.last_plans
    assert np.array_equal(outside.made, [0.0, 0.0]) and np.allclose(inside.made, [0.08, 0.0], atol=1e-12)
    assert np.any(out != half)
