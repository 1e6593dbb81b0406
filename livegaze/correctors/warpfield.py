"""The displacement field behind the warp corrector: one smooth, fold-free field per eye.

Everything is built in eye-local units (origin between the corners, x along them, one unit = one
eye width), so the same shapes hold for a small webcam face and a large portrait.

- The iris and pupil translate by the whole move: weight 1 where the output shows the iris.
- Horizontally the field stays in the opening (soft edge just past the lids): lids and lashes do
  not slide sideways with the eye.
- Vertically the upper lid follows the iris (real lids rise when the gaze rises), the lower lid a
  smaller share; both fade out above and below, well inside one eye width. Each lid's rim (lash
  line, waterline) moves whole with its lid; the gap a lid following less than the iris leaves
  is filled by stretching the iris's own edge, never the rim, and where the iris's visible edge
  is too thin for that (an iris sitting low, its lower part under the lid) the move is capped.
- The corners are pinned (the field falls linearly to them, the least steep way) and the whole
  field reaches zero before the brow and the cheek.
The Jacobian of the resulting map is checked on the grid; a move that would fold is scaled down.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class FieldShape:
    """upper_follow / lower_follow: share of the iris's vertical move the upper / lower lid takes;
    reach_up / reach_down: how far above / below the lids the field fades out (eye widths);
    side_margin: how far past the lids the horizontal move fades out (eye widths); min_jacobian: the
    smallest local area ratio allowed (below it the move is scaled down)."""

    upper_follow: float = 0.8
    lower_follow: float = 0.3
    lower_follow_low_iris: float = 0.55  # the lower lid's share of a lift the default cannot give (see eye_field)
    reach_up: float = 0.32
    reach_down: float = 0.22
    side_margin: float = 0.08
    min_jacobian: float = 0.3
    stretch: float = 0.5  # the area ratio the lid transitions are sized for (above min_jacobian)
    max_band: float = 0.14  # the longest lid transition (eye widths): a longer stretch would smear
    lid_margin: float = 0.04  # the lid's rim inside the contour (eye widths), moved whole with the lid
    held: float = 0.7  # columns within this share of the iris radius rise and fall whole (see eye_weights)


def clamp(x: np.ndarray, lo, hi, out: np.ndarray | None = None) -> np.ndarray:
    """np.clip by its definition (hi wins where lo > hi), at a third of np.clip's cost on the
    small arrays here, where each call's overhead is most of its cost."""
    return np.minimum(np.maximum(x, lo, out=out), hi, out=out)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """0 below edge0, 1 above edge1, the cubic smoothstep between (edges: scalars)."""
    t = (x - edge0) * (1.0 / max(edge1 - edge0, 1e-6))
    clamp(t, 0.0, 1.0, out=t)
    return t * t * (3 - 2 * t)


