"""Glasses rims near an eye: long straight edges the warp must keep still, so they do not bend.

OpenCV's line segment detector finds straight edges in the eye's box; a long one away from the
lid margin is taken for a rim, and the warp's field fades to zero on it. In a stream the search
runs every `refresh` frames per eye and the rims found are carried in between in the eye's own
coordinates (glasses sit still on the head, so a rim keeps its place relative to the eye
corners); the search is the costliest part of the warp.
"""
from __future__ import annotations

import cv2
import numpy as np


class RimFinder:
    """Finds the rims near each eye and turns them into an attenuation of the field."""

    def __init__(self, refresh: int = 3):
        # No refinement: the refining pass splits a rim where another edge touches it (a frame's
        # own edge, a highlight), and then no piece is long enough to count. It is also faster.
        self._detector = cv2.createLineSegmentDetector(cv2.LSD_REFINE_NONE)  # one per finder: not thread-safe
        self.refresh = max(1, int(refresh))
        self._carried: dict[int, tuple[int, np.ndarray]] = {}  # eye -> (frames left, rims in eye-local units)

    def reset(self) -> None:
        """Forget carried rims (a new stream, a new photo)."""
        self._carried.clear()

    def rims(self, image: np.ndarray, box, contour: np.ndarray, width: float, eye: int,
             to_local: np.ndarray) -> np.ndarray:
        """Rim segments (N, 4: x0 y0 x1 y1, frame pixels) near one eye; to_local: the eye's
        2x3 frame -> eye-local map (livegaze.irisfit.eye_frame)."""
        carried = self._carried.get(eye)
        if carried is not None and carried[0] > 0:
            self._carried[eye] = (carried[0] - 1, carried[1])
            back = cv2.invertAffineTransform(to_local)
            return (carried[1].reshape(-1, 2) @ back[:, :2].T + back[:, 2]).reshape(-1, 4)
        found = self._detect(image, box, contour, width)
        local = (found.reshape(-1, 2) @ to_local[:, :2].T + to_local[:, 2]).reshape(-1, 4)
        self._carried[eye] = (self.refresh - 1, local)
        return found

    def _detect(self, image: np.ndarray, box, contour: np.ndarray, width: float) -> np.ndarray:
        x0, y0, x1, y1 = box
        gray = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
        # With the eye about 32 px wide: small eyes need the detail, large ones cost time.
        scale = float(np.clip(32.0 / width, 0.5, 2.0))
        found = self._detector.detect(cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
                                                 if scale < 1 else cv2.INTER_LINEAR))[0]
        if found is None:
            return np.zeros((0, 4))
        segments = found.reshape(-1, 4).astype(np.float64) / scale
        segments = segments[np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
                            >= 0.6 * width]
        if not len(segments):
            return np.zeros((0, 4))
        # A rim lies outside the lids; a lid margin is within a few pixels of the contour: the
        # opening grown by that margin, sampled at 12 points along each segment.
        near_lid = max(2.0, 0.07 * width)
        lid = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(lid, [np.round(contour - (x0, y0)).astype(np.int32)], 1)
        grow = 2 * int(np.ceil(near_lid)) + 1
        lid = cv2.dilate(lid, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
        t = np.linspace(0, 1, 12)
        px = np.clip(np.round(segments[:, :1] + t * (segments[:, 2:3] - segments[:, :1])), 0, lid.shape[1] - 1)
        py = np.clip(np.round(segments[:, 1:2] + t * (segments[:, 3:4] - segments[:, 1:2])), 0, lid.shape[0] - 1)
        off_lid = lid[py.astype(int), px.astype(int)].mean(axis=1) <= 0.2
        return segments[off_lid] + np.array([x0, y0, x0, y0], np.float64)

    def keep_off(self, image: np.ndarray, box, dx: np.ndarray, dy: np.ndarray, contour: np.ndarray,
                 width: float, eye: int, to_local: np.ndarray) -> np.ndarray | None:
        """Attenuation (0..1) over the box that is 0 on the rims in the moving region, rising
        over a fifth of an eye width: a rim must not bend. A lid crease taken for a rim only
        moves a little less. None: no rim where the field moves."""
        rims = self.rims(image, box, contour, width, eye, to_local)
        if not len(rims):
            return None
        x0, y0 = box[:2]
        mask = np.zeros(dx.shape, np.uint8)
        for xa, ya, xb, yb in rims - np.array([x0, y0, x0, y0]):
            cv2.line(mask, (int(round(xa)), int(round(ya))), (int(round(xb)), int(round(yb))), 1,
                     max(3, int(round(0.08 * width))))
        if not ((mask > 0) & ((dx * dx + dy * dy) > 1e-6)).any():
            return None
        distance = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, 3)
        return np.clip(distance / max(0.2 * width, 2.0), 0.0, 1.0).astype(np.float32)
