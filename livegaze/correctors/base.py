"""The corrector interface, its config, and the registry every corrector is chosen from.

The registry is the only place a corrector's name means anything: the CLI, the tray's list and
`livegaze devices` read it. Entries are lazy (a dotted path): the GazeGAN corrector and its
engines load only when asked for.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from livegaze.align import AlignedFace, EyeGeometry
from livegaze.errors import LivegazeError
from livegaze.landmarks import FaceLandmarks


class Corrector(Protocol):
    """Makes the eyes of a face look into the camera.

    `space` says where it works. "aligned": `correct` takes the aligned face (cut with the
    corrector's `geometry`) and returns the corrected size x size BGR image, or None when there is
    nothing to do; the blend stage puts it back. "frame": `correct_frame` changes the eye regions
    of the frame itself (no aligned face, no blend; `geometry` is None) and says whether it changed
    anything. A corrector that sets `handles_strength` applies strength itself (0 = own gaze,
    1 = full eye contact); for the others the blend stage cross-fades by strength. `concurrency`:
    how many faces `correct` may work on at once (threads).
    """

    name: str
    handles_strength: bool
    space: str  # "aligned" or "frame"
    geometry: EyeGeometry | None
    concurrency: int
    last_measured: np.ndarray | None  # frame space: the move measured on the last frame (calibration)

    def correct(self, face: AlignedFace, strength: float) -> np.ndarray | None: ...

    def correct_frame(self, image: np.ndarray, face: FaceLandmarks, strength: float,
                      out: np.ndarray | None = None, t: float | None = None) -> bool: ...

    def reset(self) -> None:
        """Forget what earlier frames taught (the face was lost; the next image is unrelated)."""

    def close(self) -> None: ...


@dataclass
class CorrectConfig:
    """The correct stage: which corrector, and its options (each applies to the correctors
    whose registry entry takes it)."""

    name: str = "warp"
    # warp: shift = move the eyes by the calibrated screen-to-camera offset (the user's own eye
    # movements stay), lock = put the gaze on the camera (see calibration.py).
    mode: str = "shift"
    max_move: float | None = None  # warp: the largest iris move in eye widths (None: its default, 0.2)
    checkpoint: str | None = None  # a model: GazeGAN training checkpoint (.pt)
    engine: str | None = None  # a model: prebuilt engine (.plan or .onnx)
    runner: str = "auto"  # a model: auto (the fastest here) or a family of engines.backends.RUNNERS
    faces_at_once: int = 0  # a model on the CPU: frames in parallel, one core each (0 = one per core)
    use_calibration: bool = True  # warp: the user's saved calibration (not for other people's photos)


@dataclass(frozen=True)
class Entry:
    """A registered corrector: `factory` is "module:Class" (imported when first built); `label`
    is what the tray lists; `options` turns the stage config into the factory's keywords."""

    name: str
    factory: str | Callable[..., Corrector]  # "module:Class", or the class itself
    label: str
    needs_model: bool = False  # a checkpoint or engine
    options: Callable[[CorrectConfig], dict] = lambda config: {}

    def load(self) -> Callable[..., Corrector]:
        if callable(self.factory):
            return self.factory
        module, attr = self.factory.split(":")
        return getattr(importlib.import_module(module), attr)


def _warp_options(config: CorrectConfig) -> dict:
    from livegaze import calibration

    options = {"mode": config.mode}
    if config.max_move is not None:
        if not (math.isfinite(config.max_move) and 0 < config.max_move <= 0.5):
            raise LivegazeError(f"--max-move {config.max_move}: expected eye widths above 0, at most 0.5")
        options["max_shift"] = config.max_move
    saved = calibration.load() if config.use_calibration else None  # None: a camera above the screen
    if saved is not None:
        options.update(shift=saved.shift, bias=saved.bias)
    return options


def _model_options(config: CorrectConfig) -> dict:
    if not (config.checkpoint or config.engine):
        raise LivegazeError(f"--corrector {config.name} needs --checkpoint ckpt.pt or --engine model.plan/.onnx")
    if not 0 <= config.faces_at_once <= 16:
        raise LivegazeError(f"--faces-at-once {config.faces_at_once}: expected 0 (automatic) to 16")
    options = {"checkpoint": config.checkpoint, "engine": config.engine, "runner": config.runner}
    if config.faces_at_once:
        options["concurrency"] = config.faces_at_once
    return options


REGISTRY: dict[str, Entry] = {}


def register(entry: Entry) -> None:
    """Make a corrector available (tests add their own; the built-in ones are below)."""
    REGISTRY[entry.name] = entry


for _entry in (
        Entry("warp", "livegaze.correctors.warp:WarpCorrector", "Warp: your own eye, moved (no model)",
              options=_warp_options),
        Entry("geometric", "livegaze.correctors.geometric:GeometricCorrector", "Geometric: iris repainted (no model)"),
        Entry("gazegan", "livegaze.correctors.gazegan:GazeGANCorrector", "Trained model / engine...",
              needs_model=True, options=_model_options)):
    register(_entry)

DEFAULT = CorrectConfig.name


def available() -> list[str]:
    return list(REGISTRY)


def entry(name: str) -> Entry:
    if name not in REGISTRY:
        raise LivegazeError(f"--corrector {name}: unknown (expected one of {', '.join(sorted(REGISTRY))})")
    return REGISTRY[name]


def model_corrector() -> str:
    """The corrector a --checkpoint or --engine selects (the first that runs a model)."""
    return next(e.name for e in REGISTRY.values() if e.needs_model)


def create(name: str, **options) -> Corrector:
    """Build the corrector registered as `name`; unknown names get a one-line error."""
    return entry(name).load()(**options)


def from_config(config: CorrectConfig) -> Corrector:
    """The corrector a stage config asks for, with the options its entry takes from it."""
    chosen = entry(config.name)
    if (config.checkpoint or config.engine) and not chosen.needs_model:
        raise LivegazeError(f"--corrector {config.name}: --checkpoint/--engine only apply to "
                            f"--corrector {model_corrector()}")
    if config.max_move is not None and chosen.options is not _warp_options:
        raise LivegazeError(f"--max-move: only applies to --corrector warp (not {config.name})")
    return chosen.load()(**chosen.options(config))
