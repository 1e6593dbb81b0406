"""Look-away gating over time: fades, hysteresis, blinks, and a face lost and found.

The landmarks are MediaPipe's on a real photo; head turns set the pose matrix's rotation, gaze
moves shift the iris points, blinks squash the lids: each a known truth.
"""
import numpy as np
import pytest

from livegaze.frames import Frame, Outcome
from livegaze.gate import Gate, GateConfig, gaze_angle
from livegaze.landmarks import BLINK_NAMES, EYE_CONTOURS, EYE_LIDS, IRIS_CENTRES, IRIS_RINGS, Landmarker
from livegaze.processor import FrameProcessor
from livegaze.evaluation.clips import ClipSpec, iter_frames, photo


# Anatomy, not the module's constant: an adult eyeball's radius (about 12 mm) over the eye
# opening's width (about 30 mm). An iris turned by a degrees moves RADIUS * sin(a) eye widths.
RADIUS = 12 / 30


def smoothstep_share(angle, full, none):
    """The documented fade worked by hand: 1 up to `full`, 0 from `none`, 1 - (3t^2 - 2t^3)."""
    t = min(max((angle - full) / (none - full), 0.0), 1.0)
    return 1 - (3 * t * t - 2 * t ** 3)


@pytest.fixture(scope="module")
def face():
    with Landmarker() as lm:
        return lm.detect(photo("astronaut"), 0)


def turned(face, yaw=0.0, pitch=0.0):
    a, b = np.radians(yaw), np.radians(pitch)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    pose = face.pose.copy()
    pose[:3, :3] = ry @ rx
    return type(face)(face.points.copy(), dict(face.blendshapes), pose)


def looking(face, dx):
    """The irises moved sideways by dx eye widths from where the photo has them."""
    points = face.points.copy()
    for eye in range(2):
        width = face.eye_size(eye)[0]
        idx = [IRIS_CENTRES[eye], *IRIS_RINGS[eye]]
        points[idx, 0] += dx * width
    return type(face)(points, dict(face.blendshapes), face.pose)


def blinking(face, openness_scale, eyes=(0, 1)):
    points = face.points.copy()
    for eye in eyes:
        idx = list(EYE_CONTOURS[eye])
        mid = points[idx, 1].mean()
        points[idx, 1] = mid + (points[idx, 1] - mid) * openness_scale
    return type(face)(points, dict(face.blendshapes), face.pose)


def test_head_turn_fades_between_the_thresholds(face):
    gate = Gate()
    shares = {}
    for yaw in (0, 10, 14, 20, 24, 26, 40):
        gate.reset()
        shares[yaw] = gate.target(turned(face, yaw=yaw))[0]
    assert shares[0] == shares[10] == shares[14] == 1.0
    assert 0.0 < shares[24] < shares[20] < 1.0
    for yaw in (20, 24):  # the defaults: full to 15 degrees, none from 25
        assert shares[yaw] == pytest.approx(smoothstep_share(yaw, 15, 25), abs=0.01), (yaw, shares[yaw])
    assert shares[26] == shares[40] == 0.0
    gate.reset()
    assert gate.target(turned(face, pitch=-30))[1] == "head_turned"


def test_gaze_far_from_the_camera_is_left_alone(face):
    """Reading the screen (about 15 degrees) is corrected; a glance 25 degrees away gets part of
    it; looking 35 degrees away gets none."""
    base = gaze_angle(face)
    assert base < 8  # the photo looks into the camera
    gate = Gate()
    shares = []
    for degrees in (15, 25, 35):
        gate.reset()
        shares.append(gate.target(looking(face, RADIUS * np.sin(np.radians(degrees))))[0])
    assert shares[0] == 1.0 and 0 < shares[1] < 1 and shares[2] == 0.0


def test_a_slow_noisy_head_turn_does_not_flap(face):
    """Yaw 0 -> 35 -> 0 over 140 frames with +-1.5 degrees of landmark noise: the strength turns
    around once (down, then up), and never steps by more than one easing step."""
    rng = np.random.default_rng(1)
    yaws = np.concatenate([np.linspace(0, 35, 70), np.linspace(35, 0, 70)]) + rng.uniform(-1.5, 1.5, 140)
    gate = Gate()
    for _ in range(6):  # the stream has settled at full correction before the turn
        gate.update(turned(face, yaw=0.0))
    shares = [gate.update(turned(face, yaw=y))[0] for y in yaws]
    steps = np.diff(shares)
    assert np.abs(steps).max() <= 1 / gate.config.ease_frames + 1e-9
    directions = np.sign(steps[np.abs(steps) > 1e-6])
    reversals = int(np.sum(directions[1:] != directions[:-1]))
    assert reversals <= 1, reversals
    assert min(shares) == 0.0 and shares[-1] == 1.0
    # Without hysteresis and easing the same turn flaps.
    flappy = Gate(GateConfig(hysteresis=0.0, ease_frames=1))
    flappy.update(face)
    raw = np.array([flappy.update(turned(face, yaw=y))[0] for y in yaws])
    d = np.sign(np.diff(raw)[np.abs(np.diff(raw)) > 1e-6])
    assert np.sum(d[1:] != d[:-1]) > 1


