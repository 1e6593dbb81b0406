"""Look-away gating: how much correction a face should get, from its gaze, head pose and eyes.

A person looking well away from the camera, or with the head turned, is not trying to make eye
contact: moving their eyes to the lens looks wrong. Defaults as NVIDIA's Eye Contact: full
correction while the gaze is within `gaze_full` degrees of the camera and the head within
`head_full` degrees (yaw or pitch), none past `gaze_none` / `head_none`, a smooth fade between.
Closed eyes (a blink) get none; in a stream an eye also counts as closed once its opening falls
below `closing` of this person's usual opening (MediaPipe reads the first frame of a blink on
narrow eyes as still open, above `min_openness`, while the opening has already dropped by a
third), for at most LONGEST_BLINK frames in a row. In a stream with the image, eyes that look
well below this person's usual look (the upper lids more than `lid_drop` eye widths under their
usual place, livegaze.lids: a keyboard, a phone, not the screen) are left alone too. With
hysteresis: in a stream each angle passes through a play (backlash) operator, which follows
the angle only once it has turned back by more than `hysteresis` degrees, so landmark jitter
near a threshold never turns the strength around. In a stream the share eases towards its
target over `ease_frames` frames (a face found or lost, a look away and back never shows a
jump); closed eyes are left untouched at once (the lids hide the iris) and the share eases back
in as they open. A photo gets the target share at once.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from livegaze.gazetarget import camera_facing_target  # the point the warp moves the iris to
from livegaze.frames import Outcome
from livegaze.irisfit import IrisFinder
from livegaze.landmarks import FaceLandmarks
from livegaze.lids import LidWatch

EYEBALL = 0.4  # eyeball radius over eye width: the iris moves this far per radian of gaze
# An eye's usual opening: a high quantile of its openings over the last USUAL_FRAMES frames (10 s
# at 30 fps), so blinks and glances down, which are brief, do not lower it; at least USUAL_MIN
# frames are needed before it is used.
USUAL_QUANTILE = 0.8
USUAL_FRAMES = 300
USUAL_MIN = 5
# MediaPipe under-reads a blink on its first or last frame or two; the fixed thresholds catch the
# shut frames between. Eyes narrower than usual on more frames in a row than this, while open by
# the fixed thresholds, are no blink: another face (a cut, someone else nearer the camera), the
# same one in another light, or a long look down. Their opening becomes the usual one.
LONGEST_BLINK = 3
# A look down past the screen is taken as one once the lids have been that low on this many
# frames in a row, so that one frame's misreading never switches the correction off and on.
DOWN_FRAMES = 2
LID_RELEASE = 0.5  # share of gate.lid_drop the lids must come back within to end such a look


@dataclass(frozen=True)
class GateConfig:
    """Angles in degrees. gaze_*: the eyes' angle from the camera-facing direction; head_*: head
    yaw or pitch; min_openness: eye opening over width below which an eye counts as closed;
    blink_closed: MediaPipe's eyeBlink score above which it does; closing: in a stream, the
    opening over this eye's usual one below which it does; lid_drop: in a stream, the upper lids'
    drop below their usual place (eye widths) past which the eyes look too far down (0: off);
    ease_frames: frames from full correction to none."""

    gaze_full: float = 20.0
    gaze_none: float = 30.0
    head_full: float = 15.0
    head_none: float = 25.0
    hysteresis: float = 3.0
    min_openness: float = 0.18
    blink_closed: float = 0.5
    closing: float = 0.8
    lid_drop: float = 0.04
    ease_frames: int = 4

    def check(self) -> None:
        """One-line errors for settings that cannot work (names as the CLI flags)."""
        for name, full, none in (("gaze", self.gaze_full, self.gaze_none), ("head", self.head_full, self.head_none)):
            if not (0 <= full < none <= 90):
                raise ValueError(f"--{name}-full {full:g} / --{name}-none {none:g}: "
                                 "expected 0 <= full < none <= 90 degrees")
        if not 0 <= self.hysteresis < 20:
            raise ValueError(f"--gate-hysteresis {self.hysteresis:g}: expected 0 to 20 degrees")
        if not 0 <= self.closing < 1:
            raise ValueError(f"gate.closing {self.closing:g}: expected 0 to under 1 (0: off)")
        if not 0 <= self.lid_drop < 0.5:
            raise ValueError(f"gate.lid_drop {self.lid_drop:g}: expected 0 to under 0.5 eye widths (0: off)")
        if not 1 <= self.ease_frames <= 60:
            raise ValueError(f"--ease-frames {self.ease_frames}: expected 1 to 60")


def smooth_fade(value: float, start: float, end: float) -> float:
    """1 below start, 0 above end, a smoothstep in between."""
    if end <= start:
        return 1.0 if value <= start else 0.0
    t = float(np.clip((value - start) / (end - start), 0.0, 1.0))
    return 1.0 - t * t * (3 - 2 * t)


def gaze_angle(face: FaceLandmarks, image: np.ndarray | None = None, finder=None) -> float:
    """Degrees between where the eyes look and the camera-facing direction: the irises against
    the camera-facing position (the mean of both eyes: they turn together). With the image, each
    iris is the image-checked one (livegaze.irisfit: MediaPipe's point under-reports a look
    aside by about a third); MediaPipe's point where the image shows no clear iris."""
    offsets = []
    for eye in range(2):
        centre, radius = face.iris(eye)
        if image is not None and finder is not None:
            fit = finder.fit_eye(image, face, eye)
            if fit is not None:
                centre = fit.centre
        offsets.append((centre - camera_facing_target(face, eye)) / max(face.eye_size(eye)[0], 1e-6))
    offset = float(np.linalg.norm(np.mean(offsets, axis=0)))
    return math.degrees(math.asin(min(offset / EYEBALL, 1.0)))


