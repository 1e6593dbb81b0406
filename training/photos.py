"""Real face photos that ship with installed packages, and where their eyes are.

The eye centres were measured once with MediaPipe's face landmarker (the midpoint of the corners,
halfway to mid-lid height, as livegaze.landmarks.FaceLandmarks.eye_centre measures them). They
are facts about two fixed images, so building aligned faces from them (synthetic training sets,
int8 calibration) needs neither MediaPipe nor the live app.
"""
from __future__ import annotations

import numpy as np

PHOTOS = ("astronaut", "grace_hopper")

# (eye 0 = the subject's right, on the image's left; eye 1) centres in photo pixels.
EYE_CENTRES = {
    "astronaut": ((204.4, 101.6), (245.9, 103.9)),
    "grace_hopper": ((223.9, 193.3), (305.4, 188.3)),
}


def photo(name: str) -> np.ndarray:
    """A packaged face photo as BGR uint8: "astronaut" (scikit-image) or "grace_hopper" (matplotlib)."""
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    if name == "grace_hopper":
        import cv2
        from matplotlib import cbook

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        image = cv2.imread(str(path))
        if image is None:
            raise ValueError(f"{path}: cannot read matplotlib's sample photo")
        return image
    raise ValueError(f"photo {name}: unknown (expected {' or '.join(PHOTOS)})")


def eye_centres(name: str) -> np.ndarray:
    """(2, 2) eye centres of a packaged photo, photo pixels."""
    return np.array(EYE_CENTRES[name], np.float64)
