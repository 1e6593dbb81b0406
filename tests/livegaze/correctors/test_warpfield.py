"""livegaze.correctors.warpfield: the displacement field is fold-free, pinned and capped."""
import numpy as np
import pytest

from livegaze.correctors.warpfield import FieldShape, eye_field


def test_field_is_fold_free_and_pinned():
    """Whatever move is asked, the field that comes out has a positive Jacobian everywhere (a
    move the eye cannot give is scaled down), and it is zero at the corners and at the edge of
    its support."""
    contour = np.array(eye_contour_unit(), np.float64)
    step = 1 / 60
    u, v = np.meshgrid(np.arange(-0.6, 0.6, step), np.arange(-0.55, 0.45, step))
    shape = FieldShape()
    scales = []
    for move in ([0.2, 0.0], [0.0, -0.2], [0.14, -0.14], [-0.1, 0.12], [0.08, 0.0], [0.0, -0.05]):
        du, dv, scale, _ = eye_field(u, v, contour, np.array([0.0, 0.0]), 0.21, np.array(move), shape, step)
        scales.append(scale)
        # The Jacobian of p -> p - d(p), computed here from the field itself.
        ddu_dv, ddu_du = np.gradient(du, step)
        ddv_dv, ddv_du = np.gradient(dv, step)
        det = (1 - ddu_du) * (1 - ddv_dv) - ddu_dv * ddv_du
        assert det.min() > 0.25, move
        border = np.concatenate([du[0], du[-1], dv[0], dv[-1], du[:, 0], dv[:, -1]])
        assert np.abs(border).max() < 1e-6
        for corner in (contour[0], contour[8]):
            i, j = int(round((corner[1] + 0.55) / step)), int(round((corner[0] + 0.6) / step))
            assert abs(du[i, j]) < 0.01 and abs(dv[i, j]) < 0.01
    assert scales[-1].min() == 1.0 and scales[-2].min() == 1.0  # small moves are made in full
    assert scales[1].max() < 1.0  # a fifth of an eye width straight up is more than this eye can give


def test_ordinary_moves_are_made_in_full():
    """An iris off to one side brought back to the middle, lifted by the usual webcam correction
    (0.08 eye widths) or moved both ways is moved the whole way, fold-free: the pixel at the
    iris's destination reads from exactly its old centre. (A band over both iris positions
    stretched the sclera behind the iris twice over, and short lid transitions capped these
    moves at 50-70%.)"""
    cases = (((0.14, 0.0), (-0.12, 0.0)), ((-0.14, 0.0), (0.12, 0.0)), ((0.0, 0.0), (0.0, -0.08)),
             ((0.1, -0.02), (-0.1, -0.05)), ((0.0, -0.03), (0.0, 0.08)))
    for iris, move in cases:
        du, dv, scale, at = _field_at_destination(iris, move)
        assert scale.min() == 1.0, (iris, move)
        np.testing.assert_allclose(at, move, atol=1e-3)
        assert _min_det(du, dv) > 0.25, (iris, move)


def test_the_lower_lid_moves_whole_and_a_hidden_iris_is_not_stretched_out():
    """The lower lid's rim takes its share of a lift (0.3) in one piece, not stretched. An iris
    sitting low, its lower part under the lid, cannot fill the gap that share leaves: the lid
    then takes a larger share (0.55), still whole, and the lift is made further than with the
    usual share alone; the rest is capped (the pupil lands where the capped move puts it)
    rather than smearing the iris's edge or the lid's rim into the eye."""
    du, dv, scale, at = _field_at_destination((0.0, 0.0), (0.0, -0.08))
    j = int(round(0.6 / STEP))
    v_lo = 0.13
    rim = np.nonzero((V[:, j] > v_lo - 0.035) & (V[:, j] < v_lo))[0]
    np.testing.assert_allclose(dv[rim, j], 0.3 * -0.08, atol=1e-3)
    du, dv, scale, at = _field_at_destination((0.0, 0.06), (0.0, -0.1))
    assert 0.0 < scale[1] < 1.0
    made = -0.1 * scale[1]
    np.testing.assert_allclose(at, [0.0, made], atol=1e-3)
    assert _min_det(du, dv) > 0.25
    lid = v_lo + 0.55 * made  # where the output shows the lid's rim
    rim = np.nonzero((V[:, j] > lid - 0.035) & (V[:, j] < lid))[0]
    np.testing.assert_allclose(dv[rim, j], 0.55 * made, atol=1e-3)
    usual = _field_at_destination((0.0, 0.06), (0.0, -0.1), FieldShape(lower_follow_low_iris=0.3))[2]
    assert usual[1] < scale[1] - 0.2, (usual, scale)


