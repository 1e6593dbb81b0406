"""livegaze.irisfit: the iris found in the eye's own pixels, on real face photos with irises moved by known amounts.

Truth: the photos look into the camera, so MediaPipe's iris point on the untouched photo is where
the iris is; `move_iris` (the geometric corrector's cut-and-paste, not the warp) moves it by a
known number of pixels.
"""
import cv2
import numpy as np
import pytest

from livegaze.irisfit import IrisFinder, eye_frame
from livegaze.landmarks import EYE_CORNERS, Landmarker
from livegaze.evaluation.clips import photo
from tests.conftest import moved_irises

SHIFTS = [(0.12, 0.0), (-0.12, 0.0), (0.1, 0.0), (-0.1, 0.0)]


def _faces():
    faces = {"astronaut": photo("astronaut"), "grace_hopper": photo("grace_hopper")}
    for name in ("obama", "obama_partial_face"):
        image = cv2.imread(f"../shared/media/{name}.jpg")
        if image is not None:
            faces[name] = image
    return faces


@pytest.fixture(scope="module")
def shifted():
    """(name, shift, image, landmarks on the shifted image, true iris centres)."""
    return [(name, shift, *moved_irises(image, shift))
            for name, image in _faces().items() for shift in SHIFTS]


def test_iris_fit_finds_the_moved_iris_where_mediapipe_does_not(shifted):
    """Sideways shifts, where MediaPipe under-reports: the refined centre is within 0.04 eye widths
    of the truth in most of the cases where MediaPipe's point is not, and rarely worse."""
    finder = IrisFinder()
    mp_wrong = fixed = broken = mp_right = 0  # a fit of None is "not found": the eye is left alone
    for name, shift, image, face, truth in shifted:
        for eye in range(2):
            corners = face.points[list(EYE_CORNERS[eye]), :2]
            width = face.eye_size(eye)[0]
            prior, radius = face.iris(eye)
            fit = finder.fit(image, face.eye_contour(eye), corners, prior, radius)
            mp_err = np.linalg.norm(prior - truth[eye]) / width
            fit_err = np.inf if fit is None else np.linalg.norm(fit.centre - truth[eye]) / width
            if mp_err > 0.04:
                mp_wrong += 1
                fixed += fit_err <= 0.04
            else:
                mp_right += 1
                broken += fit is not None and fit_err > 0.06
    assert mp_wrong >= 8, "the test set must contain cases MediaPipe gets wrong"
    assert fixed >= 0.65 * mp_wrong, (fixed, mp_wrong)
    assert broken <= 0.25 * mp_right, (broken, mp_right)


def test_iris_fit_refuses_a_closed_eye():
    image = photo("astronaut")
    with Landmarker() as lm:
        face = lm.detect(image, 0)
    eye = 0
    contour = face.eye_contour(eye)
    # Paint the opening with the surrounding skin: no iris, no sclera.
    skin = image[int(contour[:, 1].max()) + 6, int(contour[:, 0].mean())].tolist()
    shut = image.copy()
    cv2.fillPoly(shut, [np.round(contour).astype(np.int32)], skin)
    corners = face.points[list(EYE_CORNERS[eye]), :2]
    assert IrisFinder().fit(shut, contour, corners, *face.iris(eye)) is None


def test_eye_frame_is_scale_and_rotation_free():
    corners = np.array([[10.0, 20.0], [50.0, 50.0]])
    m, width = eye_frame(corners)
    assert width == pytest.approx(50.0)
    local = corners @ m[:, :2].T + m[:, 2]
    assert np.allclose(local, [[-0.5, 0], [0.5, 0]], atol=1e-9)


@pytest.mark.parametrize("name, shift, eye", [("obama_partial_face", (-0.1, 0.08), 0),
                                              ("obama_partial_face2", (0.12, 0.0), 1),
                                              ("obama_partial_face2", (0.1, 0.08), 1)])
def test_an_iris_pressed_into_a_corner_is_found_from_its_one_edge(name, shift, eye):
    """Moved into the eye's corner, the iris's dark run reaches the end of the opening: no sclera
    on that side, so no two-edged chord. The limbus on the open side, a radius from the centre,
    still places it where MediaPipe's point does not."""
    image = cv2.imread(f"../shared/media/{name}.jpg")
    if image is None:
        pytest.skip(f"../shared/media/{name}.jpg is not here (the shared media sit beside the clone)")
    moved, face, truth = moved_irises(image, shift)
    corners = face.points[list(EYE_CORNERS[eye]), :2]
    prior, radius = face.iris(eye)
    to_eye, _ = eye_frame(corners)
    fit = IrisFinder().fit(moved, face.eye_contour(eye), corners, prior, radius)

    def across(point):  # its error along the eye, in eye widths
        return float(to_eye[0, :2] @ (point - truth[eye]))

    assert abs(across(prior)) > 0.04  # MediaPipe's point is off
    assert fit is not None and fit.sides == 1 and fit.confidence <= 0.5
    assert abs(across(fit.centre)) <= 0.025


@pytest.mark.parametrize("name", ["obama3.jpg", "biden.jpg"])
def test_a_dim_face_s_irises_are_found_where_a_lit_one_s_are(name):
    """The photo at webcam size, darkened as in a dim room (gamma 1.8, 60% of the light) with
    sensor noise: the sclera-to-iris step drops under the lit-face threshold (17 and 8 grey
    levels, against 18), and unbrightened neither face's irises were found. Brightened to the
    skin's reference level first, both are, each within 0.04 eye widths of where the fit puts
    it on the clean photo."""
    image = cv2.imread(f"../shared/media/{name}")
    image = cv2.resize(image, (640, round(image.shape[0] * 640 / image.shape[1])), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(2)
    dim = np.clip(255 * (image / 255.0) ** 1.8 * 0.6 + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)
    finder = IrisFinder()
    with Landmarker() as lm:
        lit_face = lm.detect(image, 0)
    with Landmarker() as lm:
        dim_face = lm.detect(dim, 0)
    close = 0
    for eye in range(2):
        corners = list(EYE_CORNERS[eye])
        lit = finder.fit(image, lit_face.eye_contour(eye), lit_face.points[corners, :2], *lit_face.iris(eye))
        found = finder.fit(dim, dim_face.eye_contour(eye), dim_face.points[corners, :2], *dim_face.iris(eye))
        assert lit is not None
        if found is not None:
            close += np.linalg.norm(found.centre - lit.centre) / lit_face.eye_size(eye)[0] < 0.04
    assert close == 2, close
