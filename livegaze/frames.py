"""The unit that travels through the pipeline: a frame, each stage's typed result, its outcome."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # types only: the stages' modules import this one
    from livegaze.align import AlignedFace
    from livegaze.landmarks import FaceLandmarks
    from livegaze.tracking import EyeBox


# The frame rate per-frame quantities are counted in (the tracker's noise per frame, the warp's
# stream time): cameras deliver 25-60 fps, and a tuning made at 30 holds across them because the
# stages scale by the real time between frames.
STREAM_FPS = 30.0


class Outcome(enum.StrEnum):
    """What the processing did with a frame (a str, so counts read as plain words)."""

    PENDING = "pending"  # still on its way
    PASSTHROUGH = "passthrough"  # correction not set up (--passthrough, no corrector)
    DISABLED = "disabled"  # the user switched correction off
    NO_FACE = "no_face"
    EYES_CLOSED = "eyes_closed"
    LOOKING_AWAY = "looking_away"  # the gaze is too far from the camera to correct
    HEAD_TURNED = "head_turned"
    UNCHANGED = "unchanged"  # the corrector found nothing to move
    CORRECTED = "corrected"
    ERROR = "error"  # a stage failed; the frame went out untouched


@dataclass
class Frame:
    """One video frame (BGR uint8, HxWx3) with its sequence number and capture time; each stage
    sets its own field. `timings` holds milliseconds per stage name (livegaze.stages)."""

    seq: int
    t_capture: float  # time.perf_counter() when the frame was read
    image: np.ndarray
    original: np.ndarray | None = None  # the unprocessed frame, kept for previews
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)  # CPU ms of the stage's own thread
    outcome: Outcome = Outcome.PENDING
    face: FaceLandmarks | None = None  # landmarks stage
    followed: bool = False  # landmarks stage: the face was followed from an earlier model run (no model)
    eyes: list[EyeBox] | None = None  # track stage: the smoothed eye boxes
    strength: float = 1.0  # gate stage: the strength this frame gets (slider x gate share)
    aligned: AlignedFace | None = None  # align stage, for the correct and blend stages
    corrected: np.ndarray | None = None  # correct stage (aligned space), for the blend stage
    measured: np.ndarray | None = None  # correct stage: the move measured, eye widths (calibration)
    failed: str | None = None  # "stage: why" when a stage raised on this frame (it went out untouched)

    @property
    def status(self) -> str:
        """The outcome as a plain word (what stats and logs print)."""
        return self.outcome.value

    @property
    def done(self) -> bool:
        return self.outcome is not Outcome.PENDING
