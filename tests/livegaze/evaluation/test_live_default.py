"""The live default (warp, shift mode, through the gate) on a screen-reading clip made from a
real photo with real MediaPipe landmarks: lids following the eyes down, head motion, noise and
a blink; the same clip looking into the camera is the truth."""
import os

import numpy as np
import pytest

from livegaze.calibration import Calibration
from livegaze.evaluation.clips import head_box, photo
from livegaze.evaluation.livedefault import (BLINK, MEASURED, format_live, nudged, reading_plan, run_live,
                                             screen_shift)
from livegaze.evaluation.lookdown import ClipPlan, FacingFace, clip_frames
from livegaze.evaluation.quality import far_changes, fresh_landmarker, measure
from livegaze.frames import Outcome
from livegaze.gate import Gate
from livegaze.stills import still_landmarker


@pytest.fixture(scope="module")
def reading():
    with still_landmarker() as lm:
        image = photo("grace_hopper")
        person = FacingFace("grace_hopper", image, lm.detect(image))
    clip = list(clip_frames(person, reading_plan(20.0, seed=7)))
    return [c[0] for c in clip], [c[1] for c in clip]


def test_a_calibration_that_matches_gives_most_of_the_look_back(reading):
    """With the screen's own offset as its calibration, the eyes come closer to the truth's
    (MediaPipe's measure; medians over the measured frames) than with none (the default lift of
    0.08 for a screen 12 degrees down); no frame with the eyes shut is changed and
    nothing changes more than one eye width from the eyes."""
    inputs, truths = reading
    matched = run_live(inputs, Calibration(screen=screen_shift(20.0)))
    default = run_live(inputs, Calibration())
    with fresh_landmarker() as lm:
        truth_m = {i: measure(truths[i], lm) for i in MEASURED}
        offsets = {name: np.median([e.offset_mp for i in MEASURED for e in measure(img[i], lm, truth_m[i])])
                   for name, img in (("input", inputs), ("matched", [f.image for f in matched]),
                                     ("default", [f.image for f in default]))}
    # Today about 40% of this look comes back by MediaPipe's measure (the goal is 75%: see
    # docs/quality.md); the default lift of 0.08 is short of this 20-degree look's 0.137.
    assert offsets["matched"] < 0.75 * offsets["input"], offsets
    assert offsets["matched"] < offsets["default"], offsets
    for i in range(*BLINK):
        assert np.array_equal(matched[i].image, inputs[i]), i
    open_frames = [i for i in range(len(inputs)) if not BLINK[0] <= i < BLINK[1]]
    assert sum(matched[i].outcome is Outcome.CORRECTED for i in open_frames) >= len(open_frames) - 2
    assert sum(sum(far_changes(inputs[i], matched[i].image, [matched[i].face])) for i in open_frames) == 0


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_a_screen_reading_look_with_lids_following_is_not_closed_eyes(name):
    """Looks 8-20 degrees down, lids following: the gate gives (nearly) full strength, never
    'eyes closed'."""
    with still_landmarker() as lm:
        image = photo(name)
        person = FacingFace(name, image, lm.detect(image))
    from livegaze.landmarks import Landmarker
    for angle in (8.0, 14.0, 20.0):
        # A second of reading: long enough for the rule on the eyes' usual opening to act.
        frames = [c[0] for c in clip_frames(person, ClipPlan([angle] * 30, seed=3, noise=3.0, wander=1.0))]
        gate = Gate()
        with Landmarker() as lm:
            shares = [gate.target(lm.detect(f, i * 33), stream=True, image=f) for i, f in enumerate(frames)]
        assert all(share > 0.95 and why is None for share, why in shares), (angle, shares)


def test_the_first_frame_of_a_blink_passes_through_where_mediapipe_reads_it_open():
    """biden.jpg reading a screen 8 degrees down, a blink in the middle: on the blink's first
    frame MediaPipe reads both eyes still open (opening above 0.18, eyeBlink under 0.5), but the
    opening has dropped well below this person's usual one; no frame with the eyes shut is
    changed, and the reading frames around the blink are corrected."""
    import cv2

    from livegaze.evaluation.quality import shared_media_dir

    shared = shared_media_dir()
    if shared is None:
        pytest.skip("the shared media (biden.jpg) are not beside this checkout")
    image = cv2.imread(os.path.join(shared, "biden.jpg"))
    with still_landmarker() as lm:
        face = lm.detect(image)
        x0, y0, x1, y1 = head_box(face, image.shape)
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        person = FacingFace("biden", crop, lm.detect(crop))
    inputs = [c[0] for c in clip_frames(person, reading_plan(8.0, seed=408))]
    done = run_live(inputs, Calibration(screen=screen_shift(8.0)))
    first = done[BLINK[0]].face
    assert min(first.openness(0), first.openness(1)) > 0.18 and max(first.blink(0), first.blink(1)) < 0.5
    for i in range(*BLINK):
        assert np.array_equal(done[i].image, inputs[i]), i
    assert all(done[i].outcome is Outcome.CORRECTED for i in range(2, BLINK[0])), [f.outcome for f in done]


