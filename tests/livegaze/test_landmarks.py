import cv2
import numpy as np
import pytest

from livegaze.landmarks import Landmarker
from livegaze.evaluation.clips import PHOTOS, photo


@pytest.fixture(scope="module")
def landmarker():
    with Landmarker() as lm:
        yield lm


@pytest.mark.parametrize("name", PHOTOS)
def test_real_model_on_real_photos(landmarker, name):
    image = photo(name)
    face = landmarker.detect(image)
    assert face is not None and face.points.shape == (478, 3)
    for eye in range(2):
        centre, radius = face.iris(eye)
        poly = face.eye_contour(eye).astype(np.float32)
        assert cv2.pointPolygonTest(poly, tuple(map(float, centre)), False) >= 0  # iris inside the eyelids
        width, _ = face.eye_size(eye)
        assert 0.1 * width < radius < 0.45 * width
        assert 0.15 < face.openness(eye) < 0.6
    # eye 0 is on the image's left
    assert face.eye_centre(0)[0] < face.eye_centre(1)[0]
    assert {"eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft"} <= set(face.blendshapes)
    assert face.pose.shape == (4, 4)
    yaw, pitch = face.head_angles()
    assert abs(yaw) < 30 and abs(pitch) < 30


def test_no_face_gives_none(landmarker):
    assert landmarker.detect(np.full((240, 320, 3), 128, np.uint8)) is None


def test_largest_of_several_faces_wins():
    from livegaze.evaluation.clips import averted_photo
    big = cv2.resize(averted_photo("astronaut", (0.0, 0.0))[0], (380, 380))
    small = cv2.resize(averted_photo("grace_hopper", (0.0, 0.0))[0], (220, 220))
    canvas = np.full((480, 800, 3), 90, np.uint8)
    canvas[50:50 + big.shape[0], 350:350 + big.shape[1]] = big
    canvas[100:100 + small.shape[0], 40:40 + small.shape[1]] = small
    with Landmarker() as lm:
        face = lm.detect(canvas)
    assert face is not None and face.eye_centre(0)[0] > 350  # the astronaut, not the small face


def test_timestamps_need_not_increase(landmarker):
    image = photo("astronaut")
    assert landmarker.detect(image, 10) is not None
    assert landmarker.detect(image, 5) is not None  # bumped internally instead of failing