def test_a_blink_passes_through_and_eases_back_in(face):
    """Closed frames get no correction at all (the lids hide the iris, so dropping it shows
    nothing); after the eyes open the strength rises by at most a quarter per frame."""
    gate = Gate()
    for _ in range(6):
        gate.update(face)
    assert gate.share == 1.0
    sequence = [blinking(face, 0.3), blinking(face, 0.1), blinking(face, 0.1)] + [face] * 6
    shares = [gate.update(f)[0] for f in sequence]
    assert shares[:3] == [0.0, 0.0, 0.0]
    assert shares[3:] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    gate.reset()
    assert gate.target(blinking(face, 0.1))[1] == "eyes_closed"


@pytest.mark.parametrize("eye", [0, 1])
def test_one_closed_eye_is_a_closed_face(face, eye):
    """A wink or one eye's blink: the closed eye's iris is hidden, so the face gets no correction,
    whether the lids say so or MediaPipe's blink score for that eye does."""
    gate = Gate()
    assert gate.target(face) == (1.0, None)
    assert gate.target(blinking(face, 0.1, eyes=(eye,))) == (0.0, "eyes_closed")
    scored = type(face)(face.points.copy(), {**face.blendshapes, BLINK_NAMES[eye]: 0.9}, face.pose)
    assert gate.target(scored) == (0.0, "eyes_closed")
    half = type(face)(face.points.copy(), {**face.blendshapes, BLINK_NAMES[eye]: 0.4}, face.pose)
    assert gate.target(half) == (1.0, None)  # a half-lowered lid is still an open eye


@pytest.mark.parametrize("eye", [0, 1])
def test_in_a_stream_an_eye_well_below_its_usual_opening_is_closed(face, eye):
    """MediaPipe can read the first frame of a blink as still open (above min_openness). In a
    stream an eye is also closed once its opening is under `closing` (0.8) of its usual one (a
    high quantile of its recent openings, so a few narrower frames do not lower it), after at
    least 5 frames; an eye a tenth narrower than usual is open, and a photo, with no history, is
    judged on min_openness."""
    three_quarters = blinking(face, 0.75, eyes=(eye,))
    assert three_quarters.openness(eye) > GateConfig().min_openness  # the fixed threshold alone misses it
    gate = Gate()
    assert [gate.update(three_quarters)[1] for _ in range(5)] == [None] * 5  # no usual opening yet
    gate.reset()
    for _ in range(5):
        gate.update(face)
    assert gate.update(three_quarters)[1] == "eyes_closed"  # five frames are enough
    gate.reset()
    for f in [blinking(face, 0.7)] * 2 + [face] * 10:  # two narrow frames first: not the usual
        gate.update(f)
    glance = blinking(face, 0.85)
    assert [gate.update(glance) for _ in range(3)] == [(1.0, None)] * 3
    assert gate.update(three_quarters) == (0.0, "eyes_closed")
    assert gate.update(face) == (0.25, None)  # eases back in, as after any blink
    assert Gate().target(three_quarters) == (1.0, None)
    gate.update(None)  # the face left: the next one may be someone with narrower eyes
    assert [gate.update(three_quarters)[1] for _ in range(8)] == [None] * 8


def test_the_usual_opening_is_that_of_the_last_ten_seconds(face):
    """Openings 300 frames back (10 s at 30 fps) are forgotten: after eyes a little narrower
    (0.85) for ten seconds, 0.7 of the old opening is 0.82 of the usual one, and open."""
    gate = Gate()
    for _ in range(100):
        gate.update(face)
    for _ in range(300):
        assert gate.update(blinking(face, 0.85))[1] is None
    assert gate.update(blinking(face, 0.7)) == (1.0, None)


