"""Per-user calibration: the offset between looking at the camera and looking at the screen.

The user looks into the camera for a couple of seconds, then at the middle of the screen. Each
frame the warp corrector measures the move that would bring the irises to the camera-facing
position (eye widths): the median while looking at the camera is this user's bias (lock mode
takes it off each frame's measurement). The screen's offset is read from the image
(livegaze.lookmatch): each look averaged over its frames, then the move whose warp turns the
screen look into the camera look. MediaPipe's iris point follows only a small share of a look
down, so the medians' difference under-reads it; it only seeds the search, and is the offset
for frames given without their image. In "shift" mode the eyes are moved by that offset (the
user's own reading movements and glances stay visible). Saved per user in the config folder.
"""
from __future__ import annotations

import datetime
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from livegaze.errors import LivegazeError
from training.atomic import write_bytes

# Without a calibration: a camera above the screen, its middle about 12 degrees below the lens
# (a laptop at arm's length): the irises move up by eyeball radius x sin(12 degrees).
DEFAULT_SHIFT = (0.0, -0.08)


@dataclass
class Calibration:
    """camera / screen: the measured move (eye widths, eye-local x right, y down) while the user
    looked at the camera / at the middle of the screen."""

    camera: tuple[float, float] = (0.0, 0.0)
    # Uncalibrated: looking at the screen's middle, the move back to the camera is the default lift.
    screen: tuple[float, float] = DEFAULT_SHIFT
    when: str = ""

    @property
    def shift(self) -> tuple[float, float]:
        """The move that takes a gaze at the screen's middle to the camera."""
        return (self.screen[0] - self.camera[0], self.screen[1] - self.camera[1])

    @property
    def bias(self) -> tuple[float, float]:
        """What the measurement says while the user already looks at the camera."""
        return self.camera


def calibration_path() -> Path:
    root = os.path.abspath(os.environ.get("LIVEGAZE_CONFIG") or platformdirs.user_config_dir("livegaze"))
    return Path(root) / "calibration.toml"


