"""The per-frame work between capture and sink, in two steps:
`locate` (landmarks; several frames at once, one MediaPipe instance per worker thread) and
`correct`, itself `prepare` (tracking + align; strictly in frame order) then `finish` (corrector +
blend; on `concurrency` threads at once where the corrector allows it).

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
from livegaze.gate import Gate
from livegaze.landmarks import Landmarker
from livegaze.tracking import EyeTracker, TrackerConfig

log = logging.getLogger(__name__)

STREAM_FPS = 30.0  # the frame rate stream time is counted in (cameras deliver 25-60)


@dataclass
class LiveSettings:
    """What the user changes while running (tray slider, toggle); read once per frame."""

    enabled: bool = True
    strength: float = 1.0


class FrameProcessor:
    """Landmarks -> tracking -> align -> correct -> blend for one frame at a time."""

    def __init__(self, landmarkers: Landmarker | list[Landmarker] | None, corrector: Corrector | None,
                 tracker: EyeTracker | None = None, aligner: Aligner | None = None,
                 blender: Blender | None = None, settings: LiveSettings | None = None,
                 gate: Gate | None = None):
        if landmarkers is not None and not isinstance(landmarkers, list):
            landmarkers = [landmarkers]
        self.landmarkers = landmarkers or []
        self.corrector = corrector
        self.tracker = tracker or EyeTracker(TrackerConfig())
        self.aligner = aligner or Aligner(AlignConfig())
        self.blender = blender or Blender(BlendConfig())
        self.settings = settings or LiveSettings()
        self.gate = gate or Gate()
        self._last_face = None  # the last face corrected, held while the share eases out
        self.errors = 0
        # Blend into a copy only when someone wants the untouched frame too (previews, demo).
        self.keep_original = True

    @property
    def passthrough(self) -> bool:
        return not self.landmarkers or self.corrector is None

    def set_corrector(self, corrector: Corrector) -> None:
        """Swap the corrector between frames (the tray's model choice)."""
        old, self.corrector = self.corrector, corrector
        if old is not None and old is not corrector:
            old.close()

    def locate(self, frame: Frame, worker: int = 0) -> Frame:
        """Landmarks of one frame with landmarker number `worker` (each thread owns one)."""
        if self.passthrough:
            frame.status = "passthrough"
            return frame
        t0 = time.perf_counter()
        try:
            frame.face = self.landmarkers[worker].detect(frame.image, int(frame.t_capture * 1000))
        except Exception as exc:  # a bad frame must not stop the stream
            log.warning("frame %d: landmarks failed (%s)", frame.seq, exc)
            frame.face = None
        frame.timings["landmarks"] = (time.perf_counter() - t0) * 1000
        return frame

    @property
    def concurrency(self) -> int:
        """How many frames `finish` may work on at once (what the corrector allows)."""
        return max(1, int(getattr(self.corrector, "concurrency", 1))) if self.corrector is not None else 1

    def correct(self, frame: Frame) -> Frame:
        """Tracking (needs frames in order), then align, correct and blend."""
        return self.finish(frame) if self.prepare(frame) else frame

    def prepare(self, frame: Frame) -> bool:
        """Tracking and alignment, in frame order. True when the frame still needs `finish`."""
        if frame.status == "passthrough":
            return False
        t0 = time.perf_counter()
        frame.eyes = self.tracker.update(frame.face, frame.t_capture)
        frame.timings["track"] = (time.perf_counter() - t0) * 1000
        face = frame.face if frame.eyes is not None else None
        settings = self.settings
        share, reason = self.gate.update(face, settings.enabled and settings.strength > 0, image=frame.image)
        if face is None and share > 0 and self._last_face is not None:
            # The face was lost this frame (a detection dropout, or it left): keep correcting
            # where it was while the share eases out, rather than jumping back.
            face = frame.face = self._last_face
        self._last_face = face
        if face is None or share <= 0:
            frame.status = reason or "no_face"
            if face is None and self.corrector is not None:
                self.corrector.reset()  # the next face may be someone else
            return False
        frame.strength = settings.strength * share
        if self.corrector.space == "frame":
            return True  # works on the frame itself: nothing to align
        try:
            t0 = time.perf_counter()
            centres = np.stack([box.centre for box in frame.eyes]) if frame.eyes is not None else \
                np.stack([face.eye_centre(0), face.eye_centre(1)])
            frame.aligned = self.aligner.align(frame.image, centres, frame.face)
            frame.timings["align"] = (time.perf_counter() - t0) * 1000
        except Exception as exc:
            self._failed(frame, exc)
            return False
        return True

    def finish(self, frame: Frame) -> Frame:
        """The corrector and the blend for a prepared frame; any thread, several at once."""
        face, strength = frame.aligned, frame.strength
        if self.corrector.space == "frame":
            return self._finish_in_frame(frame)
        try:
            t1 = time.perf_counter()
            corrected = self.corrector.correct(face, strength)
            t2 = time.perf_counter()
            frame.timings["correct"] = (t2 - t1) * 1000
            if corrected is None:
                frame.status = "unchanged"
                return frame
            opacity = 1.0 if self.corrector.handles_strength else strength
            out = None if self.keep_original else frame.image
            frame.image = self.blender.blend(frame.image, face, corrected, opacity, out=out)
            frame.timings["blend"] = (time.perf_counter() - t2) * 1000
            frame.status = "corrected"
        except Exception as exc:
            self._failed(frame, exc)
        finally:
            frame.aligned = None  # the aligned crop is not needed downstream
        return frame

    def _finish_in_frame(self, frame: Frame) -> Frame:
        """A frame-space corrector changes the eye regions directly (into a copy when the
        untouched frame is wanted too)."""
        try:
            t1 = time.perf_counter()
            out = frame.image.copy() if self.keep_original else frame.image
            # Stream time from the sequence number (gaps from drops included): a file read
            # faster than real time must smooth the same as the live camera it stands for.
            changed = self.corrector.correct_frame(frame.image, frame.face, frame.strength, out=out,
                                                   t=frame.seq / STREAM_FPS)
            frame.timings["correct"] = (time.perf_counter() - t1) * 1000
            frame.measured = self.corrector.last_measured
            frame.image = out
            frame.status = "corrected" if changed else "unchanged"
        except Exception as exc:
            self._failed(frame, exc)
        return frame

    def _failed(self, frame: Frame, exc: Exception) -> None:
        self.errors += 1
        log.warning("frame %d: correction failed, passing it through (%s: %s)", frame.seq,
                    type(exc).__name__, exc)
        frame.status = "error"

    def process(self, frame: Frame) -> Frame:
        return self.correct(self.locate(frame))

    def close(self) -> None:
        for landmarker in self.landmarkers:
            landmarker.close()
        if self.corrector is not None:
            self.corrector.close()