def test_a_diagonal_move_the_lift_cannot_follow_still_comes_back_across_in_full():
    """The same low-sitting iris moved back across and up: only part of the lift is possible,
    and only the lift is cut; the move aside is made in full (cutting both alike left the
    horizontal short by the lift's missing share). So does an iris off to one side brought back
    across the middle and lifted (twice that move aside would fold: the move aside is checked as
    asked). The pupil lands where the made move puts it, fold-free."""
    for iris, move in (((0.0, 0.06), (0.1, -0.1)), ((0.1, 0.07), (-0.12, -0.12)), ((-0.15, 0.0), (0.2, -0.1))):
        du, dv, scale, at = _field_at_destination(iris, move)
        assert scale[0] == 1.0 and 0.0 < scale[1] < 1.0, (iris, move, scale)
        np.testing.assert_allclose(at, np.array(move) * scale, atol=1e-3)
        assert _min_det(du, dv) > 0.25


STEP = 1 / 60
U, V = np.meshgrid(np.arange(-0.6, 0.6, STEP), np.arange(-0.55, 0.45, STEP))


def _field_at_destination(iris, move, shape=FieldShape()):
    """(du, dv, share (x, y), displacement at the iris's destination) for the unit eye."""
    contour = np.array(eye_contour_unit(), np.float64)
    iris, move = np.array(iris, np.float64), np.array(move, np.float64)
    du, dv, scale, _ = eye_field(U, V, contour, iris, 0.21, move, shape, STEP)
    dest = iris + move * scale
    i, j = int(round((dest[1] + 0.55) / STEP)), int(round((dest[0] + 0.6) / STEP))
    return du, dv, scale, np.array([du[i, j], dv[i, j]])


def _min_det(du, dv):
    """Smallest Jacobian determinant of p -> p - d(p), from the field itself."""
    ddu_dv, ddu_du = np.gradient(du, STEP)
    ddv_dv, ddv_du = np.gradient(dv, STEP)
    return float(((1 - ddu_du) * (1 - ddv_dv) - ddu_dv * ddv_du).min())


def eye_contour_unit():
    """A lens-shaped eye opening in eye-local units, in MediaPipe's contour order."""
    top = [(x, -0.16 * (1 - (2 * x) ** 2)) for x in np.linspace(-0.5, 0.5, 9)]
    bottom = [(x, 0.13 * (1 - (2 * x) ** 2)) for x in np.linspace(0.5, -0.5, 9)[1:-1]]
    return top + bottom


# The field's arithmetic helpers against values worked by hand on small grids (x: the column,
# y: the row, in grid steps).
def _grid(width=10, height=6):
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    return x, y


def test_the_displacement_jacobian_of_linear_and_curved_fields():
    """p -> p - (dx, dy): for dx = a x + b y, dy = c x + d y the determinant is
    (1 - a)(1 - d) - b c everywhere; for dx = 0.01 x^2 it is 1 - 0.02 x, smallest at the last
    cell's centre (x = 8.5 on a 10-wide grid)."""
    from livegaze.correctors.warpfield import displacement_jacobian

    x, y = _grid()
    a, b, c, d = 0.2, 0.1, 0.3, -0.4
    assert displacement_jacobian(a * x + b * y, c * x + d * y) == pytest.approx((1 - a) * (1 - d) - b * c)
    assert displacement_jacobian(0.01 * x ** 2, 0 * y) == pytest.approx(1 - 0.02 * 8.5)
    assert displacement_jacobian(0 * x, 0.01 * y ** 2) == pytest.approx(1 - 0.02 * 4.5)


def test_the_smallest_jacobian_of_weights_times_a_move():
    """p -> p - (mx wx, my wy), m = move / step: with wx = 0.1 x + 0.2 y, wy = 0.3 x - 0.1 y,
    move (2, 4), step 4: (1 - 0.05)(1 + 0.1) - (0.5 * 0.2)(1 * 0.3) = 1.015."""
    from livegaze.correctors.warpfield import smallest_jacobian

    x, y = _grid()
    got = smallest_jacobian(0.1 * x + 0.2 * y, 0.3 * x - 0.1 * y, np.array([2.0, 4.0]), 4.0)
    assert got == pytest.approx(0.95 * 1.1 - 0.1 * 0.3)


