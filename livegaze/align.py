"""Aligning the face into the model's square space and cutting out the eye regions.

A similarity transform (rotation, uniform scale, translation) puts the two tracked eye centres at
fixed positions of a `size` x `size` image. There the GazeGAN inputs are defined: a mask with one
`box_h` x `box_w` box per eye and one `crop` x `crop` resize of each box.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livegaze.landmarks import FaceLandmarks


@dataclass(frozen=True)
class AlignConfig:
    """Geometry of the aligned face; eye positions are fractions of `size` (x of eye 0 and 1, y)."""

    size: int = 256
    eye_x: tuple[float, float] = (0.344, 0.656)
    eye_y: float = 0.47
    box_h: int = 40
    box_w: int = 60
    crop: int = 64

    def eye_points(self) -> np.ndarray:
        return np.array([[self.eye_x[0] * self.size, self.eye_y * self.size],
                         [self.eye_x[1] * self.size, self.eye_y * self.size]], np.float32)


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


def similarity_from_eyes(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 similarity matrix taking the two points `src` onto `dst` exactly."""
    sv = src[1] - src[0]
    dv = dst[1] - dst[0]
    scale = float(np.linalg.norm(dv) / max(np.linalg.norm(sv), 1e-6))
    angle = float(np.arctan2(dv[1], dv[0]) - np.arctan2(sv[1], sv[0]))
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    t = dst[0] - rot @ src[0]
    return np.hstack([rot, t[:, None]]).astype(np.float64)


def invert_affine(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(m)


def apply_affine(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, np.float64).reshape(-1, 2)
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def eye_boxes(centres: np.ndarray, box_h: int, box_w: int, size: int) -> list[tuple[int, int, int, int]]:
    """Integer boxes of box_h x box_w centred on each eye centre, kept inside the image."""
    boxes = []
    for cx, cy in np.asarray(centres):
        x0 = int(np.clip(round(cx - box_w / 2), 0, size - box_w))
        y0 = int(np.clip(round(cy - box_h / 2), 0, size - box_h))
        boxes.append((x0, y0, x0 + box_w, y0 + box_h))
    return boxes


def eye_mask(size: int, boxes) -> np.ndarray:
    mask = np.zeros((size, size), np.float32)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = 1.0
    return mask


class Aligner:
    """Maps a frame and tracked eye centres into the aligned face."""

    def __init__(self, config: AlignConfig | None = None):
        self.config = config or AlignConfig()
        self._dst = self.config.eye_points()
        # The eyes always land on the same aligned pixels, so the boxes are fixed.
        self.boxes = eye_boxes(self._dst, self.config.box_h, self.config.box_w, self.config.size)

    def align(self, frame: np.ndarray, eye_centres: np.ndarray,
              face: FaceLandmarks | None = None) -> AlignedFace:
        m = similarity_from_eyes(np.asarray(eye_centres, np.float64), self._dst.astype(np.float64))
        size = self.config.size
        image = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        points = apply_affine(m, face.points[:, :2]) if face is not None else None
        return AlignedFace(image=image, matrix=m, inverse=invert_affine(m), eye_centres=self._dst.copy(),
                           boxes=list(self.boxes), points=points, face=face)
