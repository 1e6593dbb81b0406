"""livegaze.irisfit: the iris found in the eye's own pixels, on real face photos with irises moved by known amounts
(and, at the end, on drawn eyes).

Truth: the photos look into the camera, so MediaPipe's iris point on the untouched photo is where
the iris is; `move_iris` (the geometric corrector's cut-and-paste, not the warp) moves it by a
known number of pixels.
"""
import os

import cv2
import numpy as np
import pytest

from livegaze.irisfit import IrisFinder, IrisFitConfig, _edges, eye_frame
from livegaze.landmarks import EYE_CORNERS, Landmarker
from livegaze.evaluation.clips import photo
from livegaze.evaluation.quality import shared_media_dir
from tests.conftest import moved_irises, shared_photo

SHIFTS = [(0.12, 0.0), (-0.12, 0.0), (0.1, 0.0), (-0.1, 0.0)]


def _faces():
    faces = {"astronaut": photo("astronaut"), "grace_hopper": photo("grace_hopper")}
    folder = shared_media_dir()
    for name in ("obama", "obama_partial_face") if folder else ():
        image = cv2.imread(os.path.join(folder, f"{name}.jpg"))
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
    if len({name for name, *_ in shifted}) < 4:
        pytest.skip("needs the shared media's faces (../shared/media beside the clone): the packaged "
                    "photos alone have too few cases MediaPipe gets wrong")
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
    # The corners in either order give the same frame (x towards image right); half a pixel
    # apart they still make one.
    again, _ = eye_frame(corners[::-1].copy())
    np.testing.assert_allclose(again, m, atol=1e-12)
    assert eye_frame(np.array([[3.0, 4.0], [3.5, 4.0]]))[1] == pytest.approx(0.5)


@pytest.mark.parametrize("name, shift, eye", [("obama_partial_face", (-0.1, 0.08), 0),
                                              ("obama_partial_face2", (0.12, 0.0), 1),
                                              ("obama_partial_face2", (0.1, 0.08), 1)])
def test_an_iris_pressed_into_a_corner_is_found_from_its_one_edge(name, shift, eye):
    """Moved into the eye's corner, the iris's dark run reaches the end of the opening: no sclera
    on that side, so no two-edged chord. The limbus on the open side, a radius from the centre,
    still places it where MediaPipe's point does not."""
    image = shared_photo(f"{name}.jpg")
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
    image = shared_photo(name)
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


# Drawn eyes: the iris's centre and size are known from the drawing.
#
# A 120 px wide eye (corners (40, 60) and (160, 60)), lids parabolic, white sclera (230) on skin
# (150), a dark iris (60) of radius 24 px (0.2 eye widths) cut by the lids. MediaPipe's point (the
# prior) is placed short of the drawn centre, as it under-reports a look aside; the vertical
# centre is the prior's by design (see the module's docstring).
CORNERS = np.array([[40.0, 60.0], [160.0, 60.0]])


def drawn_eye(iris_x, radius=24.0, sclera=230, iris=60, skin=150, light=1.0, opening=0.18):
    """(grey image, lid contour in MediaPipe's order): opening = the lids' height at mid-eye
    above and below the corners' line, in eye widths."""
    image = np.full((120, 200), skin, np.uint8)
    xs = np.linspace(40, 160, 17)
    t = (xs - 100) / 60
    top = [(x, 60 - opening * 120 * (1 - s * s)) for x, s in zip(xs, t)]
    bottom = [(x, 60 + opening * 120 * (1 - s * s)) for x, s in zip(xs[::-1], t[::-1])][1:-1]
    contour = np.array(top + bottom)
    inside = np.zeros_like(image)
    cv2.fillPoly(inside, [np.round(contour * 16).astype(np.int32)], 1, cv2.LINE_AA, shift=4)
    yy, xx = np.mgrid[0:120, 0:200]
    disk = (xx - iris_x) ** 2 + (yy - 60) ** 2 <= radius * radius
    image[inside > 0] = sclera
    image[(inside > 0) & disk] = iris
    return np.round(image * light).astype(np.uint8), contour


