"""Where an eye's iris sits when it looks into the camera: the point every part of livegaze
measures a gaze against (the warp corrector moves the iris there, the gate measures how far
away a look is, the eval measures what is left).
"""
from __future__ import annotations

import math

import numpy as np

from livegaze.irisfit import eye_frame
from livegaze.landmarks import EYE_CORNERS, FaceLandmarks

# Where a camera-facing iris centre sits from the midpoint of the eye corners (eye widths, x
# towards the temple, y down): measured on the 14 eyes of the seven camera-facing photos
# (spread 0.013 vertically; 0.04 across, which cancels between the two eyes).
WARP_NEUTRAL = (0.06, -0.062)
# How far the eye corners' midpoint sits in front of the eye's centre of rotation, in eye widths
# (about 5-6 mm against an opening 28-30 mm wide): a turned head swings the corners aside by this
# much per unit sine of its yaw while a camera-facing iris stays over the centre of rotation.
TURN_GAIN = 0.2


def camera_facing_target(face: FaceLandmarks, eye: int, neutral: tuple[float, float] = WARP_NEUTRAL,
                         shift: np.ndarray = np.zeros(2), frame=None, turn_gain: float = TURN_GAIN) -> np.ndarray:
    """Where this eye's iris centre sits when it looks into the camera (frame pixels): the
    midpoint of the eye's corners, plus the neutral offset (x towards the temple), the head-turn
    offset and a shift (a per-user offset), all in eye widths along the eye's own axes. The eval
    and the gate measure against the same point. frame: the eye's (to_local, width) when the
    caller has it already.

    The corners, not the lids: the canthi are tied to the skull, so they stay put while the
    eye turns, and the eyeball sits in a fixed place behind them. The lids move with the gaze
    (the upper lid drops with a look down, and a smile narrows the opening), so a target on the
    opening's centre follows the look it should undo: measured on irises moved by known
    amounts, MediaPipe's lid contour drifted by about a fifth of the iris's move.

    A head turned aside (yaw) with its eyes on the camera: a camera-facing iris sits over the
    eye's centre of rotation, seen along the camera's axis, while the corners, in front of that
    centre, swing aside with the head. So the iris sits off the corners' midpoint by
    turn_gain * sin(yaw), against the turn (measured on the two turned heads among the test
    photos: 0.1-0.33 per unit sine, with MediaPipe's landmarks from 640 and 2048 pixel wide
    input). Only the rotation counts, not where the face is in the picture: a photo may be
    cropped anywhere, and MediaPipe's distance assumes its own lens. Pitch is left out:
    MediaPipe's pitch of level, camera-facing heads ranged from -9 to +15 degrees on the test
    photos (the neutral offset holds their average)."""
    to_local, width = frame if frame is not None else eye_frame(face.points[list(EYE_CORNERS[eye]), :2])
    temporal = -1.0 if eye == 0 else 1.0  # eye 0 is the subject's right, on the image's left
    yaw = face.head_angles()[0] if turn_gain else 0.0
    turn = -turn_gain * math.sin(math.radians(yaw))
    to_frame = to_local[:, :2].T * (width * width)  # eye widths -> frame pixels (a scaled rotation)
    local = np.array([temporal * neutral[0] + turn, neutral[1]]) + np.asarray(shift, np.float64)
    middle = face.points[list(EYE_CORNERS[eye]), :2].astype(np.float64).mean(axis=0)
    return (middle + to_frame @ local).astype(np.float32)