def test_eyes_narrower_than_usual_for_more_than_three_frames_are_the_new_usual(face):
    """A blink is under-read on a frame or two at either end, its shut frames are closed by the
    fixed thresholds; narrow eyes that stay open are someone else's (a cut to another person) or
    a new light: three frames pass through, then they are corrected as usual."""
    other = blinking(face, 0.7)
    assert other.openness(0) > GateConfig().min_openness
    gate = Gate()
    for _ in range(10):
        gate.update(face)
    reasons = [gate.update(other)[1] for _ in range(12)]
    assert reasons == ["eyes_closed"] * 3 + [None] * 9
    gate.reset()
    for _ in range(10):
        gate.update(face)
    # Three under-read frames, a shut one (the fixed threshold), three more: all closed.
    blink = [other] * 3 + [blinking(face, 0.1)] + [other] * 3
    assert [gate.update(f)[1] for f in blink] == ["eyes_closed"] * 7


def test_an_opening_exactly_at_the_usual_share_is_open(face):
    """'Under' `closing` of the usual opening: exactly at it is open. Lids straight above each
    other (no sideways offset), so the openings' ratio is exactly a half."""
    def lids(height):
        points = face.points.copy()
        for upper, lower in EYE_LIDS:
            points[[upper, lower], 0] = 300.0
            points[upper, 1], points[lower, 1] = 200.0 - height / 2, 200.0 + height / 2
        return type(face)(points, dict(face.blendshapes), face.pose)

    gate = Gate(GateConfig(closing=0.5, min_openness=0.0))
    for _ in range(10):
        gate.update(lids(16.0))
    assert gate.update(lids(8.0)) == (1.0, None)
    assert gate.update(lids(7.5))[1] == "eyes_closed"


def test_the_usual_opening_rule_can_be_switched_off_and_is_range_checked(face):
    gate = Gate(GateConfig(closing=0.0))
    for _ in range(10):
        gate.update(face)
    assert gate.update(blinking(face, 0.6)) == (1.0, None)  # 0.6 of 0.36: still above 0.18
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="gate.closing"):
            Gate(GateConfig(closing=bad))


def test_face_lost_and_found_fade_through_the_processor():
    """A real clip with two faceless frames in the middle: the lost frames are still corrected
    where the face was, at falling strength; the found face eases back in; strength never
    steps by more than a quarter."""
    frames = [f for f, _, _, _ in iter_frames(ClipSpec(frames=16, photos=("astronaut",), motion="still",
                                                       gaze=(0.1, 0.1)))]
    blank = np.full_like(frames[0], 90)
    frames[8] = frames[9] = blank
    processor = FrameProcessor([Landmarker()], None)
    from livegaze.correctors import create
    processor.set_corrector(create("warp"))
    strengths, statuses = [], []
    try:
        for i, image in enumerate(frames):
            frame = Frame(seq=i + 1, t_capture=i / 30, image=image, original=image)
            processor.process(frame)
            worked = frame.outcome in (Outcome.CORRECTED, Outcome.UNCHANGED)  # past the gate
            strengths.append(frame.strength if worked else 0.0)
            statuses.append(frame.status)
    finally:
        processor.close()
    assert strengths[:5] == [0.25, 0.5, 0.75, 1.0, 1.0]  # found: eased in
    assert strengths[8] == 0.75 and strengths[9] == 0.5  # lost: held and eased out
    assert statuses[8] in ("corrected", "unchanged") and statuses[9] in ("corrected", "unchanged")
    assert strengths[10] == 0.75 and strengths[11] == 1.0  # found again
    assert np.abs(np.diff(strengths)).max() <= 0.25 + 1e-9


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match="--head-full 30"):
        Gate(GateConfig(head_full=30, head_none=25))


def test_the_gaze_angle_is_image_checked():
    """Irises moved 0.1 eye widths aside (14 degrees) on both packaged photos: MediaPipe's points
    see a fraction of it; the image-checked irises (the warp's limbus fit) see most of it."""
    from livegaze.irisfit import IrisFinder
    from livegaze.evaluation.quality import avert

    truth = np.degrees(np.arcsin(0.1 / RADIUS))
    plain, checked = [], []
    for name in ("astronaut", "grace_hopper"):
        with Landmarker() as lm:
            original = lm.detect(photo(name), 0)
        image = avert(photo(name), original, (0.1, 0.0))
        with Landmarker() as lm:
            moved = lm.detect(image, 0)
        plain.append(abs(gaze_angle(moved) - truth))
        checked.append(abs(gaze_angle(moved, image, IrisFinder()) - truth))
    assert np.mean(checked) < 6 and np.mean(checked) < np.mean(plain) - 3, (plain, checked)


