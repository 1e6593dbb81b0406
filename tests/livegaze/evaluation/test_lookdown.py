"""Screen-reading looks made from real camera-facing photos (real MediaPipe landmarks)."""
import math

import cv2
import numpy as np
import pytest

from livegaze.evaluation.clips import photo
from livegaze.evaluation.lookdown import ClipPlan, FacingFace, clip_frames, look_down
from livegaze.evaluation.quality import far_changes
from livegaze.stills import still_landmarker


@pytest.fixture(scope="module", params=["grace_hopper", "astronaut"])
def portrait(request):
    """A packaged photo at three times its size (more pixels per iris to find a move in), with
    MediaPipe's landmarks on it."""
    image = photo(request.param)
    image = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    with still_landmarker() as lm:
        return image, lm.detect(image)


def test_the_iris_turns_down_and_the_upper_lid_follows(portrait):
    """15 degrees down: each iris moves down by 0.4 x sin(15) eye widths (its dark pixels,
    looked for in the output, not taken from the generator); the upper lid's margin drops by
    most of that (the strip read also holds skin above the margin, which moves less); nothing changes more than one eye width from the eyes."""
    image, face = portrait
    out = look_down(image, face, 15.0)
    gray_in, gray_out = (cv2.cvtColor(x, cv2.COLOR_BGR2GRAY).astype(float) for x in (image, out))
    want = 0.4 * math.sin(math.radians(15))
    for eye in range(2):
        width = face.eye_size(eye)[0]
        contour = face.eye_contour(eye)
        centre, radius = face.iris(eye)
        cx, cy = np.round(centre).astype(int)
        # A band across the iris's middle; its dark pixels (not the catchlights, which move
        # less) compared with the output at each downward shift.
        tall, wide = int(0.3 * radius), int(0.8 * radius)
        patch = gray_in[cy - tall:cy + tall + 1, cx - wide:cx + wide + 1]
        dark = patch < np.median(patch) + 25

        def cost(dy):
            return np.median(np.abs(gray_out[cy - tall + dy:cy + tall + 1 + dy, cx - wide:cx + wide + 1] - patch)[dark])

        found = min(range(int(0.3 * width)), key=cost)
        assert abs(found - want * width) <= 1.5, (eye, found / width, want)
        # The upper lid at mid-lid: the shift that best lays the input's lid margin (a strip of
        # rows around it, in a narrow column beside the pupil) onto the output.
        x = int(round(centre[0] + 0.35 * radius))
        y_lid = int(round(contour[1:8, 1].min()))
        rows = np.arange(y_lid - int(0.08 * width), y_lid + int(0.04 * width))
        strip = gray_in[rows, x - 1:x + 2]
        shifts = np.arange(0, int(0.2 * width) + 1)
        lid = [np.abs(gray_out[rows + s, x - 1:x + 2] - strip).mean() for s in shifts]
        lid_drop = shifts[int(np.argmin(lid))] / width
        assert 0.5 * want < lid_drop < 1.3 * want, (eye, lid_drop, want)
    assert far_changes(image, out, [face]) == [0]


def test_a_clip_keeps_its_truth_in_step(portrait):
    """Input and truth frames share the head motion and the sensor noise: they differ only
    around the eyes."""
    image, face = portrait
    person = FacingFace("portrait", image, face)
    for look, truth, m in clip_frames(person, ClipPlan([12.0] * 3, seed=4, noise=3.0)):
        differs = np.any(look != truth, axis=2)
        ys, xs = np.nonzero(differs)
        eyes = np.array([face.eye_centre(0), face.eye_centre(1)]) @ m[:, :2].T + m[:, 2]
        width = face.eye_size(0)[0] * m[0, 0]
        near = np.min(np.hypot(xs[:, None] - eyes[None, :, 0], ys[:, None] - eyes[None, :, 1]), axis=1)
        assert len(xs) > 0 and near.max() < 1.2 * width