class Gate:
    """`target(face)`: the share (0..1) of the requested strength this face gets now, and why
    it was cut ("" when it was not); `update(face)`: the same, eased over frames (a stream)."""

    def __init__(self, config: GateConfig | None = None):
        self.config = config or GateConfig()
        self.config.check()
        self.share = 0.0  # eased share of the stream so far
        self._held: dict[str, float] = {}  # the play operator's output per angle (a stream)
        self._openings: deque = deque(maxlen=USUAL_FRAMES)  # per frame: both eyes' openness (a stream)
        # Frames in a row found closing by the usual-opening rule alone. No reset needed with the
        # record: the frames that build a new record of usual openings are not narrow, and set it to 0.
        self._narrow = 0
        self._finder = IrisFinder()
        self._lids = LidWatch()
        self._down = False  # this frame looks well below the usual look (a stream)
        self._low = 0  # frames in a row with the lids well below their usual place
        self._past = False  # the last open frame was a look past the screen (see LID_RELEASE)

    def reset(self) -> None:
        self.share = 0.0
        self._held = {}
        self._openings.clear()
        self._lids.reset()
        self._low = 0
        self._past = False

    def _closing(self, face: FaceLandmarks, closed: bool) -> bool:
        """Whether either eye is well below its usual opening (a stream); this frame joins the
        record of usual openings. closed: the fixed thresholds already say so."""
        now = (face.openness(0), face.openness(1))
        usual = np.quantile(np.asarray(self._openings), USUAL_QUANTILE, axis=0) \
            if len(self._openings) >= USUAL_MIN else None
        self._openings.append(now)
        narrow = usual is not None and any(o < self.config.closing * u for o, u in zip(now, usual))
        self._narrow = self._narrow + 1 if narrow and not closed else 0
        if self._narrow > LONGEST_BLINK:  # no blink: these are this face's open eyes now
            self._openings.clear()
            self._openings.append(now)
            return False
        return narrow

    def _play(self, name: str, angle: float) -> float:
        """Backlash: the held value moves only when the angle is more than `hysteresis` away."""
        r = self.config.hysteresis
        held = self._held.get(name, angle)
        held = min(max(held, angle - r), angle + r)
        self._held[name] = held
        return held

    def angles(self, face: FaceLandmarks, image: np.ndarray | None = None) -> tuple[float, float]:
        """(gaze angle, head angle) in degrees (the gaze image-checked when the image is given)."""
        yaw, pitch = face.head_angles()
        return gaze_angle(face, image, self._finder), max(abs(yaw), abs(pitch))

    def target(self, face: FaceLandmarks | None, stream: bool = False,
               image: np.ndarray | None = None) -> tuple[float, Outcome | None]:
        """The share for this face alone (stream=True: through the angles' hysteresis)."""
        self._down = False
        if face is None:
            if stream:  # whoever comes into view next has eyes of their own
                self._openings.clear()
                self._lids.reset()
                self._low = 0
                self._past = False
            return 0.0, Outcome.NO_FACE
        cfg = self.config
        closed = min(face.openness(0), face.openness(1)) < cfg.min_openness or \
            max(face.blink(0), face.blink(1)) > cfg.blink_closed
        if stream and self._closing(face, closed):
            closed = True
        if closed:
            self._low += 1  # shut lids are low lids too: a look down that the closed-eye rules
            return 0.0, Outcome.EYES_CLOSED  # caught first stays passed through after them
        if stream and image is not None and cfg.lid_drop > 0:
            # Hysteresis, as for the angles: a look past the screen lasts until the lids are back
            # within LID_RELEASE of the threshold, so a drop read near it does not flap.
            limit = cfg.lid_drop * (LID_RELEASE if self._past else 1.0)
            drop = self._lids.update(image, face, past=limit)
            self._low = self._low + 1 if drop is not None and drop > limit else 0
            self._past = self._low >= DOWN_FRAMES
            if self._past:
                self._down = True
                return 0.0, Outcome.LOOKING_AWAY
        gaze, head = self.angles(face, image)
        shares = {}
        for name, angle, full, none in (("gaze", gaze, cfg.gaze_full, cfg.gaze_none),
                                        ("head", head, cfg.head_full, cfg.head_none)):
            shares[name] = smooth_fade(self._play(name, angle) if stream else angle, full, none)
        share = min(shares.values())
        if share > 0:
            return share, None
        return 0.0, Outcome.HEAD_TURNED if shares["head"] <= 0 else Outcome.LOOKING_AWAY

    def update(self, face: FaceLandmarks | None, enabled: bool = True,
               image: np.ndarray | None = None) -> tuple[float, Outcome | None]:
        """The eased share: it moves towards the target by at most 1/ease_frames per frame
        (switching the correction off eases out the same way)."""
        goal, reason = self.target(face, stream=True, image=image) if enabled else (0.0, Outcome.DISABLED)
        if reason is Outcome.EYES_CLOSED or self._down:
            # Closed eyes pass through untouched at once: the lids hide the iris, so dropping
            # the correction shows nothing; it eases back in when they open. So does a look
            # down past the screen: the eyes' own saccade hides the step.
            self.share = 0.0
            return 0.0, reason
        step = 1.0 / self.config.ease_frames
        self.share = float(np.clip(goal, self.share - step, self.share + step))
        return self.share, reason
