"""Where the upper lids sit against their usual place, read from the image: a look down past the
screen (a keyboard, a phone) in a stream.

The upper lid follows the eye's vertical turn about one to one (Becker & Fuchs 1988: during
steady fixation the lid and the eye take essentially equal positions; downward lid saccades
match the eye's in amplitude), so how far the lid has dropped says how far down the eyes look,
even where the iris is hidden. MediaPipe's lid landmarks barely follow a lid that drops with
the look (docs/quality.md), so the lid is followed in the image instead:

- each eye is sampled into a patch in its own frame (origin between the corners, one unit = one
  eye width; the corners are tied to the skull), PATCH_PX pixels per eye width;
- dense optical flow (DIS) from a reference patch to this frame's: the lid's drop is the
  vertical flow along the lid margin (MediaPipe's mid-lid points in the reference), less that of
  the brow above it, which does not follow the eyes (so a landmark shift or a nod cancels). The
  flow starts from the shifts that best lay the reference's band about the lid, and its brow,
  on this frame's: the lid's margin, its crease and the brow are alike dark lines, and from no
  start a large drop was matched to the wrong one (MediaPipe's landmarks also lag a sudden head
  move by a few pixels);
- each frame's lid level (the reference's level plus the drop) joins a record of the last
  USUAL_FRAMES frames; the usual level is the lowest the lids held for a quarter of it (its
  USUAL_SHARE quantile): for a livegaze user, the bottom of the screen they read. So reading
  anywhere on the screen sits at or above it, and a look into the camera held for seconds
  (the lids higher) does not move it;
- a look further below it than the caller's `past` is kept out of the record for up to
  HOLD_OUT frames in a row, so a look at the keyboard stays one while the user types; held
  longer, it joins the record and becomes the usual look about 1.5 s later;
- the reference is taken afresh from a frame at the usual level every REFRESH_FRAMES frames
  (light and pose drift), its level carried over, so the levels stay on one scale;
- a face that jumps (another person, a cut: the eyes' midpoint moves more than an eye width in a
  frame, or the eyes' size changes by a quarter) starts the record afresh.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from livegaze.irisfit import eye_frame  # the eye-local frame every part of livegaze measures in
from livegaze.landmarks import EYE_CORNERS, FaceLandmarks

PATCH_PX = 64  # patch pixels per eye width
ACROSS = (-0.45, 0.45)  # the patch, eye widths along the corners' line
DOWN = (-1.0, 0.35)  # and perpendicular to it (down positive): above the brow to the cheek
MARGIN_BAND = 0.04  # eye widths either side of the lid margin read for its drop
MARGIN_SPAN = 0.15  # eye widths either side of the middle (the lid's flattest part)
BAND = (-0.25, 0.2)  # eye widths about the lid margin: the band laid whole for the flow's start
FARTHEST = 0.4  # eye widths: the largest drop or rise looked for
BROW = (-0.8, -0.6)  # the brow band, which stays put when the eyes turn
USUAL_FRAMES = 180  # 6 s at 30 fps
USUAL_MIN = 120  # frames (4 s) before a usual level is given: a shorter one may hold one part of the screen
USUAL_SHARE = 0.75  # the usual level: the record's 75th percentile (levels grow downwards)
HOLD_OUT = 90  # frames (3 s at 30 fps) a look past the usual one is kept out of the record, in a row
REFRESH_FRAMES = 60
REFRESH_NEAR = 0.01  # eye widths: a frame this close to the usual level may become the reference
JUMP = 1.0  # eye widths the eyes' midpoint may move in one frame before the face counts as another
RESIZE = 1.25  # the most the eyes' size may change in one frame (either way) for the same face

_U = np.arange(ACROSS[0], ACROSS[1], 1 / PATCH_PX)
_V = np.arange(DOWN[0], DOWN[1], 1 / PATCH_PX)
_BROW_ROWS = (_V > BROW[0]) & (_V < BROW[1])
_BROW_TOP, _BROW_BOTTOM = int(_BROW_ROWS.argmax()), len(_V) - int(_BROW_ROWS[::-1].argmax())
_MIDDLE = np.abs(_U) < MARGIN_SPAN
_WIDE = np.abs(_U) < 2 * MARGIN_SPAN
_UU, _VV = np.meshgrid(_U, _V)  # the patch's sample grid, eye-local


def _corners(face: FaceLandmarks, eye: int) -> np.ndarray:
    return face.points[list(EYE_CORNERS[eye]), :2]


def eye_patch(image: np.ndarray, face: FaceLandmarks, eye: int) -> np.ndarray | None:
    """The eye's patch (grey uint8, rows down the eye's frame), brow to cheek, from a BGR or grey
    image; None for an eye under 8 px. Only the region around the eye is converted to grey."""
    corners = _corners(face, eye)
    if float(np.hypot(*(corners[1] - corners[0]))) < 8:  # also spares eye_frame corners that meet
        return None
    to_local, width = eye_frame(corners)
    to_image = cv2.invertAffineTransform(to_local)
    origin = to_image[:, 2]  # the patch lies within 1.2 eye widths of it
    x0, y0 = np.maximum(np.floor(origin - 1.2 * width).astype(int), 0)
    x1, y1 = np.ceil(origin + 1.2 * width).astype(int)
    roi = image[y0:y1, x0:x1]
    if roi.ndim == 3:
        roi = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY)
    to_image[:, 2] -= (x0, y0)
    scale = PATCH_PX / width
    if scale < 0.7:  # a large eye: smooth first, or the patch aliases (lashes, skin texture)
        roi = cv2.GaussianBlur(roi, (0, 0), 0.5 / scale)
    map_x = (to_image[0, 0] * _UU + to_image[0, 1] * _VV + to_image[0, 2]).astype(np.float32)
    map_y = (to_image[1, 0] * _UU + to_image[1, 1] * _VV + to_image[1, 2]).astype(np.float32)
    return cv2.remap(roi, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def lid_row(face: FaceLandmarks, eye: int) -> float:
    """The upper lid margin's mid-lid height in the eye's frame (eye widths, down positive)."""
    to_local, _ = eye_frame(_corners(face, eye))
    mid = face.eye_contour(eye)[3:6, :2].astype(np.float64)  # upper lid, around its middle
    return float(np.mean(mid @ to_local[1, :2] + to_local[1, 2]))


def _band_shift(reference: np.ndarray, patch: np.ndarray, top: int, bottom: int) -> int:
    """The whole-pixel vertical shift that best lays the reference's rows top:bottom (the middle
    of the eye's width) on the patch: least mean absolute difference, each side's mean taken out."""
    top, bottom = max(top, 0), min(bottom, len(_V))
    far = round(FARTHEST * PATCH_PX)
    first, last = max(-far, -top), min(far, len(_V) - bottom)
    band = reference[top:bottom][:, _WIDE].astype(np.float32)
    band -= band.mean()
    # Every shift at once: the patch's rows top+first .. bottom+last, as overlapping windows.
    rows = patch[top + first:bottom + last][:, _WIDE].astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(rows, bottom - top, axis=0)  # (shifts, cols, rows)
    windows = windows - windows.mean(axis=(1, 2), keepdims=True)
    costs = np.abs(windows - band.T[None]).mean(axis=(1, 2))
    return first + int(np.argmin(costs))


class LidWatch:
    """`update(image, face)` per frame of a stream: how far the upper lids sit below their usual
    place (eye widths; None until the usual place is known)."""

    def __init__(self):
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._levels: deque = deque(maxlen=USUAL_FRAMES)
        self.reset()

    def reset(self) -> None:
        """Forget the face (another person, or the same after a cut, has lids of their own)."""
        self._reference: list | None = None  # per eye: (patch, margin rows)
        self._reference_level = 0.0
        self._since_reference = 0
        self._levels.clear()
        self._held_out = 0  # frames in a row kept out of the record (see update)
        self._last: tuple[np.ndarray, float] | None = None  # the eyes' midpoint and width, last frame

    def _drop(self, reference: np.ndarray, rows: np.ndarray, patch: np.ndarray) -> float:
        margin = int(rows.argmax())
        top, bottom = margin + round(BAND[0] * PATCH_PX), margin + round(BAND[1] * PATCH_PX)
        start = np.zeros(reference.shape + (2,), np.float32)
        start[:, :, 1] = _band_shift(reference, patch, _BROW_TOP, _BROW_BOTTOM)
        start[(_BROW_BOTTOM + top) // 2:, :, 1] = _band_shift(reference, patch, top, bottom)
        flow = self._flow.calc(reference, patch, start)[..., 1]
        lid = float(np.median(flow[np.ix_(rows, _MIDDLE)]))
        brow = float(np.median(flow[_BROW_ROWS]))
        return (lid - brow) / PATCH_PX

    def _same_face(self, face: FaceLandmarks) -> bool:
        corners = [_corners(face, eye).astype(np.float64) for eye in range(2)]
        middle = (corners[0].mean(axis=0) + corners[1].mean(axis=0)) / 2
        width = float(np.mean([np.hypot(*(c[1] - c[0])) for c in corners]))
        last, self._last = self._last, (middle, width)
        if last is None:
            return True
        moved = float(np.hypot(*(middle - last[0])))
        return moved <= JUMP * last[1] and 1 / RESIZE <= width / last[1] <= RESIZE

    def update(self, image: np.ndarray, face: FaceLandmarks, past: float | None = None) -> float | None:
        """This frame's lid level less the usual one (None until that is known); `past`: the
        drop (eye widths) the caller takes as a look past the usual one (see HOLD_OUT)."""
        if not self._same_face(face):
            last = self._last
            self.reset()
            self._last = last
        patches = [eye_patch(image, face, eye) for eye in range(2)]
        if any(p is None for p in patches):
            return None
        if self._reference is None:
            self._take_reference(patches, face, 0.0)
            self._levels.append(0.0)
            return None
        level = self._reference_level + float(np.mean([
            self._drop(ref, rows, patch) for (ref, rows), patch in zip(self._reference, patches)]))
        usual = float(np.quantile(self._levels, USUAL_SHARE)) if len(self._levels) >= USUAL_MIN else None
        beyond = usual is not None and past is not None and level - usual > past
        if beyond and self._held_out < HOLD_OUT:
            self._held_out += 1
        else:
            self._levels.append(level)
            self._held_out = self._held_out if beyond else 0
        self._since_reference += 1
        due = self._since_reference >= REFRESH_FRAMES
        if usual is not None and due and abs(level - usual) < REFRESH_NEAR:
            self._take_reference(patches, face, level)
        return None if usual is None else level - usual

    def _take_reference(self, patches: list[np.ndarray], face: FaceLandmarks, level: float) -> None:
        self._reference = [(patch, np.abs(_V - lid_row(face, eye)) < MARGIN_BAND)
                           for eye, patch in enumerate(patches)]
        self._reference_level = level
        self._since_reference = 0
