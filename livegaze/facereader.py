"""The live app's face landmarker as a training.faces.FaceReader, for data preparation.

Registered under the `livegaze.face_readers` entry point (pyproject.toml), so
`python -m training.prepare` finds it without the training package importing the live app.
"""
from __future__ import annotations

import numpy as np

from livegaze.correctors.geometric import GeometricCorrector
from livegaze.landmarks import FaceLandmarks, Landmarker, LandmarkerConfig
from training.faces import FaceReading


def gaze_offset(face: FaceLandmarks) -> float:
    """How far the irises sit from the camera-facing position, in eye widths (0 = eye contact)."""
    targets = GeometricCorrector().targets(face.points[:, :2], face)
    return float(np.mean([np.linalg.norm(face.iris(e)[0] - targets[e]) / max(face.eye_size(e)[0], 1.0)
                          for e in range(2)]))


class MediaPipeFaceReader:
    """Every photo stands alone (image mode: no tracking from one photo to the next)."""

    def __init__(self, model_path: str | None = None):
        self.landmarker = Landmarker(LandmarkerConfig(model_path=model_path, still_images=True, num_faces=1))

    def read(self, image: np.ndarray) -> FaceReading | None:
        face = self.landmarker.detect(image)
        if face is None:
            return None
        return FaceReading(eye_centres=np.stack([face.eye_centre(0), face.eye_centre(1)]),
                           openness=(face.openness(0), face.openness(1)), gaze_offset=gaze_offset(face))

    def close(self) -> None:
        self.landmarker.close()