def fit(image, contour, prior_x, prior_radius=24.0, corners=CORNERS, config=None):
    return IrisFinder(config).fit(image, contour, corners, np.array([prior_x, 62.0]), prior_radius)


@pytest.mark.parametrize("iris_x, prior_x", [(112, 104), (88, 96), (100, 100)])
def test_a_drawn_iris_is_found_at_its_centre(iris_x, prior_x):
    """Two edges seen on every row: centre within a third of a pixel across (the prior's row
    down), contrast the drawn 230 - 60, full confidence."""
    image, contour = drawn_eye(iris_x)
    found = fit(image, contour, prior_x)
    assert found is not None and found.sides == 2 and found.rows >= 4
    assert abs(found.centre[0] - iris_x) < 0.33 and found.centre[1] == 62.0
    assert found.contrast == pytest.approx(170) and found.confidence == 1.0
    assert found.centre.dtype == np.float32


def test_the_radius_is_the_widest_chord():
    """A prior radius of 20 px: the fit sizes the iris by its widest chord, the drawn 24."""
    image, contour = drawn_eye(112)
    assert fit(image, contour, 104, prior_radius=20.0).radius == pytest.approx(24.0, abs=0.5)


def test_a_prior_radius_under_the_plausible_range_is_raised_to_it():
    """A prior radius of 10 px is raised to 0.15 eye widths (18 px), and chords more than 1.3
    times that (23.4 px) are not trusted: the widest kept on the drawn 24 px iris is then a row
    5.3 to 7.8 px (one patch row, 2.5 px) off its middle, 22.7 to 23.4 px."""
    image, contour = drawn_eye(112)
    found = fit(image, contour, 104, prior_radius=10.0)
    assert 22.4 < found.radius < 23.4 and abs(found.centre[0] - 112) < 0.33


def test_a_tilted_eye_is_sized_and_placed_as_a_level_one():
    """The drawn eye turned 30 degrees about (100, 60): the iris still measures 24 px, and its
    centre is the turned (112, 62) (the prior's row, turned with it)."""
    image, contour = drawn_eye(112)
    turn = cv2.getRotationMatrix2D((100, 60), 30, 1.0)

    def turned(points):
        return np.asarray(points, np.float64) @ turn[:, :2].T + turn[:, 2]

    tilted = cv2.warpAffine(image, turn, (200, 120), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    found = IrisFinder().fit(tilted, turned(contour), turned(CORNERS), turned([104.0, 62.0]), 24.0)
    assert found.radius == pytest.approx(24.0, abs=0.5)
    assert np.linalg.norm(found.centre - turned([112.0, 62.0])) < 0.33


def test_colour_and_corners_in_either_order_give_the_same_fit():
    image, contour = drawn_eye(112)
    grey = fit(image, contour, 104)
    colour = fit(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), contour, 104)
    flipped = fit(image, contour, 104, corners=CORNERS[::-1].copy())
    for other in (colour, flipped):
        np.testing.assert_allclose(other.centre, grey.centre, atol=1e-3)
        assert other.radius == pytest.approx(grey.radius) and other.rows == grey.rows


@pytest.mark.parametrize("iris_x, prior_x", [(150, 140), (52, 60)])
def test_an_iris_in_a_corner_is_placed_a_radius_from_its_one_edge(iris_x, prior_x):
    """Pressed into the right (left) corner, the run has no sclera on that side: the limbus on
    the open side, 24 px (the prior's radius) from the centre, places it; half as sure."""
    image, contour = drawn_eye(iris_x)
    found = fit(image, contour, prior_x)
    assert found is not None and found.sides == 1 and found.confidence == 0.5
    assert abs(found.centre[0] - iris_x) < 0.5 and found.radius == pytest.approx(24.0)


def test_in_the_left_corner_too_a_prior_past_the_centre_is_refused():
    """The mirror case: an iris in the left corner, priors 5 px (taken) and 8 px (refused) to the
    left of its centre."""
    image, contour = drawn_eye(52)
    assert fit(image, contour, 47) is not None
    assert fit(image, contour, 44) is None