def gate_through(person, angles, seed=5, noise=3.0, wander=1.0):
    """(share, reason) per frame of a generated clip, through one stream's gate with the image,
    on the landmarks a live run tracks."""
    from livegaze.landmarks import Landmarker

    frames = [c[0] for c in clip_frames(person, ClipPlan(angles, seed=seed, noise=noise, wander=wander))]
    gate = Gate()
    with Landmarker() as lm:
        return [gate.update(lm.detect(f, i * 33), image=f) for i, f in enumerate(frames)]


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_a_look_down_at_the_keyboard_passes_through_and_reading_comes_back(name):
    """Reading a screen 15 degrees down (long enough for the usual look to be known), then a
    look at a keyboard 35 degrees down, lids following, then reading again: the keyboard look is
    left untouched from its second frame on, and the reading after it gets the strength it had
    before back within the gate's ease-in (astronaut.jpg's head reads about 16 degrees turned,
    so the head's fade gives it a little less than full)."""
    from livegaze.lids import USUAL_MIN

    with still_landmarker() as lm:
        image = photo(name)
        person = FacingFace(name, image, lm.detect(image))
    settle = USUAL_MIN + 10
    out = gate_through(person, [15.0] * settle + [35.0] * 6 + [15.0] * 8)
    reading = out[settle - 1]
    assert reading[0] > 0.8 and all(o == reading for o in out[settle - 10:settle]), out[settle - 10:settle]
    look = out[settle + 1:settle + 6]
    passed = (Outcome.LOOKING_AWAY, Outcome.EYES_CLOSED)
    assert all(share == 0.0 and why in passed for share, why in look), look
    assert out[-1] == reading, out[settle + 6:]


def test_a_keyboard_look_held_while_typing_stays_passed_through_and_reading_after_a_camera_look_is_corrected():
    """Two looks the lids alone must tell apart from reading, on real landmarks: a keyboard 35
    degrees down held for 3 s (typing) is left alone all along; and after 4 s looking into the
    camera, reading the screen again is corrected at once (the lids are back at their usual
    place, not below it)."""
    from livegaze.lids import HOLD_OUT, USUAL_MIN

    with still_landmarker() as lm:
        image = photo("grace_hopper")
        person = FacingFace("grace_hopper", image, lm.detect(image))
    settle = USUAL_MIN + 10
    out = gate_through(person, [15.0] * settle + [35.0] * HOLD_OUT + [0.0] * 120 + [15.0] * 10)
    typing = out[settle + 1:settle + HOLD_OUT]
    passed = (Outcome.LOOKING_AWAY, Outcome.EYES_CLOSED)  # a look that far down may read as closed
    assert all(share == 0.0 and why in passed for share, why in typing), \
        [(i, o) for i, o in enumerate(typing) if o[0] > 0 or o[1] not in passed]
    again = out[-8:]
    assert all(why is None and share > 0.8 for share, why in again), again


def test_reading_all_over_the_screen_is_never_a_look_past_it():
    """Ten seconds of reading random lines of a screen 8-20 degrees down (noise, head motion):
    once the usual look is known, no frame is taken for a look past the screen."""
    from livegaze.evaluation.livedefault import across_plan
    from livegaze.lids import USUAL_MIN

    with still_landmarker() as lm:
        image = photo("grace_hopper")
        person = FacingFace("grace_hopper", image, lm.detect(image))
    plan = across_plan(seed=2)
    assert min(plan.angles) == 8.0 and max(plan.angles) == 20.0
    out = gate_through(person, plan.angles, seed=2, noise=plan.noise, wander=plan.wander)
    assert not [i for i, (_, why) in enumerate(out) if i >= USUAL_MIN and why is Outcome.LOOKING_AWAY]


def test_nudged_moves_the_image_up_by_the_pixels_asked():
    """A whole-pixel nudge is a row shift (np.roll's rows, the last row repeated); a half-pixel
    one is the mean of the two neighbouring rows."""
    image = np.random.default_rng(3).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    one = nudged(image, 1.0)
    assert np.array_equal(one[:-1], image[1:])
    assert np.array_equal(one[-1], image[-1])
    half = nudged(image, 0.5).astype(int)
    assert np.abs(half[:-1] - (image[:-1].astype(int) + image[1:]) / 2).max() <= 1


def test_both_measures_read_a_known_move_of_the_truth(reading):
    """The truth moved 2 pixels up reads as about 2 pixels (in eye widths; medians over the
    measured frames' eyes) by MediaPipe and by the image estimate, and unmoved as nothing: the
    eval's resolution line rests on this."""
    _, truths = reading
    still, moved = [], []
    with fresh_landmarker() as lm:
        for i in MEASURED:
            truth = measure(truths[i], lm)
            still += [(m.offset_mp, m.offset_img) for m in measure(truths[i], lm, truth)]
            moved += [(m.offset_mp * t.width, m.offset_img * t.width)
                      for t, m in zip(truth, measure(nudged(truths[i], 2.0), lm, truth))]
    assert np.abs(still).max() < 1e-6
    mp, img = np.median(moved, axis=0)
    assert 1.0 <= mp <= 3.0, moved
    assert 1.0 <= img <= 3.0, moved


def test_the_resolution_line_sets_a_near_miss_against_the_offsets():
    """Half a pixel reading as half the median offset by each measure is 50% given back."""
    summary = {"mp": (0.05, 0.02, 60.0), "img": (0.06, 0.03, 50.0), "contrast_min": 0.9, "contrast_median": 1.0,
               "far": 0, "shut_changed": 0, "shut": 36, "closed": 0.0, "gated": 0.0, "back": 3, "clips": 12}
    result = {"summary": {"truth": summary}, "people": ["astronaut"], "flicker": 1.0, "half_pixel": (0.025, 0.015),
              "calibration_error": 0.01, "calibrations": 12, "refusals": [], "keyboard_passed": {(15.0, 35.0): 1.0},
              "across_left": 0.0, "again_left": 0.0}
    line = next(x for x in format_live(result).splitlines() if x.startswith("The measures' resolution"))
    assert "reads as 0.025 eye widths by MediaPipe and 0.015 by the image" in line
    assert line.endswith("can read as little as 50% / 75% given back.")