def lid_heights(contour_local: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower lid v at each u, from the contour in eye-local units (corner, upper lid,
    corner, lower lid: MediaPipe's order)."""
    n = len(contour_local)
    upper = contour_local[: n // 2 + 1]
    lower = np.vstack([contour_local[n // 2:], contour_local[:1]])
    up_order, lo_order = np.argsort(upper[:, 0]), np.argsort(lower[:, 0])
    v_up = np.interp(u, upper[up_order, 0], upper[up_order, 1])
    v_lo = np.interp(u, lower[lo_order, 0], lower[lo_order, 1])
    return np.minimum(v_up, v_lo), np.maximum(v_up, v_lo)


def corner_ramp(u: np.ndarray, corner_l: float, corner_r: float, lo: float, hi: float) -> np.ndarray:
    """1 on [lo, hi] (the band the iris sweeps), falling linearly to 0 at each corner. Linear is
    the least steep way down, so the sclera between iris and corner compresses evenly and the
    map does not fold until that sclera is gone."""
    room = 0.02
    lo = min(max(float(lo), corner_l + room), corner_r - 2 * room)  # scalars: no np.clip (10 us each)
    hi = min(max(float(hi), lo + room), corner_r - room)
    return np.interp(u, [corner_l, lo, hi, corner_r], [0.0, 1.0, 1.0, 0.0], left=0.0, right=0.0)


def eye_weights(u: np.ndarray, v: np.ndarray, contour: np.ndarray, iris: np.ndarray, radius: float,
                move: np.ndarray, shape: FieldShape) -> tuple[np.ndarray, np.ndarray]:
    """(horizontal weight, vertical weight) on the grid (u: a row of columns, v: a column of rows,
    or both 2-D as from np.meshgrid); all in eye-local units. The displacement at a point is
    (move_x * wx, move_y * wy)."""
    corner_l, corner_r = contour[:, 0].min(), contour[:, 0].max()
    a, b = iris, iris + move
    inner = 1.1 * radius
    span_u = np.array([min(a[0], b[0]) - inner, max(a[0], b[0]) + inner])
    n = u.shape[1]
    v_up, v_lo = lid_heights(contour, np.concatenate([u[0], span_u]))  # one call: the grid's columns, the span
    band_up, band_lo = v_up[n:], v_lo[n:]
    v_up, v_lo = v_up[None, :n], v_lo[None, :n]
    # Weight 1 only where the output shows the iris (the map reads each output pixel from the
    # input at p - d): the sclera on each side then spreads evenly over what is left, the least
    # a 1-D map can stretch it. A band over both positions stretched the sclera behind the iris
    # twice over, and the fold check cut ordinary moves to 50-70%.
    ramp = corner_ramp(u, corner_l, corner_r, b[0] - inner, b[0] + inner)
    # Horizontal: the rows of the opening at the iris move with it, a soft margin past each lid
    # keeps lids and lashes from sliding sideways. The band follows the lids at the iris's own
    # columns, not at every column: lids slope steeply near the corners, and a band bending with
    # them would shear the sclera there (the corner ramp pins the corners instead). The lids
    # where the output shows them, after their share of a vertical move: on the input's lids a
    # lifted iris's top left the band and fell behind the move aside (on obama.jpg's narrow eyes
    # the pupil made 3 of a move's 5 pixels across).
    outside = np.maximum(band_up.min() + shape.upper_follow * move[1] - v,
                         v - band_lo.max() - shape.lower_follow * move[1])
    wx = ramp * (1 - smoothstep(0.0, shape.side_margin, outside))
    # Vertical, per column, piecewise linear in v (the least steep profile): 0 a reach above the
    # upper lid, the lid's share on it and on its margin (lash line and lid rim move with the
    # lid, whole, never stretched), 1 on the iris's middle rows, the lower lid's share on its
    # margin and on it, 0 a reach below. Between a lid's margin and the plateau the iris's own
    # edge stretches to fill what a lid following less than the iris leaves; that stretch is
    # sized to keep the area ratio at `stretch`, within `max_band`: a move needing more is more
    # than the eye can give, and the fold check caps it. Each column is sized for the move it
    # makes (the corner ramp's share of it), its margins and least transitions shrinking with
    # its opening (against 0.25, an open eye's height) towards the corners.
    rise, fall = max(-move[1], 0.0) * ramp[:1], max(move[1], 0.0) * ramp[:1]  # upward, downward parts
    narrow = clamp((v_lo - v_up) / 0.25, 0.0, 1.0)
    up_edge = v_up + shape.lid_margin * narrow + shape.upper_follow * fall  # the upper margin's inner edge
    lo_edge = v_lo - shape.lid_margin * narrow - shape.lower_follow * rise
    up_gap = np.minimum(np.maximum(0.03 * narrow, (1 - shape.upper_follow) * fall / (1 - shape.stretch)),
                        shape.max_band)
    lo_gap = np.minimum(np.maximum(0.04 * narrow, (1 - shape.lower_follow) * rise / (1 - shape.stretch)),
                        shape.max_band)
    top = clamp(b[1] - 0.5 * radius, up_edge + up_gap, lo_edge - lo_gap - 0.01)
    bottom = clamp(b[1] + 0.5 * radius, top + 0.01, lo_edge - lo_gap)
    # The iris's middle (pupil, catchlights) always moves whole: where that leaves a transition
    # too short for its stretch, the fold check scales the move down instead.
    pupil = np.abs(u[:1] - b[0]) <= 0.5 * radius
    top = np.where(pupil, np.minimum(top, b[1] - 0.01), top)
    bottom = np.where(pupil, np.maximum(bottom, b[1] + 0.01), bottom)
    # Only the iris's middle columns hold the plateau whole. Towards the limbus it gives way to
    # the straight line between the two lids' shares (reached at the iris's edge and kept beyond
    # it): on a narrow eye the columns at the iris's sides have the least room between the lids,
    # and holding them whole capped the whole lift there (measured: the default 0.08 lift made in
    # full on 6 of 14 camera-facing test eyes; 10 of 14 with this). The sides of the iris then
    # rise a little less than its middle, a shear that does not fold (a vertical move's Jacobian
    # has no cross term) and that stays within the limbus.
    whole = 1 - smoothstep(shape.held * radius, radius, np.abs(u[:1] - b[0]))
    knots = np.empty((8, v_up.shape[-1]))
    rows = (v_up - shape.reach_up, v_up, up_edge, top, bottom, lo_edge, v_lo, v_lo + shape.reach_down)
    for k, knot in enumerate(rows):
        knots[k] = knot
    # The profile's values at the plateau's ends: the iris's middle whole, towards the limbus the
    # line between the lids' shares.
    uf, lf = shape.upper_follow, shape.lower_follow
    between = uf + (lf - uf) * clamp((knots[3:5] - up_edge) / np.maximum(lo_edge - up_edge, 1e-3), 0, 1)
    plateau_ends = whole + (1 - whole) * between
    # Knots kept rising by 1e-3 at least (each at least its predecessor plus 1e-3: a running
    # maximum once the 1e-3 steps are taken out).
    rising = np.arange(8)[:, None] * 1e-3
    knots = np.maximum.accumulate(knots - rising, axis=0) + rising
    # A piecewise-linear profile through rising knots is the first value (0) plus one clipped
    # ramp per segment, each adding its segment's rise; all at once, as (segment, row, column).
    # The lids' margins (segments 1 and 5) rise by nothing and are left out.
    rises = np.empty((5, knots.shape[1]))
    rises[0], rises[4] = uf, -lf
    top_end, bottom_end = plateau_ends
    rises[1], rises[2], rises[3] = top_end - uf, bottom_end - top_end, lf - bottom_end
    lo, hi = knots[[0, 2, 3, 4, 6]], knots[[1, 3, 4, 5, 7]]
    slope = 1.0 / (hi - lo)
    ramps = v[None] * slope[:, None] - (lo * slope)[:, None]
    clamp(ramps, 0.0, 1.0, out=ramps)
    profile = np.einsum("kn,kmn->mn", rises, ramps)
    wy = ramp * profile
    return wx.astype(np.float32), wy.astype(np.float32)


def _slopes(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d/drow, d/dcolumn) of a grid, per grid step, on the cells between samples (forward
    differences, each pair averaged across: the same central value np.gradient gives there, for
    a fraction of its cost)."""
    d_col = f[:, 1:] - f[:, :-1]
    d_row = f[1:, :] - f[:-1, :]
    return 0.5 * (d_row[:, 1:] + d_row[:, :-1]), 0.5 * (d_col[1:, :] + d_col[:-1, :])


def smallest_jacobian(wx: np.ndarray, wy: np.ndarray, move: np.ndarray, step: float) -> float:
    """Smallest determinant of the map p -> p - (move_x wx, move_y wy) over the grid."""
    dwx_dv, dwx_du = _slopes(wx)
    dwy_dv, dwy_du = _slopes(wy)
    mx, my = float(move[0]) / step, float(move[1]) / step
    det = (1 - mx * dwx_du) * (1 - my * dwy_dv) - (mx * dwx_dv) * (my * dwy_du)
    return float(det.min())


def displacement_jacobian(dx: np.ndarray, dy: np.ndarray) -> float:
    """Smallest determinant of the map p -> p - (dx, dy)(p), displacements in grid units."""
    ddx_dy, ddx_dx = _slopes(dx)
    ddy_dy, ddy_dx = _slopes(dy)
    return float(((1 - ddx_dx) * (1 - ddy_dy) - ddx_dy * ddy_dx).min())


class EyeField(NamedTuple):
    """One eye's displacement on the grid (eye widths), the share (x, y) of each part of the
    asked move it makes, and the lower lid's share of the vertical move it was built with."""

    du: np.ndarray
    dv: np.ndarray
    share: np.ndarray
    lower_follow: float


def eye_field(u: np.ndarray, v: np.ndarray, contour: np.ndarray, iris: np.ndarray, radius: float,
              move: np.ndarray, shape: FieldShape, step: float, lower_follow: float | None = None,
              min_jacobian: float | None = None) -> EyeField:
    """The displacement for `move`, cut where the map would fold (its Jacobian under
    `min_jacobian`, default the shape's). lower_follow: the lower lid's share to try first (a
    stream passes the one its last frame used, see WarpCorrector; default the shape's).

    A lift is what an eye most often cannot give in full: an iris sitting low, its lower part
    under the lid, has too thin a visible edge to stretch over the gap the lower lid leaves,
    and stretched further it smears. So before any cut a lift is tried with the lower lid
    taking a larger share (`lower_follow_low_iris`): the lid rising a little more (about a
    pixel on a webcam eye) leaves less gap to fill (measured: the default 0.08 lift made in full
    on 12 of 14 test eyes, against 10; the other two are held by a glasses rim).

    A move aside rarely folds. So when the whole move does and the move aside alone does not,
    only the vertical part is cut: a diagonal look still comes back across in full (cutting
    both, the vertical's missing share cost the horizontal the same). Otherwise both are cut
    alike. Cuts are found by bisection, to a sixteenth: in a stream the largest share that
    holds changes little from frame to frame, where coarse steps jumped between 1 and 0.7."""
    move = np.asarray(move, np.float64)
    lf = shape.lower_follow if lower_follow is None else float(lower_follow)
    least = shape.min_jacobian if min_jacobian is None else min_jacobian

    def attempt(share: np.ndarray, follow: float) -> EyeField | None:
        m = move * share
        wx, wy = eye_weights(u, v, contour, iris, radius, m, replace(shape, lower_follow=follow))
        if smallest_jacobian(wx, wy, m, step) < least:
            return None
        return EyeField(m[0] * wx, m[1] * wy, share, follow)

    made = attempt(np.ones(2), lf)
    if made is not None:
        return made
    if move[1] < 0 and shape.lower_follow_low_iris > lf:
        lf = shape.lower_follow_low_iris
        made = attempt(np.ones(2), lf)
        if made is not None:
            return made
    if move[0] != 0.0 and move[1] != 0.0:
        made = attempt(np.array([1.0, 0.0]), lf)
        if made is not None:
            return _largest(lambda k: attempt(np.array([1.0, k]), lf), made)
    shape_ = np.broadcast(u, v).shape
    still = EyeField(np.zeros(shape_, np.float32), np.zeros(shape_, np.float32), np.zeros(2), lf)
    return _largest(lambda k: attempt(np.full(2, k), lf), still)


def _largest(attempt, fallback: EyeField, steps: int = 4) -> EyeField:
    """The field of the largest k in (0, 1) that `attempt(k)` accepts (not None), to
    1 / 2**steps, by bisection; `fallback` (k = 0) when none is."""
    lo, hi, best = 0.0, 1.0, fallback
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        field = attempt(mid)
        if field is not None:
            lo, best = mid, field
        else:
            hi = mid
    return best
