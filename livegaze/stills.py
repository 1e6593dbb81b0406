"""Correcting every face in a still image: the live path's gate, corrector and blend, per face.

Photos are not a stream: there is nothing to track, every face counts (not only the largest),
and a face may be small in a large picture, so the landmarker runs in image mode on up to
`max_input_width` pixels. The gate is the live one: a head turned away or closed eyes are left
alone, with the reason reported.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from livegaze.align import Aligner
from livegaze.blend import Blender
from livegaze.correctors.base import Corrector
from livegaze.frames import Outcome
from livegaze.gate import Gate
from livegaze.landmarks import FaceLandmarks, Landmarker, LandmarkerConfig


@dataclass
class FaceResult:
    """What happened to one face: corrected, unchanged, or the gate's reason."""

    face: FaceLandmarks
    outcome: Outcome
    ms: float  # time spent correcting this face

    @property
    def status(self) -> str:
        return self.outcome.value


class StillCorrector:
    """Finds every face in a photo and corrects each one through the gate."""

    def __init__(self, corrector: Corrector, gate: Gate | None = None, face_model: str | None = None,
                 max_faces: int = 8, max_input_width: int = 2048):
        self.corrector = corrector
        self.gate = gate or Gate()
        self.landmarker = Landmarker(LandmarkerConfig(model_path=face_model, num_faces=max_faces,
                                                      max_input_width=max_input_width, still_images=True))
        self.aligner = Aligner(corrector.geometry) if corrector.geometry is not None else None
        self.blender = Blender()

    def faces(self, image: np.ndarray) -> list[FaceLandmarks]:
        """Every face: the whole picture first, then overlapping windows, since MediaPipe's
        detector misses faces in a wide picture (of two people side by side it found one)."""
        found = self.landmarker.detect_all(image)
        h, w = image.shape[:2]
        for x0, y0, size in _windows(w, h):
            for face in self.landmarker.detect_all(image[y0:y0 + size, x0:x0 + size]):
                face.points[:, 0] += x0
                face.points[:, 1] += y0
                if not any(_same_face(face, other) for other in found):
                    found.append(face)
        return found

    def correct(self, image: np.ndarray, strength: float = 1.0,
                faces: list[FaceLandmarks] | None = None) -> tuple[np.ndarray, list[FaceResult]]:
        """(corrected copy of image, one result per face found)."""
        out = image.copy()
        results = []
        for face in self.faces(image) if faces is None else faces:
            self.gate.reset()  # every face stands alone: no hysteresis from the one before
            share, reason = self.gate.target(face, image=image)
            if share <= 0:
                results.append(FaceResult(face, reason, 0.0))
                continue
            t0 = time.perf_counter()
            changed = self.correct_face(out, face, strength * share)
            results.append(FaceResult(face, Outcome.CORRECTED if changed else Outcome.UNCHANGED,
                                      (time.perf_counter() - t0) * 1000))
        return out, results

    def correct_face(self, image: np.ndarray, face: FaceLandmarks, strength: float) -> bool:
        """Correct one face of `image` in place; True when any pixel changed."""
        self.corrector.reset()  # each face of each photo stands alone
        if self.corrector.space == "frame":
            return self.corrector.correct_frame(image, face, strength, out=image)
        aligned = self.aligner.align(image, np.stack([face.eye_centre(0), face.eye_centre(1)]), face)
        corrected = self.corrector.correct(aligned, strength)
        if corrected is None:
            return False
        opacity = 1.0 if self.corrector.handles_strength else strength
        self.blender.blend(image, aligned, corrected, opacity, out=image)
        return True

    def close(self) -> None:
        self.landmarker.close()
        self.corrector.close()


def _windows(w: int, h: int) -> list[tuple[int, int, int]]:
    """Square windows (x0, y0, side) that overlap by half: along the long side at the short
    side's size, and a 3 x 3 grid at half the long side's."""
    out = []
    for side in {min(w, h), max(w, h) // 2}:
        if side < 64 or side >= max(w, h):
            continue
        for y0 in _starts(h, side):
            for x0 in _starts(w, side):
                out.append((x0, y0, side))
    return out


def _starts(length: int, side: int) -> list[int]:
    if side >= length:
        return [0]
    count = int(np.ceil((length - side) / (side / 2))) + 1
    return [int(round(v)) for v in np.linspace(0, length - side, count)]


def _same_face(a: FaceLandmarks, b: FaceLandmarks) -> bool:
    """Two detections of one face: their eye centres within a third of an eye distance."""
    span = float(np.linalg.norm(b.eye_centre(0) - b.eye_centre(1)))
    return bool(np.linalg.norm(a.eye_centre(0) - b.eye_centre(0)) < span / 3)
