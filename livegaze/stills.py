"""Correcting every face in a still image: the live path's gate and its align, correct and
blend steps (FrameProcessor.correct_face), per face.

Photos are not a stream: there is nothing to track, every face counts (not only the largest),
and a face may be small in a large picture, so the landmarker runs in image mode on up to
`max_input_width` pixels. The gate is the live one: a head turned away or closed eyes are left
alone, with the reason reported.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livegaze.correctors.base import Corrector
from livegaze.frames import Frame, Outcome
from livegaze.gate import Gate
from livegaze.landmarks import FaceLandmarks, Landmarker, LandmarkerConfig
from livegaze.processor import FrameProcessor, LiveControls


@dataclass
class FaceResult:
    """What happened to one face: corrected, unchanged, or the gate's reason."""

    face: FaceLandmarks
    outcome: Outcome
    ms: float  # time spent correcting this face (align, correct, blend)

    @property
    def status(self) -> str:
        return self.outcome.value


class StillCorrector:
    """Finds every face in a photo and corrects each one through the gate."""

    def __init__(self, corrector: Corrector, gate: Gate | None = None, face_model: str | None = None,
                 max_faces: int = 8, max_input_width: int = 2048):
        self.corrector = corrector
        self.gate = gate or Gate()
        self.landmarker = still_landmarker(face_model, max_faces, max_input_width)
        self.processor = FrameProcessor(None, corrector)  # only its steps after the gate are used
        self.processor.keep_original = False  # each face is corrected in place in the output copy

    def faces(self, image: np.ndarray) -> list[FaceLandmarks]:
        """Every face in the photo, from the left (`find_faces`)."""
        return find_faces(self.landmarker, image)

    def correct(self, image: np.ndarray, strength: float = LiveControls.strength,
                faces: list[FaceLandmarks] | None = None) -> tuple[np.ndarray, list[FaceResult]]:
        """(corrected copy of image, one result per face found)."""
        out = image.copy()
        results = []
        for face in self.faces(image) if faces is None else faces:
            self.gate.reset()  # every face stands alone: no hysteresis from the one before
            share, reason = self.gate.target(face, image=out)  # out: the fit it makes is the warp's too
            if share <= 0:
                results.append(FaceResult(face, reason, 0.0))
                continue
            results.append(self.correct_face(out, face, strength * share))
        return out, results

    def correct_face(self, image: np.ndarray, face: FaceLandmarks, strength: float) -> FaceResult:
        """Correct one face of `image` in place, with the live path's own steps."""
        self.corrector.reset()  # each face of each photo stands alone
        frame = self.processor.correct_face(Frame(0, 0.0, image, face=face, strength=strength))
        if frame.image is not image:  # a step that failed handed back its input
            image[...] = frame.image
        return FaceResult(face, frame.outcome, sum(frame.timings.values()))

    def close(self) -> None:
        self.landmarker.close()
        self.processor.close()


def still_landmarker(face_model: str | None = None, max_faces: int = 8,
                     max_input_width: int = 2048) -> Landmarker:
    """A landmarker for photos: every call stands alone, several faces, large input kept."""
    return Landmarker(LandmarkerConfig(model_path=face_model, num_faces=max_faces,
                                       max_input_width=max_input_width, still_images=True))


def find_faces(landmarker: Landmarker, image: np.ndarray) -> list[FaceLandmarks]:
    """Every face in a photo, from the left (what "face 2" means in a report): the whole
    picture first, then overlapping windows, since MediaPipe's detector misses faces in a wide
    picture (of two people side by side it found one)."""
    found = landmarker.detect_all(image)
    h, w = image.shape[:2]
    for x0, y0, size in _windows(w, h):
        for face in landmarker.detect_all(image[y0:y0 + size, x0:x0 + size]):
            face.points[:, 0] += x0
            face.points[:, 1] += y0
            if not any(_same_face(face, other) for other in found):
                found.append(face)
    return sorted(found, key=lambda face: float(face.points[:, 0].mean()))


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