def load(path: Path | None = None) -> Calibration | None:
    """The saved calibration, or None when there is none (a damaged file is an error)."""
    path = path or calibration_path()
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text())
        loaded = Calibration(camera=_move(data, "camera"), screen=_move(data, "screen"),
                             when=str(data.get("when", "")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise LivegazeError(f"{path}: unreadable calibration ({exc}); run `livegaze calibrate` again")
    return loaded


# A measured move is in eye widths: the iris cannot leave the eye, so anything past one width
# (or not a number at all) is a damaged file, which would make every frame's correction fail.
MOST_MOVE = 1.0


def _move(data: dict, key: str) -> tuple[float, float]:
    value = data[key]
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ValueError(f"{key} = {value!r}: expected two numbers, [x, y]")
    if not all(math.isfinite(v) and abs(v) <= MOST_MOVE for v in value):
        raise ValueError(f"{key} = {value!r}: expected two finite numbers from {-MOST_MOVE:g} to {MOST_MOVE:g} "
                         "eye widths")
    return float(value[0]), float(value[1])


def save(calibration: Calibration, path: Path | None = None) -> Path:
    path = path or calibration_path()
    try:  # never write a file that `load` would refuse
        for key in ("camera", "screen"):
            _move({key: list(getattr(calibration, key))}, key)
    except ValueError as exc:
        raise LivegazeError(f"calibration: the measured move is not usable ({exc}); calibrate again")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (f'camera = [{calibration.camera[0]:.5f}, {calibration.camera[1]:.5f}]\n'
            f'screen = [{calibration.screen[0]:.5f}, {calibration.screen[1]:.5f}]\n'
            f'when = "{calibration.when}"\n')
    write_bytes(str(path), text.encode())
    return path


# Eye widths the eyes must move between the two looks. A screen 8 degrees below the camera moves
# them about 0.05 (0.4 x sin 8). Read from the image, two looks at the same place come out
# 0.000-0.002 apart on the test faces; 0.02 (about 3 degrees) tells a user who kept looking at one
# place from any screen worth correcting for. The medians alone under-read a look down, behind
# glasses to a sixth of it, so without the images only 0.005 is asked.
MIN_LOOK = 0.02
MIN_LOOK_MEASURED = 0.005


class Calibrator:
    """Collects the warp corrector's per-frame measurements, and each frame's image and face for
    the image match (livegaze.lookmatch), in two phases ("camera", "screen"), and turns them
    into a Calibration."""

    def __init__(self, min_frames: int = 10):
        from livegaze.lookmatch import LookRecorder

        self.min_frames = min_frames
        self.samples: dict[str, list[np.ndarray]] = {"camera": [], "screen": []}
        self.frames = {"camera": [0, 0], "screen": [0, 0]}  # [frames, frames with a face]
        self.phase: str | None = None
        self.looks = LookRecorder()

    def begin(self, phase: str | None) -> None:
        """Collect for `phase` from now on (None: collect nothing, the user is still turning)."""
        if phase is not None and phase not in self.samples:
            raise ValueError(f"phase {phase}: expected camera or screen")
        self.phase = phase

    def add(self, measured, image: np.ndarray | None = None, face=None) -> None:
        """One frame's measured move (None: no face or no clear iris that frame), and the frame
        itself with its face (unprocessed), for the image match."""
        if self.phase is None:
            return
        if measured is not None:
            self.samples[self.phase].append(np.asarray(measured, np.float64))
        if image is not None:
            self.looks.add(self.phase, image, face)

    def saw_face(self, found: bool) -> None:
        """Count the frames of the current phase, and those with a face in them."""
        if self.phase is not None:
            self.frames[self.phase][0] += 1
            self.frames[self.phase][1] += int(found)

    def usable(self, phase: str) -> int:
        """Frames of `phase` that count so far: measured, and registered where images came."""
        n = len(self.samples[phase])
        return min(n, self.looks.frames(phase)) if self.looks.offered.get(phase) else n

    def result(self) -> Calibration:
        for phase, values in self.samples.items():
            if len(values) < self.min_frames:
                frames, faces = self.frames[phase]
                why = ("no face was found in most of them: keep your face in view of the camera"
                       if faces < frames / 2 else
                       "your irises were not clear in most of them: light your face from the front")
                raise LivegazeError(f"calibration: only {len(values)} usable frames while looking at the "
                                    f"{phase} (of {frames}; need {self.min_frames}); {why}")
        camera, screen = (tuple(float(v) for v in np.median(np.stack(self.samples[p]), axis=0))
                          for p in ("camera", "screen"))
        least = MIN_LOOK_MEASURED
        for phase in ("camera", "screen"):
            kept, offered = self.looks.frames(phase), self.looks.offered.get(phase, 0)
            if offered and kept < self.min_frames:
                raise LivegazeError(f"calibration: only {kept} frames of the {phase} look could be used (of "
                                    f"{offered}; need {self.min_frames}): keep your head still and your eyes "
                                    "open while you look")
        if all(self.looks.frames(p) >= self.min_frames for p in ("camera", "screen")):
            from livegaze.lookmatch import matched_move

            across, lift = matched_move(self.looks.average("camera"), self.looks.average("screen"),
                                        across=screen[0] - camera[0])
            screen = (camera[0] + across, camera[1] - lift)  # a lift is a move up: y falls
            least = MIN_LOOK
        moved = float(np.hypot(screen[0] - camera[0], screen[1] - camera[1]))
        if moved < least:
            raise LivegazeError(f"calibration: your eyes moved only {moved:.3f} eye widths between the camera "
                                f"and the screen (need {least}): look into the camera lens, then at the "
                                "middle of your screen, each when asked (if you did, your irises were hard to "
                                "read: light your face from the front); nothing was saved")
        return Calibration(camera=camera, screen=screen,
                           when=datetime.datetime.now().isoformat(timespec="seconds"))


PROMPTS = (("camera", "Look into the camera lens"), ("screen", "Now look at the middle of your screen"))


def run_calibration(source: str = "0", seconds: float = 2.5, face_model: str | None = None, echo=print,
                    path: Path | None = None, progress: bool = True) -> Calibration:
    """The calibration from a camera (or a video of the same two looks): prompts, then about
    `seconds` of frames per look after a settling pause (a progress bar each unless `progress`
    is off); saves and returns the result."""
    from tqdm import tqdm

    from livegaze.capture import Capture, CaptureConfig, EndOfStream
    from livegaze.correctors.warp import WarpCorrector
    from livegaze.landmarks import Landmarker, LandmarkerConfig

    if not (np.isfinite(seconds) and 1.0 <= seconds <= 30.0):
        raise LivegazeError(f"--seconds {seconds}: expected 1 to 30")
    calibrator = Calibrator()
    corrector = WarpCorrector(mode="lock", smooth_cutoff=0.0)
    # The camera first, so that a missing one is the first thing said: a camera that cannot be
    # opened is an error here, not the "camera lost" frames a live call keeps going on.
    with Capture(CaptureConfig(source=source, must_open=True)) as capture, \
            Landmarker(LandmarkerConfig(model_path=face_model)) as landmarker:
        fps = capture.fps or 30.0
        settle, count = int(round(0.7 * fps)), int(round(seconds * fps))
        t_ms = 0
        for phase, prompt in PROMPTS:
            echo(f"{prompt} and keep looking there...")
            calibrator.begin(None)
            for i in tqdm(range(settle + count), desc=phase, unit="frame", leave=False, disable=not progress):
                if i == settle:
                    calibrator.begin(phase)
                try:
                    image = capture.read()
                except EndOfStream:
                    raise LivegazeError(f"--input {source}: the video ended before the calibration was done "
                                        f"(it needs about {2 * (seconds + 0.7):.0f} s)")
                if capture.lost:  # a "camera lost" placeholder: the camera went away
                    raise LivegazeError(f"camera {source} stopped delivering frames (was it unplugged?); "
                                        "nothing was saved")
                t_ms += int(1000 / fps)
                # The full model on every frame: the one-face model a live run uses most of the time
                # smooths its landmarks over frames, which blunts the small move measured here.
                face = landmarker.detect(image, t_ms, everyone=True)
                calibrator.saw_face(face is not None)
                if face is not None:
                    corrector.correct_frame(image, face, 1.0, out=image.copy())
                    calibrator.add(corrector.last_measured, image, face)
        result = calibrator.result()
    saved = save(result, path)
    dx, dy = result.shift
    echo(f"screen-to-camera offset: {dx:+.3f}, {dy:+.3f} eye widths "
         f"(about {np.degrees(np.arcsin(min(np.hypot(dx, dy) / 0.4, 1.0))):.0f} degrees)")
    echo(f"saved {saved}")
    return result
