"""What data preparation needs to know about the face in a photo, as a small interface.

`python -m training.prepare` sorts photos by gaze; it needs a face landmarker for that, but the
training package never imports the live app. The live app registers its MediaPipe reader under
the `livegaze.face_readers` entry point (see pyproject.toml); `default_reader()` finds it, or
any other installed reader, by that name.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol

import numpy as np

ENTRY_POINTS = "livegaze.face_readers"


@dataclass
class FaceReading:
    """One face: its eye centres (2, 2) in photo pixels, how open each eye is (lid gap over eye
    width), and how far the gaze is from the camera (eye widths of iris offset, 0 = eye contact)."""

    eye_centres: np.ndarray
    openness: tuple[float, float]
    gaze_offset: float


class FaceReader(Protocol):
    def read(self, image: np.ndarray) -> FaceReading | None:
        """The largest face of a BGR photo, or None when there is none."""

    def close(self) -> None: ...


def default_reader(name: str = "mediapipe") -> FaceReader:
    """The face reader registered as `name` (one line naming what is missing when none is)."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINTS)}
    if name not in found:
        raise LookupError(f"no face reader {name!r} is installed (entry point group {ENTRY_POINTS}; "
                          f"found: {', '.join(sorted(found)) or 'none'}); pip install -e . installs livegaze's")
    return found[name].load()()
