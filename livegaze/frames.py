"""The unit that travels through the pipeline: a frame plus its bookkeeping."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Frame:
    """One video frame (BGR uint8, HxWx3) with its sequence number and capture time.

    `timings` collects per-stage milliseconds as the frame moves on; `status` says what the
    processing did with it ("corrected", "no_face", "eyes_closed", "error", "passthrough", ...).
    """

    seq: int
    t_capture: float  # time.perf_counter() when the frame was read
    image: np.ndarray
    original: np.ndarray | None = None  # the unprocessed frame, kept for previews
    timings: dict[str, float] = field(default_factory=dict)
    status: str = "new"
    face: object | None = None  # per-frame landmark result, set by the landmark stage
    eyes: object | None = None  # tracked eye boxes, set by the tracking stage
    aligned: object | None = None  # the aligned face, set by `prepare` for `finish`
    strength: float = 1.0  # the correction strength read when the frame was prepared
    measured: np.ndarray | None = None  # the move the corrector measured (eye widths; calibration)