def test_a_one_edged_run_that_puts_the_centre_short_of_the_prior_is_refused():
    """An iris in the right corner, its centre placed a radius from its one edge: a prior up to
    a quarter radius (6 px) past that centre is taken, one further is not (an iris in a corner
    lies beyond MediaPipe's point, never short of it: the run is not all iris)."""
    image, contour = drawn_eye(150)
    assert fit(image, contour, 155) is not None
    assert fit(image, contour, 158) is None


def test_a_prior_in_the_sclera_beside_the_iris_finds_nothing():
    """MediaPipe's point 10 px left of the drawn iris's edge (88): the iris's level is read
    within 0.6 of a radius of it, which reaches the iris, but no dark pixel lies within 0.3 of a
    radius of its column, so there is no run to measure: no fit."""
    image, contour = drawn_eye(112)
    assert fit(image, contour, 78) is None


def test_an_eye_with_no_iris_or_too_little_opening_is_left_alone():
    image, contour = drawn_eye(112, iris=230)  # all sclera
    assert fit(image, contour, 104) is None
    image, contour = drawn_eye(112, iris=150, sclera=150)  # shut: all skin
    assert fit(image, contour, 104) is None
    image, contour = drawn_eye(112, opening=0.04)  # a slit: under 4% of the patch seen
    assert fit(image, contour, 104) is None


def test_a_dim_face_is_brightened_to_the_skin_reference_at_most_threefold():
    """Skin at 0.3 x 150 = 45 is brightened by 80 / 45: contrast (69 - 18) x 80 / 45. At 0.06 x
    150 = 9 the gain stops at 3: contrast 3 x (14 - 4) = 30, confidence (30 - 18) / 27."""
    image, contour = drawn_eye(112, light=0.3)
    found = fit(image, contour, 104)
    assert found.contrast == pytest.approx(51 * 80 / 45, abs=0.05) and abs(found.centre[0] - 112) < 0.33
    image, contour = drawn_eye(112, light=0.06)
    found = fit(image, contour, 104)
    assert found.contrast == pytest.approx(30, abs=0.05) and found.confidence == pytest.approx(12 / 27, abs=0.002)
    assert fit(image, contour, 104, config=IrisFitConfig(max_gain=1.0)) is None  # 10 levels: under 18


def test_the_skin_reference_is_read_around_the_opening_not_from_the_brow():
    """The dim eye (skin 45) with black bands 0.4-0.5 eye widths above and below it (a brow, a
    beard's shadow): the skin is read within 0.3 eye widths of the corners' line, so the gain
    and the contrast are the plain dim eye's, 51 x 80 / 45."""
    image, contour = drawn_eye(112, light=0.3)
    image[:14] = 5
    image[108:] = 5
    assert fit(image, contour, 104).contrast == pytest.approx(51 * 80 / 45, abs=0.05)


def test_an_eye_at_the_image_edge_is_fitted_as_anywhere_else():
    """The dim eye cut so that its patch reaches past the image's top and left edges: the patch
    repeats the edge's skin there (not black, which would read as a darker face and brighten it
    more), so the fit is the same one moved by the cut."""
    image, contour = drawn_eye(112, light=0.3)
    found = IrisFinder().fit(image[30:, 30:], contour - 30, CORNERS - 30, np.array([74.0, 32.0]), 24.0)
    assert found.contrast == pytest.approx(51 * 80 / 45, abs=0.05)
    assert abs(found.centre[0] - 82) < 0.33 and found.centre[1] == 32.0


def test_a_limbus_of_exactly_the_least_contrast_is_taken_at_the_least_confidence():
    """At 0.11 of the light, not brightened: sclera 25, iris 7, a step of 18 grey levels, the
    least trusted: a fit, with the floor confidence 0.05."""
    image, contour = drawn_eye(112, light=0.11)
    found = fit(image, contour, 104, config=IrisFitConfig(max_gain=1.0))
    assert found is not None and found.contrast == 18.0 and found.confidence == 0.05


