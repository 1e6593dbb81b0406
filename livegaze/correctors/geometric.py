"""The default corrector: no trained weights, just the user's own iris moved to face the camera.

The camera-facing position is the centre of the eye opening, shifted for head pose (a face that
is off the camera axis or turned must rotate its eyes towards the camera) and by a user offset
(in eye widths; per-user calibration sets it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livegaze.align import AlignedFace, EyeGeometry
from livegaze.correctors.irispaint import move_iris
from livegaze.landmarks import EYE_CONTOURS, IRIS_CENTRES, IRIS_RINGS, FaceLandmarks


@dataclass
class GeometricConfig:
    """offset: extra (dx, dy) of the target in eye widths; pose_gain: eyeball radius over eye width
    (how far the iris moves per radian of gaze); min_openness: eyes more closed than this are left
    alone; max_shift: largest move in eye widths (bigger means the landmarks are off)."""

    offset: tuple[float, float] = (0.0, 0.0)
    pose_gain: float = 0.4
    min_openness: float = 0.12
    max_shift: float = 0.45


def gaze_to_camera_offset(face: FaceLandmarks | None) -> np.ndarray:
    """(x, y) direction, in the face's own axes (x to image right, y down), of a gaze that meets
    the camera; (0, 0) is straight ahead of the face. Needs the pose matrix."""
    if face is None or face.pose is None:
        return np.zeros(2, np.float32)
    rot = face.pose[:3, :3].astype(np.float64)
    to_camera = -face.pose[:3, 3].astype(np.float64)
    norm = np.linalg.norm(to_camera)
    if norm < 1e-6:
        return np.zeros(2, np.float32)
    d_face = rot.T @ (to_camera / norm)  # gaze direction in face coordinates (y up)
    return np.array([d_face[0], -d_face[1]], np.float32)


def opening_centre(points: np.ndarray, eye: int) -> np.ndarray:
    """Centroid of the eyelid polygon."""
    poly = points[list(EYE_CONTOURS[eye])].astype(np.float64)
    x, y = poly[:, 0], poly[:, 1]
    xs, ys = np.roll(x, -1), np.roll(y, -1)
    cross = x * ys - xs * y
    area = cross.sum() / 2
    if abs(area) < 1e-6:
        return poly.mean(0).astype(np.float32)
    return np.array([((x + xs) * cross).sum() / (6 * area), ((y + ys) * cross).sum() / (6 * area)], np.float32)


class GeometricCorrector:
    """Moves each iris toward the camera-facing position; `strength` scales the move."""

    name = "geometric"
    handles_strength = True
    space = "aligned"
    geometry = EyeGeometry()  # no model: the default aligned face
    concurrency = 1
    last_measured = None  # measures nothing a calibration could use

    def __init__(self, config: GeometricConfig | None = None, **options):
        self.config = config or GeometricConfig(**options)

    def targets(self, points: np.ndarray, face: FaceLandmarks | None) -> list[np.ndarray]:
        """Camera-facing iris centre of each eye, in the coordinates of `points`."""
        gaze = gaze_to_camera_offset(face)
        out = []
        for eye in range(2):
            corners = points[[EYE_CONTOURS[eye][0], EYE_CONTOURS[eye][8]]]
            width = float(np.linalg.norm(corners[1] - corners[0]))
            shift = (self.config.pose_gain * gaze + np.asarray(self.config.offset, np.float32)) * width
            out.append(opening_centre(points, eye) + shift)
        return out

    def correct(self, face: AlignedFace, strength: float) -> np.ndarray | None:
        if face.points is None or strength <= 0:
            return None
        points = face.points
        image = None  # copied once, on the first eye that moves; None means nothing moved
        for eye, target in enumerate(self.targets(points, face.face)):
            contour = points[list(EYE_CONTOURS[eye])]
            width = float(np.linalg.norm(contour[0] - contour[8]))
            upper, lower = points[EYE_CONTOURS[eye][4]], points[EYE_CONTOURS[eye][12]]
            if float(np.linalg.norm(upper - lower)) / max(width, 1e-6) < self.config.min_openness:
                continue  # a closed or blinking eye has no iris to move
            centre = points[IRIS_CENTRES[eye]]
            radius = float(np.mean(np.linalg.norm(points[list(IRIS_RINGS[eye])] - centre, axis=1)))
            delta = (target - centre) * float(np.clip(strength, 0, 1))
            limit = self.config.max_shift * width
            if np.linalg.norm(delta) > limit:
                delta *= limit / np.linalg.norm(delta)
            if np.linalg.norm(delta) < 0.25:
                continue
            if image is None:
                image = face.image.copy()
            move_iris(image, contour, centre, radius, centre + delta, out=image)
        return image

    def reset(self) -> None:
        pass  # keeps nothing between frames

    def close(self) -> None:
        pass