@pytest.mark.parametrize("settings, ok", [
    (dict(gaze_full=0, gaze_none=10), True), (dict(head_full=0, head_none=90), True),
    (dict(gaze_full=10, gaze_none=10), False), (dict(head_full=10, head_none=90.5), False),
    (dict(gaze_full=-1, gaze_none=10), False),
    (dict(hysteresis=0), True), (dict(hysteresis=19.9), True), (dict(hysteresis=20), False),
    (dict(hysteresis=20.5), False), (dict(ease_frames=1), True), (dict(ease_frames=60), True),
    (dict(ease_frames=61), False), (dict(ease_frames=0), False)])
def test_the_gate_settings_ranges(settings, ok):
    """Angles 0 <= full < none <= 90 degrees, hysteresis 0 to under 20 degrees, 1 to 60 easing
    frames; an error names the flag that is wrong."""
    if ok:
        Gate(GateConfig(**settings))
    else:
        flag = "--" + next(iter(settings)).replace("_", "-").replace("hysteresis", "gate-hysteresis")
        with pytest.raises(ValueError, match=flag):
            Gate(GateConfig(**settings))


def test_the_fade_is_a_step_when_its_ends_meet():
    """smooth_fade with end <= start: 1 up to and at start, 0 past it."""
    from livegaze.gate import smooth_fade

    assert [smooth_fade(v, 10, 10) for v in (5, 10, 10.5)] == [1.0, 1.0, 0.0]
    assert [smooth_fade(v, 10, 8) for v in (9, 10, 11)] == [1.0, 1.0, 0.0]
    assert smooth_fade(15, 10, 20) == 0.5


def test_a_gaze_past_the_eyeball_is_ninety_degrees(face):
    """Irises moved further than an eyeball's radius (a mis-detection): 90 degrees, no error."""
    assert gaze_angle(looking(face, 0.6)) == pytest.approx(90.0)


def test_looking_away_with_the_head_straight_says_so(face):
    gate = Gate()
    assert gate.target(looking(face, RADIUS * np.sin(np.radians(40)))) == (0.0, "looking_away")
    assert gate.target(turned(face, yaw=40)) == (0.0, "head_turned")


def test_a_still_photo_gets_no_hysteresis_even_after_a_stream(face):
    """target() without stream: the angle as it is now, whatever the stream held (a stream
    held at 40 degrees would read 23 through the 3-degree hysteresis)."""
    gate = Gate()
    for _ in range(3):
        gate.update(turned(face, yaw=40))
    assert gate.target(turned(face, yaw=20))[0] == pytest.approx(smoothstep_share(20, 15, 25), abs=0.01)
    assert gate.target(turned(face, yaw=20), stream=True)[0] < 0.2


def test_reset_starts_the_easing_and_the_hysteresis_over(face):
    gate = Gate()
    for _ in range(6):
        gate.update(turned(face, yaw=40))
    gate.update(face)
    gate.reset()
    assert gate.update(face) == (0.25, None)
    assert gate.update(turned(face, yaw=20))[0] == 0.5  # eased; no stream history held 40


def test_switching_off_eases_out(face):
    gate = Gate()
    for _ in range(6):
        gate.update(face)
    shares = [gate.update(face, enabled=False) for _ in range(5)]
    assert shares == [(0.75, "disabled"), (0.5, "disabled"), (0.25, "disabled"), (0.0, "disabled"),
                      (0.0, "disabled")]


def test_the_closed_eye_thresholds_are_strict(face):
    """An eye exactly at min_openness, or with a blink score exactly blink_closed, is open
    ("below" and "above" the thresholds close it)."""
    at = min(face.openness(0), face.openness(1))
    assert Gate(GateConfig(min_openness=at)).target(face) == (1.0, None)
    scored = type(face)(face.points.copy(), {**face.blendshapes, BLINK_NAMES[0]: 0.5}, face.pose)
    assert Gate().target(scored) == (1.0, None)


def test_the_gate_measures_the_gaze_on_the_image_when_it_has_it():
    """Irises moved 0.2 eye widths aside (30 degrees by the eyeball's radius): given the image,
    the gate sees most of it (as gaze_angle with an iris finder does) and fades the correction
    part way, on target and on update; MediaPipe's points alone see too little to fade."""
    from livegaze.evaluation.quality import avert
    from livegaze.irisfit import IrisFinder

    with Landmarker() as lm:
        original = lm.detect(photo("astronaut"), 0)
    image = avert(photo("astronaut"), original, (0.2, 0.0))
    with Landmarker() as lm:
        moved = lm.detect(image, 0)
    checked = gaze_angle(moved, image, IrisFinder())
    gate = Gate()
    assert gate.angles(moved, image)[0] == pytest.approx(checked, abs=1e-6)
    assert gaze_angle(moved) < 20 < checked < 30 and max(np.abs(moved.head_angles())) < 15  # this case
    expected = smoothstep_share(checked, 20, 30)
    assert gate.target(moved) == (1.0, None)
    assert gate.target(moved, image=image)[0] == pytest.approx(expected, abs=1e-6)
    gate.share = 1.0
    assert gate.update(moved, image=image)[0] == pytest.approx(max(expected, 0.75), abs=1e-6)


