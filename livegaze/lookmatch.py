"""Calibration's screen offset, read from the image: each look averaged, then matched by warping.

MediaPipe's iris point follows only a small share of a vertical look, and a different share on
each face (docs/quality.md), so a calibration built on it under-reads the screen's offset. Here
the image decides instead:

- each look's frames are registered onto the first frame of the calibration (the head's motion,
  found by ECC over the upper face with the eyes and lids left out: they move with the look) and
  averaged, which lowers sensor noise by the square root of the frame count; frames the gate
  would not correct for their eyes or head (a blink, a turned head) or without a face are left
  out, by the gate's own rules;
- the screen look's average is then warped by the corrector's own warp over a range of moves;
  the move whose result best matches the camera look's average (squared difference over both
  eyes and their lids) is the screen-to-camera move.

So the calibration measures the move the correction will make with the correction's own warp,
lids included: the move that turns this user's screen look into their camera look.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livegaze.frames import Outcome
from livegaze.gate import Gate
from livegaze.landmarks import FaceLandmarks

# Mesh points that move with the skull, not with the eyes or the mouth: nose bridge and tip,
# the sides of the nose, the forehead's middle. Their mean shift seeds the registration.
SKULL_POINTS = (6, 168, 197, 195, 5, 4, 1, 10, 151)
REGISTER_WIDTH = 256  # px: the upper face is registered at this width (ECC's cost grows with it)
MIN_CORRELATION = 0.8  # ECC's score below which a frame is not the same view (a cut, a large turn)
LEFT_OUT = (Outcome.NO_FACE, Outcome.EYES_CLOSED, Outcome.HEAD_TURNED)


@dataclass
class LookAverage:
    """One look's registered average: the face's region of the calibration's first frame (BGR),
    the mean landmarks in the region's pixels, and the frames averaged."""

    image: np.ndarray
    face: FaceLandmarks
    frames: int