def test_a_catchlight_in_the_iris_does_not_split_its_chords():
    """A white 10 px square (4 px in the 48 px patch) by the pupil: the grey-level opening removes
    it, the chords still span the iris and the centre is the drawn one."""
    image, contour = drawn_eye(112)
    image[55:65, 103:113] = 255
    found = fit(image, contour, 104)
    assert found is not None and abs(found.centre[0] - 112) < 0.33 and found.rows >= 8


def test_few_chords_lower_the_confidence():
    """A narrow opening leaves the iris under 4 chords: the confidence is rows / 4."""
    image, contour = drawn_eye(112, opening=0.08)
    found = fit(image, contour, 104)
    assert found is not None and found.rows < 4 and found.confidence == pytest.approx(found.rows / 4)
    assert fit(image, contour, 104, config=IrisFitConfig(min_rows=found.rows + 1)) is None


def test_the_fit_is_kept_on_the_face_for_the_same_image():
    """fit_eye asks the face for its landmarks once per image: a second call is the same fit."""
    from livegaze.landmarks import EYE_CORNERS

    image, contour = drawn_eye(112)

    class Face:
        iris_fits: dict = {}
        points = np.zeros((478, 3))
        asked = 0

        def iris(self, eye):  # only eye 1 is drawn: asked about another, a KeyError
            Face.asked += 1
            return {1: (np.array([104.0, 62.0]), 24.0)}[eye]

        def eye_contour(self, eye):
            return {1: contour}[eye]

    face = Face()
    face.iris_fits = {}
    face.points[list(EYE_CORNERS[1]), :2] = CORNERS
    first = IrisFinder().fit_eye(image, face, 1)
    assert abs(first.centre[0] - 112) < 0.33
    assert IrisFinder().fit_eye(image, face, 1) is first and Face.asked == 1
    assert IrisFinder().fit_eye(image.copy(), face, 1) is not first and Face.asked == 2


def test_eye_frame_refuses_coinciding_corners():
    with pytest.raises(ValueError, match="eye corners coincide"):
        eye_frame(np.array([[5.0, 5.0], [5.0, 5.0]]))


def test_edges_place_the_peak_of_a_parabola_through_three_samples():
    """Samples 2, 4, 3 around the largest: the parabola through them peaks 1/6 column right of
    it, (2 - 3) / (2 (2 - 8 + 3)); with no peak (a larger neighbour) it stays on the column; the peak is searched from one
    column left to two right of the given one."""
    g = np.array([[0, 0, 2, 4, 3, 0, 0, 0],
                  [9, 3, 2, 1, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0, 2, 9, 4]], np.float32)
    # Row 2: the largest of columns 1-4 is column 1, whose left neighbour is larger: no peak there.
    np.testing.assert_allclose(_edges(g, np.array([3, 2, 4])), [3 + 1 / 6, 1, 6 + 0.5 * (2 - 4) / (2 - 18 + 4)])
    np.testing.assert_allclose(_edges(g[2:], np.array([0])), [1.0])  # searched only from column 1 to 2: a flat 0


def test_edges_keep_the_search_inside_the_row_and_a_flat_side_adds_no_step():
    """Near the right end the columns searched stop at the last but one (6 of 8): 1, 3 there,
    the largest 3 at column 6, whose right neighbour 9 is larger: no peak, 6. Samples 0, 1, 2
    (a straight line: no parabola peak) leave the largest, column 4, where it is."""
    g = np.array([[0, 0, 0, 0, 0, 1, 3, 9],
                  [0, 0, 0, 0, 1, 2, 0, 0]], np.float32)
    np.testing.assert_allclose(_edges(g, np.array([6, 2])), [6.0, 4.0])
    # A larger sample just outside the columns searched pulls the parabola's peak more than half
    # a column away: the step stops at half a column (5, 4, 0 at columns 1-3: 2 - 0.5; 0, 4, 5 at
    # columns 4-6: 5 + 0.5).
    g = np.array([[0, 5, 4, 0, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0, 4, 5, 0]], np.float32)
    np.testing.assert_allclose(_edges(g, np.array([3, 3])), [1.5, 5.5])
