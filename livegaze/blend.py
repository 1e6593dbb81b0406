"""Putting the corrected eyes back into the frame.

Only the eye boxes, mapped back from the aligned face, change; their edges are feathered and the
corrected pixels are shifted to match the colour of the surrounding skin. Every other pixel of the
output is the input pixel, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from livegaze.align import AlignedFace
from training.geometry import apply_affine


@dataclass
class BlendConfig:
    """feather: width in aligned pixels of the soft edge inside each box; colour_match: shift the
    corrected eyes' mean colour to the original's on the feather band."""

    feather: int = 6
    colour_match: bool = True


@lru_cache(maxsize=8)
def feathered_alpha(size: int, boxes: tuple, feather: int) -> np.ndarray:
    """size x size float32: 0 outside the boxes, ramping to 1 over `feather` pixels inside."""
    alpha = np.zeros((size, size), np.float32)
    for x0, y0, x1, y1 in boxes:
        hard = np.zeros((y1 - y0 + 2, x1 - x0 + 2), np.uint8)
        hard[1:-1, 1:-1] = 1
        dist = cv2.distanceTransform(hard, cv2.DIST_L2, 3)[1:-1, 1:-1]
        ramp = np.clip(dist / max(feather, 1), 0, 1) if feather > 0 else np.ones_like(dist)
        alpha[y0:y1, x0:x1] = np.maximum(alpha[y0:y1, x0:x1], ramp)
    alpha.setflags(write=False)
    return alpha


class Blender:
    """Composites a corrected aligned face into a copy of the frame."""

    def __init__(self, config: BlendConfig | None = None):
        self.config = config or BlendConfig()

    def _colour_matched(self, original: np.ndarray, corrected: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Corrected pixels (float32) shifted so their mean on the feather band matches the original."""
        corrected = corrected.astype(np.float32)
        band = (alpha > 0) & (alpha < 1)
        if not self.config.colour_match or not band.any():
            return corrected
        return corrected + (original[band].astype(np.float32).mean(0) - corrected[band].mean(0))

    def frame_region(self, face: AlignedFace, frame_shape) -> tuple[int, int, int, int] | None:
        """Bounding box (x0, y0, x1, y1) in the frame of everything the blend may touch."""
        corners = []
        for x0, y0, x1, y1 in face.boxes:
            corners += [(x0, y0), (x1, y0), (x0, y1), (x1, y1)]
        pts = apply_affine(face.inverse, np.array(corners, np.float32))
        h, w = frame_shape[:2]
        x0, y0 = np.floor(pts.min(0)).astype(int) - 2
        x1, y1 = np.ceil(pts.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            return None
        return int(x0), int(y0), int(x1), int(y1)

    def blend(self, frame: np.ndarray, face: AlignedFace, corrected: np.ndarray,
              opacity: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
        """Frame with the corrected eyes pasted in; writes into `out` (a copy of frame) if given."""
        if out is None:
            out = frame.copy()
        region = self.frame_region(face, frame.shape)
        opacity = float(np.clip(opacity, 0.0, 1.0))
        if region is None or opacity <= 0:
            return out
        size = face.image.shape[0]
        # Work only on the aligned rectangle that holds both boxes.
        bx0, by0 = min(b[0] for b in face.boxes), min(b[1] for b in face.boxes)
        bx1, by1 = max(b[2] for b in face.boxes), max(b[3] for b in face.boxes)
        alpha = feathered_alpha(size, tuple(face.boxes), self.config.feather)[by0:by1, bx0:bx1]
        # Replace only what the corrector changed: resampling untouched pixels through the
        # aligned face would soften them and show the box outline.
        changed = np.any(corrected[by0:by1, bx0:bx1] != face.image[by0:by1, bx0:bx1], axis=2)
        changed = cv2.GaussianBlur(cv2.dilate(changed.astype(np.uint8), np.ones((5, 5), np.uint8))
                                   .astype(np.float32), (5, 5), 1.0)
        alpha = np.minimum(alpha, changed)
        source = self._colour_matched(face.image[by0:by1, bx0:bx1], corrected[by0:by1, bx0:bx1], alpha)
        x0, y0, x1, y1 = region
        # Affine from region pixels to the aligned rectangle (the forward map, shifted at both ends).
        m = face.matrix.copy()
        m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64) - np.array([bx0, by0], np.float64)
        dsize = (x1 - x0, y1 - y0)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        warped = cv2.warpAffine(source, m, dsize, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        a = cv2.warpAffine(alpha, m, dsize, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        a = (a * opacity)[..., None]
        roi = out[y0:y1, x0:x1]
        base = roi.astype(np.float32)
        mixed = np.clip(np.rint(base + a * (warped - base)), 0, 255).astype(np.uint8)
        # alpha == 0 means "not an eye pixel": keep the input byte exactly.
        np.copyto(roi, mixed, where=a > 0)
        return out

    def eye_region_mask(self, face: AlignedFace, frame_shape) -> np.ndarray:
        """Bool mask of frame pixels the blend can change (for tests and debugging overlays)."""
        mask = np.zeros(frame_shape[:2], np.uint8)
        for x0, y0, x1, y1 in face.boxes:
            quad = apply_affine(face.inverse, np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], np.float32))
            cv2.fillConvexPoly(mask, np.round(quad).astype(np.int32), 1)
        return cv2.dilate(mask, np.ones((5, 5), np.uint8)).astype(bool)