class LookRecorder:
    """Registers each frame of a calibration onto its first one and sums each look's frames."""

    def __init__(self):
        self._box: tuple[int, int, int, int] | None = None  # the region kept (reference frame pixels)
        self._reg_box: tuple[int, int, int, int] | None = None  # the region registered
        self._scale = 1.0
        self._reference: np.ndarray | None = None  # the registered region, grey, at REGISTER_WIDTH
        self._mask: np.ndarray | None = None
        self._skull: np.ndarray | None = None
        self._sums: dict[str, list] = {}  # phase -> [image sum, landmark sum, count]
        self._gate = Gate()  # one stream: its closed-eye rule learns this user's usual opening
        self.offered: dict[str, int] = {}  # phase -> frames given, kept or not

    def add(self, phase: str, image: np.ndarray, face: FaceLandmarks | None) -> bool:
        """Register one frame of `phase` and add it to that look; False when it is left out (no
        face, an eye closed, the head turned, a view that does not register)."""
        self.offered[phase] = self.offered.get(phase, 0) + 1
        if self._gate.target(face, stream=True, image=image)[1] in LEFT_OUT:
            return False
        if self._reference is None:
            self._start(image, face)
        shift = self._register(image, face)
        if shift is None:
            return False
        x0, y0, x1, y1 = self._box
        # The frame moved by `shift` against the reference: sample it there.
        m = np.float64([[1, 0, x0 + shift[0]], [0, 1, y0 + shift[1]]])
        region = cv2.warpAffine(image, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        points = face.points.astype(np.float64).copy()
        points[:, 0] -= shift[0] + x0
        points[:, 1] -= shift[1] + y0
        total = self._sums.setdefault(phase, [np.zeros_like(region), np.zeros_like(points), 0])
        total[0] += region
        total[1] += points
        total[2] += 1
        return True

    def frames(self, phase: str) -> int:
        """Frames of `phase` averaged so far."""
        return self._sums.get(phase, [None, None, 0])[2]

    def average(self, phase: str) -> LookAverage | None:
        """The look's average, or None with no frame kept."""
        if self.frames(phase) == 0:
            return None
        image, points, n = self._sums[phase]
        face = FaceLandmarks(points=(points / n).astype(np.float32))
        return LookAverage(np.clip(image / n + 0.5, 0, 255).astype(np.uint8), face, n)

    def _start(self, image: np.ndarray, face: FaceLandmarks) -> None:
        """The first frame: the regions kept and registered, the mask, the reference."""
        h, w = image.shape[:2]
        pts = face.points[:, :2]
        lo, hi = pts.min(0), pts.max(0)
        margin = 0.1 * (hi - lo)
        # Kept: the whole face, and a margin for the warp's reach around the eyes.
        x0, y0 = np.maximum(np.floor(lo - margin), 0).astype(int)
        x1, y1 = np.minimum(np.ceil(hi + margin), (w, h)).astype(int)
        self._box = (int(x0), int(y0), int(x1), int(y1))
        # Registered: the upper face, brows to the nose's tip (the mouth moves when one speaks).
        ry1 = int(min(np.ceil(face.points[2, 1]), h))
        self._reg_box = (int(x0), int(y0), int(x1), max(ry1, int(y0) + 8))
        rx0, ry0, rx1, ry1 = self._reg_box
        self._scale = min(1.0, REGISTER_WIDTH / max(rx1 - rx0, 1))
        mask = np.zeros((ry1 - ry0, rx1 - rx0), np.uint8)
        inside = np.round(face.points[:468, :2] - (rx0, ry0)).astype(np.int32)
        cv2.fillConvexPoly(mask, cv2.convexHull(inside), 1)
        for eye in range(2):
            c = face.eye_contour(eye) - (rx0, ry0)
            ex0, ey0 = c.min(0)
            ex1, ey1 = c.max(0)
            ew = ex1 - ex0
            # The opening, the lids and the crease above them move with the look.
            cv2.rectangle(mask, (int(ex0 - 0.15 * ew), int(ey0 - 0.45 * ew)),
                          (int(ex1 + 0.15 * ew), int(ey1 + 0.3 * ew)), 0, -1)
        s = self._scale
        scaled = (max(int(round((rx1 - rx0) * s)), 8), max(int(round((ry1 - ry0) * s)), 8))
        self._mask = cv2.resize(mask, scaled, interpolation=cv2.INTER_NEAREST)
        self._reference = self._grey(image)
        self._skull = face.points[list(SKULL_POINTS), :2].astype(np.float64).mean(0)

    def _grey(self, image: np.ndarray, shift=(0.0, 0.0)) -> np.ndarray:
        """The registered region of `image`, `shift` frame pixels on, grey, at the registration's scale."""
        rx0, ry0 = self._reg_box[:2]
        s = self._scale
        # The region, `shift` frame pixels on, scaled: one affine sample (no crop at the image edge).
        m = np.float64([[s, 0, -s * (rx0 + shift[0])], [0, s, -s * (ry0 + shift[1])]])
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        out = cv2.warpAffine(grey, m, self._mask.shape[::-1], flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
        # Blurred a little: sensor noise and skin pores are not what should align.
        return cv2.GaussianBlur(out.astype(np.float32), (0, 0), 1.0)

    def _register(self, image: np.ndarray, face: FaceLandmarks) -> np.ndarray | None:
        """The frame's shift against the reference (frame pixels), or None where ECC fails."""
        guess = face.points[list(SKULL_POINTS), :2].astype(np.float64).mean(0) - self._skull
        moving = self._grey(image, guess)
        warp = np.eye(2, 3, dtype=np.float32)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
        try:
            score, warp = cv2.findTransformECC(self._reference, moving, warp, cv2.MOTION_TRANSLATION,
                                               criteria, self._mask, 1)
        except cv2.error:  # no convergence: not the same view
            return None
        if score < MIN_CORRELATION:
            return None
        return guess + warp[:, 2].astype(np.float64) / self._scale


LIFTS = np.arange(-0.10, 0.2001, 0.01)  # vertical moves tried (eye widths, up positive)
ACROSS = np.arange(-0.15, 0.1501, 0.01)  # horizontal moves tried (eye widths, right positive)


def matched_move(camera: LookAverage, screen: LookAverage, across: float = 0.0) -> tuple[float, float]:
    """(across, lift): the move (eye widths; lift up positive) whose warp of the screen look best
    matches the camera look; the search starts across at `across` (the measured one).

    One axis at a time (the lift, then across at that lift, then the lift again), each over a
    grid of moves. Each move is tried as the corrector makes it (WarpCorrector.warp_by), so what
    is matched, and returned, is the move the warp made: on a narrow eye a large lift stops
    short (its fold and lid limits), and beyond that every lift asked gives the same image."""
    from livegaze.correctors.warp import WarpCorrector

    region = _eye_region(camera.face, camera.image.shape)
    target = camera.image.astype(np.float32)

    def cost(move) -> tuple[float, np.ndarray]:
        out = screen.image.copy()
        made = WarpCorrector(mode="shift", smooth_cutoff=0.0).warp_by(screen.image, screen.face, move, out)
        return float(np.mean(np.square(out.astype(np.float32) - target)[region])), made

    lift = _search(lambda v: cost((across, -v)), LIFTS, lambda made: -made[1])
    across = _search(lambda v: cost((v, -lift)), ACROSS, lambda made: made[0])
    lift = _search(lambda v: cost((across, -v)), LIFTS, lambda made: -made[1])
    return across, lift


def _search(cost, asked: np.ndarray, part) -> float:
    """The value along one axis whose move costs least: `cost(v)` gives (cost, move made) and
    `part(made)` the made move's value on this axis. The best made in full is refined between its
    neighbours by a parabola; one cut short is returned as made."""
    tried = [cost(float(v)) for v in asked]
    costs = np.array([c for c, _ in tried])
    made = np.array([part(m) for _, m in tried])
    j = int(np.argmin(costs))
    best = float(made[j])
    full = np.abs(made - asked) < 2e-3
    if 0 < j < len(asked) - 1 and full[j - 1:j + 2].all():
        c0, c1, c2 = costs[j - 1:j + 2]
        den = c0 - 2 * c1 + c2
        if den > 0:
            best += 0.5 * (c0 - c2) / den * float(asked[j + 1] - asked[j])
    return best


def _eye_region(face: FaceLandmarks, shape) -> np.ndarray:
    """Both eyes with their lids: the opening's box, widened by 0.1 eye widths each side, from
    0.35 above to 0.25 below (the warp's reach over the lids)."""
    region = np.zeros(shape[:2], bool)
    h, w = shape[:2]
    for eye in range(2):
        c = face.eye_contour(eye)
        x0, y0 = c.min(0)
        x1, y1 = c.max(0)
        ew = x1 - x0
        region[max(int(y0 - 0.35 * ew), 0):min(int(y1 + 0.25 * ew), h),
               max(int(x0 - 0.1 * ew), 0):min(int(x1 + 0.1 * ew), w)] = True
    return region
