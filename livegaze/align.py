"""The align stage: the face into the model's square space, and the eye regions cut out.

The geometry (where the eyes land, the eye boxes, the crop size) is the model's own
(training.geometry.EyeGeometry): the GazeGAN corrector hands over the geometry recorded in the
model it runs, so a model trained with other boxes gets crops of its own boxes.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livegaze.landmarks import FaceLandmarks
from training.geometry import EyeGeometry, alignment, apply_affine, eye_mask, invert_affine

__all__ = ["AlignedFace", "Aligner", "EyeGeometry"]


@dataclass
class AlignedFace:
    """The face in model space plus everything needed to map results back to the frame."""

    image: np.ndarray  # size x size x 3 uint8 BGR
    matrix: np.ndarray  # 2x3, frame -> aligned
    inverse: np.ndarray  # 2x3, aligned -> frame
    eye_centres: np.ndarray  # (2, 2) in aligned pixels
    boxes: list[tuple[int, int, int, int]]  # per eye (x0, y0, x1, y1) in aligned pixels
    points: np.ndarray | None = None  # landmarks (478, 2) in aligned pixels
    face: FaceLandmarks | None = None

    def mask(self) -> np.ndarray:
        """size x size float32 mask: 1 inside the eye boxes."""
        return eye_mask(self.image.shape[0], self.boxes)

    def crops(self, crop: int = 64) -> np.ndarray:
        """(2, crop, crop, 3) uint8: each eye box resized to crop x crop (aspect not kept)."""
        return np.stack([cv2.resize(self.image[y0:y1, x0:x1], (crop, crop), interpolation=cv2.INTER_AREA)
                         for x0, y0, x1, y1 in self.boxes])


class Aligner:
    """Maps a frame and tracked eye centres into the aligned face of one geometry."""

    def __init__(self, geometry: EyeGeometry | None = None):
        self.geometry = geometry or EyeGeometry()
        self._dst = self.geometry.eye_points()
        # The eyes always land on the same aligned pixels, so the boxes are fixed.
        self.boxes = [tuple(int(v) for v in box) for box in self.geometry.boxes()]

    def align(self, frame: np.ndarray, eye_centres: np.ndarray,
              face: FaceLandmarks | None = None) -> AlignedFace:
        m = alignment(eye_centres, self.geometry)
        size = self.geometry.size
        image = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        points = apply_affine(m, face.points[:, :2]) if face is not None else None
        return AlignedFace(image=image, matrix=m, inverse=invert_affine(m), eye_centres=self._dst.copy(),
                           boxes=list(self.boxes), points=points, face=face)