@pytest.mark.parametrize("drop, ok", [(0.0, True), (0.49, True), (0.5, False), (-0.01, False)])
def test_the_lid_drop_setting_is_range_checked(drop, ok):
    if ok:
        Gate(GateConfig(lid_drop=drop))
    else:
        with pytest.raises(ValueError, match="gate.lid_drop"):
            Gate(GateConfig(lid_drop=drop))


def test_lids_well_below_their_usual_place_pass_through_at_once_unless_switched_off():
    """A stream of a real photo, then the same with the eye regions pushed 3 pixels down (the
    lids and eyes dropped, the brow in place; about 0.1 eye widths): from the second such frame
    the gate leaves the face alone at once (no easing), and with gate.lid_drop 0 it does not."""
    from livegaze.lids import USUAL_MIN
    from tests.livegaze.test_lids import lowered, webcam_still

    frame, face = webcam_still()
    low = lowered(frame, face, 3.0)
    for drop, passed in ((GateConfig().lid_drop, True), (0.0, False)):
        gate = Gate(GateConfig(lid_drop=drop))
        for _ in range(USUAL_MIN + 2):
            assert gate.update(face, image=frame)[1] is None
        first, second = gate.update(face, image=low), gate.update(face, image=low)
        if passed:
            assert first[0] == 1.0 and second == (0.0, Outcome.LOOKING_AWAY), (first, second)
        else:
            assert first == second == (1.0, None)
        assert gate.update(face, image=frame)[0] == pytest.approx(1.0 if not passed else 0.25)


def test_a_look_down_that_starts_as_closed_eyes_stays_passed_through(face):
    """A look down so deep that the closed-eye rules catch its first frames: the first frame the
    landmarks call open again, with the lids still low in the image, is left alone too (shut
    lids count as low lids), not corrected for one frame between."""
    from livegaze.lids import USUAL_MIN
    from tests.livegaze.test_lids import lowered

    frame = photo("astronaut")
    low = lowered(frame, face, 3.0)
    gate = Gate()
    for _ in range(USUAL_MIN + 2):
        gate.update(face, image=frame)
    assert gate.update(blinking(face, 0.2), image=low) == (0.0, Outcome.EYES_CLOSED)
    assert gate.update(face, image=low) == (0.0, Outcome.LOOKING_AWAY)


def test_a_look_past_the_screen_lasts_until_the_lids_are_well_back():
    """Hysteresis on the lids, as on the angles: lids read a little under the threshold (0.9
    pixels, about 0.03 eye widths) start no look past the screen, but once one has started
    (1.5 pixels, about 0.05) they keep it passed through; back at the usual place, the
    correction eases back in."""
    from livegaze.gate import LID_RELEASE
    from livegaze.lids import USUAL_MIN
    from tests.livegaze.test_lids import lowered, webcam_still

    frame, face = webcam_still()
    width = np.mean([face.eye_size(eye)[0] for eye in range(2)])
    nearly = 0.9
    assert LID_RELEASE * GateConfig().lid_drop < nearly / width < GateConfig().lid_drop
    gate = Gate()
    for _ in range(USUAL_MIN + 2):
        gate.update(face, image=frame)
    # From the usual place the same small drop is no look past the screen (the threshold holds
    # for a start), and one of about 0.05 is (not twice the threshold).
    start = [gate.update(face, image=lowered(frame, face, nearly)) for _ in range(4)]
    assert all(o == (1.0, None) for o in start), start
    assert GateConfig().lid_drop < 1.5 / width < 2 * GateConfig().lid_drop
    down = [gate.update(face, image=lowered(frame, face, 1.5)) for _ in range(3)]
    assert down[-1] == (0.0, Outcome.LOOKING_AWAY), down
    held = [gate.update(face, image=lowered(frame, face, nearly)) for _ in range(4)]
    assert all(o == (0.0, Outcome.LOOKING_AWAY) for o in held), held
    back = [gate.update(face, image=frame) for _ in range(4)]
    assert back[0][1] is None and back[-1] == (1.0, None), back
