"""The model's eye geometry, defined once (numpy only: no torch, no OpenCV, no live app).

A GazeGAN model sees faces aligned by a similarity transform that puts the two eye centres on
fixed points of a `size` x `size` image; around each point it in-paints one `box_h` x `box_w`
box, resized to `crop` x `crop` for its encoders. The training data (training.data, .prepare,
.synthetic), the exported graphs (engines.graphs, .export) and the live aligner (livegaze.align)
all take these numbers from here, and export records them in the model so the live app aligns
faces with the geometry of the model it runs, not with its own defaults.

Dependency direction: livegaze -> engines -> training; this module is the bottom of it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np


@dataclass(frozen=True)
class EyeGeometry:
    """Aligned-face geometry; eye positions are fractions of `size` (x of eye 0 and 1, y)."""

    size: int = 256
    eye_x: tuple[float, float] = (0.344, 0.656)
    eye_y: float = 0.47
    box_h: int = 40
    box_w: int = 60
    crop: int = 64

    def __post_init__(self):
        if not (self.box_h <= self.size and self.box_w <= self.size):
            raise ValueError(f"eye boxes {self.box_w}x{self.box_h} do not fit a {self.size} px face")
        object.__setattr__(self, "eye_x", tuple(float(v) for v in self.eye_x))

    def eye_points(self) -> np.ndarray:
        """(2, 2) aligned pixel positions of the two eye centres."""
        return np.array([[self.eye_x[0] * self.size, self.eye_y * self.size],
                         [self.eye_x[1] * self.size, self.eye_y * self.size]], np.float32)

    def boxes(self) -> np.ndarray:
        """(2, 4) int64 boxes [x0, y0, x1, y1] around the fixed eye points."""
        return eye_boxes(self.eye_points(), self.box_h, self.box_w, self.size)

    def to_meta(self) -> dict:
        """Plain values for a model's metadata (export writes them, runners read them back)."""
        meta = asdict(self)
        meta["eye_x"] = list(self.eye_x)
        return meta

    @classmethod
    def from_meta(cls, meta: dict) -> EyeGeometry:
        """The geometry recorded in a model; keys it lacks (older exports) take the defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if k == "eye_x" else v) for k, v in meta.items() if k in known})

    @classmethod
    def from_config(cls, config) -> EyeGeometry:
        """The geometry of a training config (anything with size, box_h, box_w and crop)."""
        return cls(size=int(config["size"] if isinstance(config, dict) else config.size),
                   box_h=int(config["box_h"] if isinstance(config, dict) else config.box_h),
                   box_w=int(config["box_w"] if isinstance(config, dict) else config.box_w),
                   crop=int(config["crop"] if isinstance(config, dict) else config.crop))


def eye_boxes(centres: np.ndarray, box_h: int, box_w: int, size: int) -> np.ndarray:
    """(2, 2) eye centres -> (2, 4) int64 boxes of box_h x box_w centred on them, inside the image."""
    out = np.zeros((len(centres), 4), np.int64)
    for i, (cx, cy) in enumerate(np.asarray(centres, np.float64)):
        x0 = int(np.clip(round(cx - box_w / 2), 0, size - box_w))
        y0 = int(np.clip(round(cy - box_h / 2), 0, size - box_h))
        out[i] = (x0, y0, x0 + box_w, y0 + box_h)
    return out


def eye_mask(size: int, boxes) -> np.ndarray:
    """size x size float32 mask: 1 inside the eye boxes."""
    mask = np.zeros((size, size), np.float32)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = 1.0
    return mask


def similarity_from_eyes(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 similarity matrix (rotation, uniform scale, translation) taking two points onto two."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    sv, dv = src[1] - src[0], dst[1] - dst[0]
    scale = float(np.linalg.norm(dv) / max(np.linalg.norm(sv), 1e-6))
    angle = float(np.arctan2(dv[1], dv[0]) - np.arctan2(sv[1], sv[0]))
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    t = dst[0] - rot @ src[0]
    return np.hstack([rot, t[:, None]])


def invert_affine(m: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine matrix."""
    a = np.linalg.inv(np.asarray(m, np.float64)[:, :2])
    return np.hstack([a, -(a @ np.asarray(m, np.float64)[:, 2])[:, None]])


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """2x3 matrix applied to (N, 2) points, as float32."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    return (points @ np.asarray(m)[:, :2].T + np.asarray(m)[:, 2]).astype(np.float32)


def alignment(eye_centres: np.ndarray, geometry: EyeGeometry) -> np.ndarray:
    """2x3 frame -> aligned matrix for a face whose eye centres are `eye_centres`."""
    return similarity_from_eyes(eye_centres, geometry.eye_points())
