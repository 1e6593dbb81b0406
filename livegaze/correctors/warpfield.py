"""The displacement field behind the warp corrector: one smooth, fold-free field per eye.

Everything is built in eye-local units (origin between the corners, x along them, one unit = one
eye width), so the same shapes hold for a small webcam face and a large portrait.

- The iris and pupil translate by the whole move: weight 1 on the band the iris sweeps, falling
  smoothly to 0 over a distance that grows with the move (a short falloff would fold).
- Horizontally the field stays in the opening (soft edge just past the lids): lids and lashes do
  not slide sideways with the eye.
- Vertically the upper lid follows the iris (real lids rise when the gaze rises), the lower lid a
  smaller share; both fade out above and below, well inside one eye width.
- The corners are pinned and the whole field reaches zero before the brow and the cheek.
The Jacobian of the resulting map is checked on the grid; a move that would fold is scaled down.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FieldShape:
    """upper_follow / lower_follow: share of the iris's vertical move the upper / lower lid takes;
    reach_up / reach_down: how far above / below the lids the field fades out (eye widths);
    side_margin: how far past the lids the horizontal move fades out (eye widths); corner_pin:
    distance from a corner over which the field grows from 0 (eye widths); min_jacobian: the
    smallest local area ratio allowed (below it the move is scaled down)."""

    upper_follow: float = 0.8
    lower_follow: float = 0.3
    reach_up: float = 0.32
    reach_down: float = 0.22
    side_margin: float = 0.06
    corner_pin: float = 0.16
    min_jacobian: float = 0.3


def smoothstep(edge0: float, edge1, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / np.maximum(edge1 - edge0, 1e-6), 0.0, 1.0)
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


def eye_weights(u: np.ndarray, v: np.ndarray, contour: np.ndarray, iris: np.ndarray, radius: float,
                move: np.ndarray, shape: FieldShape) -> tuple[np.ndarray, np.ndarray]:
    """(horizontal weight, vertical weight) on the grid (u, v); all in eye-local units.
    The displacement at a point is (move_x * wx, move_y * wy)."""
    v_up, v_lo = lid_heights(contour, u[0])
    v_up, v_lo = v_up[None, :], v_lo[None, :]
    corner_l, corner_r = contour[:, 0].min(), contour[:, 0].max()
    # The iris sweeps the segment from its old centre to its new one.
    a, b = iris, iris + move
    ab = b - a
    t = np.clip(((u - a[0]) * ab[0] + (v - a[1]) * ab[1]) / max(float(ab @ ab), 1e-9), 0, 1)
    dist = np.hypot(u - (a[0] + t * ab[0]), v - (a[1] + t * ab[1]))
    inner = 1.1 * radius
    falloff = 0.6 * radius + 2.2 * float(np.hypot(*move))
    w_iris = 1 - smoothstep(inner, inner + falloff, dist)
    pin = smoothstep(0.0, shape.corner_pin, u - corner_l) * smoothstep(0.0, shape.corner_pin, corner_r - u)
    # Horizontal: only within the opening (plus a soft margin past each lid).
    outside = np.maximum(v_up - v, v - v_lo)
    in_opening = 1 - smoothstep(0.0, shape.side_margin, outside)
    wx = w_iris * in_opening * pin
    # Vertical: the lids take their share near the iris's column, fading to the corners.
    column = 1 - smoothstep(inner, inner + falloff + 0.1, np.abs(u - a[0] - 0.5 * ab[0]))
    lids = column * pin
    span = np.maximum(v_lo - v_up, 1e-3)
    between = shape.upper_follow + (shape.lower_follow - shape.upper_follow) * np.clip((v - v_up) / span, 0, 1)
    above = shape.upper_follow * (1 - smoothstep(0.0, shape.reach_up, v_up - v))
    below = shape.lower_follow * (1 - smoothstep(0.0, shape.reach_down, v - v_lo))
    lid = np.where(v < v_up, above, np.where(v > v_lo, below, between)) * lids
    w_core = w_iris * pin * (1 - smoothstep(0.0, shape.reach_up, outside))
    wy = 1 - (1 - w_core) * (1 - lid)  # soft union: smooth where the two overlap
    return wx.astype(np.float32), wy.astype(np.float32)


def min_jacobian(wx: np.ndarray, wy: np.ndarray, move: np.ndarray, step: float) -> float:
    """Smallest determinant of the map p -> p - (move_x wx, move_y wy) over the grid."""
    dwx_dv, dwx_du = np.gradient(wx, step)
    dwy_dv, dwy_du = np.gradient(wy, step)
    mx, my = float(move[0]), float(move[1])
    det = (1 - mx * dwx_du) * (1 - my * dwy_dv) - (mx * dwx_dv) * (my * dwy_du)
    return float(det.min())


def eye_field(u: np.ndarray, v: np.ndarray, contour: np.ndarray, iris: np.ndarray, radius: float,
              move: np.ndarray, shape: FieldShape, step: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(du, dv, scale): the displacement on the grid, with the move scaled down (scale < 1) until
    the map is fold-free with margin."""
    scale = 1.0
    for _ in range(6):
        m = move * scale
        wx, wy = eye_weights(u, v, contour, iris, radius, m, shape)
        if min_jacobian(wx, wy, m, step) >= shape.min_jacobian:
            return m[0] * wx, m[1] * wy, scale
        scale *= 0.7
    return np.zeros_like(u, np.float32), np.zeros_like(v, np.float32), 0.0
