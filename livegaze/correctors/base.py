"""The corrector interface and its registry."""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from livegaze.align import AlignedFace
from livegaze.errors import LivegazeError
from livegaze.landmarks import FaceLandmarks


class Corrector(Protocol):
    """Makes the eyes of a face look into the camera.

    `space` says where it works. "aligned": `correct` takes the aligned face and returns the
    corrected size x size BGR image, or None when there is nothing to do (eyes closed, say); the
    blend stage puts it back. "frame": `correct_frame` changes the eye regions of the frame
    itself (no resampling through the aligned face, no blend) and says whether it changed
    anything. A corrector that sets `handles_strength` applies strength itself (0 = own gaze,
    1 = full eye contact); for the others the blend stage cross-fades by strength.
    """

    name: str
    handles_strength: bool
    space: str  # "aligned" or "frame"
    last_measured: np.ndarray | None  # frame space: the move measured on the last frame (calibration)

    def correct(self, face: AlignedFace, strength: float) -> np.ndarray | None: ...

    def correct_frame(self, image: np.ndarray, face: FaceLandmarks, strength: float,
                      out: np.ndarray | None = None, t: float | None = None) -> bool: ...

    def reset(self) -> None:
        """Forget what earlier frames taught (the face was lost; the next image is unrelated)."""

    def close(self) -> None: ...


_REGISTRY: dict[str, Callable[..., Corrector]] = {}


def register(name: str, factory: Callable[..., Corrector]) -> None:
    """Make a corrector available under `name` (factory takes keyword options)."""
    _REGISTRY[name] = factory


def available() -> list[str]:
    return sorted(_REGISTRY)


def create(name: str, **options) -> Corrector:
    """Build the corrector registered as `name`; unknown names get a one-line error."""
    if name not in _REGISTRY and name == "gazegan":
        import livegaze.correctors.gazegan  # noqa: F401  (registers itself; imports engines lazily)
    if name not in _REGISTRY:
        known = sorted(set(available()) | {"gazegan"})  # gazegan registers itself when first asked for
        raise LivegazeError(f"--corrector {name}: unknown (expected one of {', '.join(known)})")
    return _REGISTRY[name](**options)