def test_smoothstep_and_clamp_by_their_definitions():
    from livegaze.correctors.warpfield import clamp, smoothstep

    np.testing.assert_allclose(smoothstep(2.0, 4.0, np.array([1.0, 2.0, 2.5, 3.0, 4.0, 5.0])),
                               [0, 0, 0.25 ** 2 * 2.5, 0.5, 1, 1])
    np.testing.assert_allclose(smoothstep(3.0, 3.0, np.array([2.9, 3.1])), [0, 1])  # a step
    np.testing.assert_allclose(smoothstep(-4.0, 4.0, np.array([0.0, 2.0])), [0.5, 0.75 ** 2 * 1.5])
    out = np.zeros(3)
    assert clamp(np.array([1.0, 5.0, 9.0]), 3.0, 7.0, out=out) is out
    np.testing.assert_allclose(out, [3, 5, 7])
    np.testing.assert_allclose(clamp(np.array([1.0, 5.0, 9.0]), 5.0, 2.0), [2, 2, 2])  # hi wins


def test_the_corner_ramp_keeps_its_plateau_inside_the_corners():
    """1 on [lo, hi], linear down to 0 at each corner, 0 beyond; lo kept at least 0.02 inside
    the left corner and 0.04 inside the right one, hi at least 0.02 past lo and 0.02 inside the
    right corner (corners at -0.5 and 0.5 here)."""
    from livegaze.correctors.warpfield import corner_ramp

    u = np.array([-0.7, -0.5, -0.49, -0.48, 0.0, 0.25, 0.5, 0.7])
    np.testing.assert_allclose(corner_ramp(u, -0.5, 0.5, -0.6, 0.0), [0, 0, 0.5, 1, 1, 0.5, 0, 0])  # lo -> -0.48
    # lo and hi past the right corner: the plateau is [0.46, 0.48], 0.48 down to the left corner.
    np.testing.assert_allclose(corner_ramp(np.array([-0.02, 0.47, 0.49]), -0.5, 0.5, 0.6, 0.6), [0.5, 1, 0.5])
    # hi before lo: the plateau is [0, 0.02], 0.48 down to the right corner.
    np.testing.assert_allclose(corner_ramp(np.array([-0.25, 0.01, 0.26]), -0.5, 0.5, 0.0, -0.1), [0.5, 1, 0.5])


def test_lid_heights_from_a_diamond_contour():
    """Corner (-0.5, 0), upper lid at (0, -0.2), corner (0.5, 0), lower lid at (0, 0.1): each lid
    straight between its points, 0 at and past the corners."""
    from livegaze.correctors.warpfield import lid_heights

    contour = np.array([(-0.5, 0.0), (0.0, -0.2), (0.5, 0.0), (0.0, 0.1)])
    up, lo = lid_heights(contour, np.array([-0.25, 0.0, 0.25, 0.6]))
    np.testing.assert_allclose(up, [-0.1, -0.2, -0.1, 0.0])
    np.testing.assert_allclose(lo, [0.05, 0.1, 0.05, 0.0])


def test_the_largest_share_by_bisection_to_a_sixteenth():
    """Shares up to 0.7 accepted: 1/2 yes, 3/4 no, 5/8 yes, 11/16 yes -> 11/16; none accepted ->
    the fallback."""
    from livegaze.correctors.warpfield import _largest

    tried = []
    got = _largest(lambda k: tried.append(k) or (k if k <= 0.7 else None), "none")
    assert got == 11 / 16 and tried == [0.5, 0.75, 0.625, 0.6875]
    assert _largest(lambda k: None, "none") == "none"


def test_the_displacement_jacobian_of_a_sheared_field():
    """dx = c x y, dy = 0: d(dx)/dx = c y, so the determinant 1 - c y is smallest on the last
    cells' centres (y = 4.5 on a 6-high grid), whatever the column."""
    from livegaze.correctors.warpfield import displacement_jacobian

    x, y = _grid()
    assert displacement_jacobian(0.1 * x * y, 0 * y) == pytest.approx(1 - 0.1 * 4.5)


def _rim_move(dv, lid):
    """dv on the rows of the lower lid's rim (0.035 above where the output shows the lid) at
    the middle column."""
    j = int(round(0.6 / STEP))
    return dv[np.nonzero((V[:, j] > lid - 0.035) & (V[:, j] < lid))[0], j]


