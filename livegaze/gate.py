"""Look-away gating: how much correction a face should get, from its head pose and its eyes.

A face turned well away from the camera is not trying to make eye contact: moving its eyes to the
lens looks wrong (and its far eye is foreshortened, so the iris fit is poor). Correction is full
while head yaw and pitch stay within `head_full` degrees and fades smoothly to none at
`head_none`. Eyes more closed than `min_openness` (blinks, squints, nearly shut) get none. The
same gate serves the live pipeline and photo mode, and works with every corrector.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livegaze.landmarks import FaceLandmarks


@dataclass(frozen=True)
class GateConfig:
    """head_full / head_none: head yaw or pitch (degrees) where correction starts to fade / is
    gone; min_openness: eye opening over width below which an eye counts as closed."""

    head_full: float = 15.0
    head_none: float = 25.0
    min_openness: float = 0.15


def smooth_fade(value: float, start: float, end: float) -> float:
    """1 below start, 0 above end, a smoothstep in between."""
    if end <= start:
        return 1.0 if value <= start else 0.0
    t = float(np.clip((value - start) / (end - start), 0.0, 1.0))
    return 1.0 - t * t * (3 - 2 * t)


class Gate:
    """`factor(face)`: 0..1, the share of the requested strength this face gets; `reason` says
    why it was cut ("" when it was not)."""

    def __init__(self, config: GateConfig | None = None):
        self.config = config or GateConfig()

    def factor(self, face: FaceLandmarks | None) -> tuple[float, str]:
        if face is None:
            return 0.0, "no_face"
        cfg = self.config
        if min(face.openness(0), face.openness(1)) < cfg.min_openness:
            return 0.0, "eyes_closed"
        yaw, pitch = face.head_angles()
        turn = max(abs(yaw), abs(pitch))
        factor = smooth_fade(turn, cfg.head_full, cfg.head_none)
        return factor, ("" if factor > 0 else "head_turned")
