"""Each live stage's step, for one frame (livegaze.stages lists them in path order and says on
which threads they run; livegaze.pipeline runs them there).

Whatever goes wrong for one frame (no face, eyes closed, a corrector error) leaves that frame
untouched; `frame.outcome` says why.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from livegaze import stages
from livegaze.align import Aligner
from livegaze.blend import BlendConfig, Blender
from livegaze.correctors.base import Corrector
from livegaze.facefollow import FaceFollower
from livegaze.frames import STREAM_FPS, Frame, Outcome
from livegaze.gate import Gate
from livegaze.landmarks import Landmarker
from livegaze.stages import Threads
from livegaze.tracking import EyeTracker, TrackerConfig

log = logging.getLogger(__name__)


@dataclass
class LiveControls:
    """What the user changes while running (tray toggle and slider); read once per frame."""

    enabled: bool = True
    strength: float = 1.0


class FrameProcessor:
    """The steps of the stages between capture and sink: `step_<stage name>(frame)` each; `run`
    takes a frame through the stages of one kind of thread."""

    def __init__(self, landmarkers: Landmarker | list[Landmarker] | None, corrector: Corrector | None,
                 tracker: EyeTracker | None = None, blender: Blender | None = None,
                 live: LiveControls | None = None, gate: Gate | None = None):
        if landmarkers is not None and not isinstance(landmarkers, list):
            landmarkers = [landmarkers]
        self.landmarkers = landmarkers or []
        # Following the face between model runs needs the frames in order: one landmark worker.
        config = self.landmarkers[0].config if len(self.landmarkers) == 1 else None
        every = config.model_every if config is not None and not config.still_images else 1
        self.follower = FaceFollower(every) if every > 1 else None
        self._closed = False
        self.corrector: Corrector | None = None
        self.aligner: Aligner | None = None
        self.tracker = tracker or EyeTracker(TrackerConfig())
        self.blender = blender or Blender(BlendConfig())
        self.live = live or LiveControls()
        self.gate = gate or Gate()
        self._last_face = None  # the last face corrected, held while the share eases out
        self.errors = 0
        # Blend into a copy only when someone wants the untouched frame too (previews, demo).
        self.keep_original = True
        if corrector is not None:
            self.set_corrector(corrector)

    @property
    def passthrough(self) -> bool:
        return not self.landmarkers or self.corrector is None

    @property
    def concurrency(self) -> int:
        """How many frames the CONCURRENT stages may work on at once (what the corrector allows)."""
        return max(1, self.corrector.concurrency) if self.corrector is not None else 1

    def set_corrector(self, corrector: Corrector) -> None:
        """Swap the corrector between frames (the tray's model choice); the align stage takes the
        new one's geometry (a model's own eye boxes)."""
        old, self.corrector = self.corrector, corrector
        self.aligner = Aligner(corrector.geometry) if corrector.geometry is not None else None
        if old is not None and old is not corrector:
            old.close()

    def run(self, threads: Threads, frame: Frame, *args) -> Frame:
        """The steps of the stages on `threads`, in path order, each timed under its name; a
        frame whose outcome is settled skips the rest. A failing step leaves the frame as it was."""
        self._steps(stages.on(threads), frame, *args)
        if threads is Threads.CONCURRENT:
            frame.aligned = frame.corrected = None  # not needed downstream
        return frame

    def correct_face(self, frame: Frame) -> Frame:
        """The stages after the gate (align, correct, blend) for a frame whose face and strength
        are already known: photos (livegaze.stills) put each of their faces through these."""
        return self._steps(stages.between("gate", "sink"), frame)

    def _steps(self, path: tuple[stages.Stage, ...], frame: Frame, *args) -> Frame:
        for stage in path:
            if frame.done:
                break
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                worked = getattr(self, "step_" + stage.name)(frame, *args)
            except Exception as exc:  # a bad frame must not stop the stream
                self._failed(frame, stage.name, exc)
                worked = True
            if worked:
                frame.timings[stage.name] = (time.perf_counter() - t0) * 1000
                frame.cpu_timings[stage.name] = (time.thread_time() - c0) * 1000
        return frame

    def process(self, frame: Frame) -> Frame:
        """Every processing stage on this thread, in order (evaluation and tests; the live
        pipeline spreads them over threads)."""
        for threads in (Threads.PER_WORKER, Threads.IN_ORDER, Threads.CONCURRENT):
            self.run(threads, frame, *((0,) if threads is Threads.PER_WORKER else ()))
        return frame

    # -- the steps, in path order: each returns whether it did any work (then it is timed) --

    def step_landmarks(self, frame: Frame, worker: int = 0) -> bool:
        """With landmarker number `worker` (each landmark thread owns one)."""
        if self.passthrough:
            frame.outcome = Outcome.PASSTHROUGH
            return False
        follower = self.follower
        if follower is not None:
            frame.followed, frame.face = follower.follow(frame.image)
            if frame.followed:
                return True
        try:
            # Stream time from the sequence number, as the warp's: the model smooths its landmarks
            # over time, and a file read faster than real time (or a loaded machine) must give
            # the same landmarks as the camera it stands for.
            frame.face = self.landmarkers[worker].detect(frame.image, round(frame.seq * 1000 / STREAM_FPS),
                                                         everyone=follower is not None and follower.eyes_moving)
            if follower is not None:
                follower.keyframe(frame.image, frame.face)
        except Exception as exc:  # the frame goes on as one without a face (the tracker and gate
            # ease out as for a dropout), but counts as failed: a model failing on every frame is
            # a broken run, not an empty room
            self._log_failure(frame, "landmarks", exc)
            frame.face = None
            frame.failed = f"landmarks: {type(exc).__name__}: {exc}"
        return True

    def step_track(self, frame: Frame) -> bool:
        frame.eyes = self.tracker.update(frame.face, frame.t_capture)
        return True

    def step_gate(self, frame: Frame) -> bool:
        face = frame.face if frame.eyes is not None else None
        live = self.live
        share, reason = self.gate.update(face, live.enabled and live.strength > 0, image=frame.image)
        if face is None and share > 0 and self._last_face is not None:
            # The face was lost this frame (a detection dropout, or it left): keep correcting
            # where it was while the share eases out, rather than jumping back.
            face = frame.face = self._last_face
        self._last_face = face
        if face is None or share <= 0:
            frame.outcome = reason or Outcome.NO_FACE
            if face is None:
                self.corrector.reset()  # the next face may be someone else
            return True
        frame.strength = live.strength * share
        return True

    def step_align(self, frame: Frame) -> bool:
        if self.aligner is None:
            return False  # a frame-space corrector: nothing to align
        centres = np.stack([box.centre for box in frame.eyes]) if frame.eyes is not None else \
            np.stack([frame.face.eye_centre(0), frame.face.eye_centre(1)])
        frame.aligned = self.aligner.align(frame.image, centres, frame.face)
        return True

    def step_correct(self, frame: Frame) -> bool:
        if self.corrector.space == "frame":
            # Into a copy when the untouched frame is wanted too. Stream time from the sequence
            # number (gaps from drops included): a file read faster than real time must smooth
            # the same as the live camera it stands for.
            out = frame.image.copy() if self.keep_original else frame.image
            changed = self.corrector.correct_frame(frame.image, frame.face, frame.strength, out=out,
                                                   t=frame.seq / STREAM_FPS)
            frame.measured = self.corrector.last_measured
            frame.image = out
            frame.outcome = Outcome.CORRECTED if changed else Outcome.UNCHANGED
            return True
        frame.corrected = self.corrector.correct(frame.aligned, frame.strength)
        if frame.corrected is None:
            frame.outcome = Outcome.UNCHANGED
        return True

    def step_blend(self, frame: Frame) -> bool:
        opacity = 1.0 if self.corrector.handles_strength else frame.strength
        out = None if self.keep_original else frame.image
        frame.image = self.blender.blend(frame.image, frame.aligned, frame.corrected, opacity, out=out)
        frame.outcome = Outcome.CORRECTED
        return True

    def _failed(self, frame: Frame, stage: str, exc: Exception) -> None:
        self._log_failure(frame, stage, exc)
        frame.failed = f"{stage}: {type(exc).__name__}: {exc}"
        frame.image = frame.original if frame.original is not None else frame.image
        frame.outcome = Outcome.ERROR

    def _log_failure(self, frame: Frame, stage: str, exc: Exception) -> None:
        """The first failure is a warning; the rest only with -v (a stage failing on every frame
        would flood the terminal; the run's end says how many failed)."""
        self.errors += 1
        level = logging.WARNING if self.errors == 1 else logging.INFO
        log.log(level, "frame %d: %s failed, passing it through (%s: %s)", frame.seq, stage,
                type(exc).__name__, exc)

    def close(self) -> None:
        """Close the face models and the corrector (again: nothing)."""
        if self._closed:
            return
        self._closed = True
        for landmarker in self.landmarkers:
            landmarker.close()
        if self.corrector is not None:
            self.corrector.close()

    def __enter__(self) -> FrameProcessor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