def test_the_lower_lid_share_given_is_the_one_used():
    """A stream passes the lower lid's share its last frame used: an ordinary lift is then built
    with it (the rim moves by 0.55 of the lift, whole) and it comes back with the field; none
    given, the shape's 0.3."""
    contour = np.array(eye_contour_unit(), np.float64)
    iris, move = np.array([0.0, 0.0]), np.array([0.0, -0.08])
    made = eye_field(U, V, contour, iris, 0.21, move, FieldShape(), STEP, lower_follow=0.55)
    assert made.share.min() == 1.0 and made.lower_follow == 0.55
    np.testing.assert_allclose(_rim_move(made.dv, 0.13 + 0.55 * -0.08), 0.55 * -0.08, atol=1e-3)
    assert eye_field(U, V, contour, iris, 0.21, move, FieldShape(), STEP).lower_follow == 0.3


def test_a_low_iris_lift_made_whole_by_the_larger_lid_share():
    """An iris sitting low lifted by 0.06: with the lid's usual share its edge cannot fill the
    gap, with 0.55 it can: the lift is made in full, the rim moving by 0.55 of it, and 0.55 is
    the share that comes back."""
    du, dv, share, follow = eye_field(U, V, np.array(eye_contour_unit(), np.float64), np.array([0.0, 0.06]),
                                      0.21, np.array([0.0, -0.06]), FieldShape(), STEP)
    assert share.min() == 1.0 and follow == 0.55
    np.testing.assert_allclose(_rim_move(dv, 0.13 + 0.55 * -0.06), 0.55 * -0.06, atol=1e-3)
    assert _min_det(du, dv) > 0.25


def test_a_move_aside_that_folds_is_cut_with_the_usual_lid_share():
    """Twice the usual move aside folds: it is cut, both parts alike, and the lower lid's larger
    share (for lifts) is not tried: 0.3 comes back."""
    du, dv, share, at = _field_at_destination((-0.1, 0.0), (0.4, 0.0))
    assert 0.0 < share[0] == share[1] < 1.0
    np.testing.assert_allclose(at, [0.4 * share[0], 0.0], atol=1e-3)
    contour = np.array(eye_contour_unit(), np.float64)
    follow = eye_field(U, V, contour, np.array([-0.1, 0.0]), 0.21, np.array([0.4, 0.0]), FieldShape(), STEP)[3]
    assert follow == 0.3


def test_a_look_down_the_eye_cannot_follow_at_all_still_comes_back_across():
    """Half an eye width down and a little aside from a low iris: not even a sixteenth of the
    drop holds, so the share is (1, 0): the move aside whole, no vertical move anywhere."""
    du, dv, share, at = _field_at_destination((0.0, 0.1), (0.05, 0.5))
    np.testing.assert_array_equal(share, [1.0, 0.0])
    assert not dv.any()
    np.testing.assert_allclose(at, [0.05, 0.0], atol=1e-3)


def test_the_least_jacobian_given_replaces_the_shapes():
    """With no least Jacobian (-inf) a fifth of an eye width straight up is made in full, though
    it squeezes the sclera past the shape's 0.3; a zero move is the identity (Jacobian exactly
    1), made even where 1 is the least allowed; above 1 nothing but the identity holds (beyond
    the corners the field is 0 and the Jacobian 1), so the field is zero on the whole grid, here
    given as a row of columns and a column of rows."""
    contour = np.array(eye_contour_unit(), np.float64)
    iris = np.array([0.0, 0.0])
    du, dv, share, _ = eye_field(U, V, contour, iris, 0.21, np.array([0.0, -0.2]), FieldShape(), STEP,
                                 min_jacobian=-np.inf)
    assert share.min() == 1.0 and _min_det(du, dv) < 0.3
    still = eye_field(U, V, contour, iris, 0.21, np.zeros(2), FieldShape(), STEP, min_jacobian=1.0)
    assert still.share.min() == 1.0 and not still.du.any() and not still.dv.any()
    u, v = U[:1], V[:, :1]
    du, dv, share, follow = eye_field(u, v, contour, iris, 0.21, np.array([0.1, 0.1]), FieldShape(), STEP,
                                      min_jacobian=1.5)
    np.testing.assert_array_equal(share, [0.0, 0.0])
    assert du.shape == dv.shape == U.shape and not du.any() and not dv.any() and follow == 0.3
