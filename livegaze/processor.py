"""The per-frame work between capture and sink, in two steps that can run on two threads:
`locate` (landmarks + tracking) and `correct` (align + corrector + blend).

Whatever goes wrong for one frame (no face, eyes closed, a corrector error) leaves that frame
untouched; `frame.status` says why.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from livegaze.align import AlignConfig, Aligner
from livegaze.blend import BlendConfig, Blender
from livegaze.correctors.base import Corrector
from livegaze.frames import Frame
from livegaze.landmarks import Landmarker
from livegaze.tracking import EyeTracker, TrackerConfig

log = logging.getLogger(__name__)


@dataclass
class LiveSettings:
    """What the user changes while running (tray slider, toggle); read once per frame."""

    enabled: bool = True
    strength: float = 1.0


class FrameProcessor:
    """Landmarks -> tracking -> align -> correct -> blend for one frame at a time."""

    def __init__(self, landmarker: Landmarker | None, corrector: Corrector | None,
                 tracker: EyeTracker | None = None, aligner: Aligner | None = None,
                 blender: Blender | None = None, settings: LiveSettings | None = None):
        self.landmarker = landmarker
        self.corrector = corrector
        self.tracker = tracker or EyeTracker(TrackerConfig())
        self.aligner = aligner or Aligner(AlignConfig())
        self.blender = blender or Blender(BlendConfig())
        self.settings = settings or LiveSettings()
        self.errors = 0

    @property
    def passthrough(self) -> bool:
        return self.landmarker is None or self.corrector is None

    def set_corrector(self, corrector: Corrector) -> None:
        """Swap the corrector between frames (the tray's model choice)."""
        old, self.corrector = self.corrector, corrector
        if old is not None and old is not corrector:
            old.close()

    def locate(self, frame: Frame) -> Frame:
        if self.passthrough:
            frame.status = "passthrough"
            return frame
        t0 = time.perf_counter()
        try:
            frame.face = self.landmarker.detect(frame.image, int(frame.t_capture * 1000))
        except Exception as exc:  # a bad frame must not stop the stream
            log.warning("frame %d: landmarks failed (%s)", frame.seq, exc)
            frame.face = None
        t1 = time.perf_counter()
        frame.eyes = self.tracker.update(frame.face, frame.t_capture)
        frame.timings["landmarks"] = (t1 - t0) * 1000
        frame.timings["track"] = (time.perf_counter() - t1) * 1000
        if frame.face is None or frame.eyes is None:
            frame.status = "no_face"
        return frame

    def correct(self, frame: Frame) -> Frame:
        if frame.status in ("passthrough", "no_face"):
            return frame
        settings = self.settings
        if not settings.enabled or settings.strength <= 0:
            frame.status = "disabled"
            return frame
        try:
            t0 = time.perf_counter()
            centres = np.stack([box.centre for box in frame.eyes])
            face = self.aligner.align(frame.image, centres, frame.face)
            t1 = time.perf_counter()
            corrected = self.corrector.correct(face, settings.strength)
            t2 = time.perf_counter()
            frame.timings["align"] = (t1 - t0) * 1000
            frame.timings["correct"] = (t2 - t1) * 1000
            if corrected is None:
                frame.status = "unchanged"
                return frame
            opacity = 1.0 if self.corrector.handles_strength else settings.strength
            frame.image = self.blender.blend(frame.image, face, corrected, opacity)
            frame.timings["blend"] = (time.perf_counter() - t2) * 1000
            frame.status = "corrected"
        except Exception as exc:
            self.errors += 1
            log.warning("frame %d: correction failed, passing it through (%s: %s)", frame.seq,
                        type(exc).__name__, exc)
            frame.status = "error"
        return frame

    def process(self, frame: Frame) -> Frame:
        return self.correct(self.locate(frame))

    def close(self) -> None:
        if self.landmarker is not None:
            self.landmarker.close()
        if self.corrector is not None:
            self.corrector.close()
