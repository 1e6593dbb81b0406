"""Inputs shared by the live app's tests."""
import numpy as np
import pytest

from livegaze.correctors.irispaint import move_iris
from livegaze.evaluation.clips import ClipSpec, iter_frames, photo
from livegaze.landmarks import Landmarker


@pytest.fixture(scope="module")
def aligned_inputs():
    out = []
    with Landmarker() as lm:
        for size in [(640, 480), (1280, 720), (322, 242)]:
            frame = next(iter_frames(ClipSpec(width=size[0], height=size[1], frames=1, gaze=(0, 0.2))))[0]
            out.append((frame, lm.detect(frame)))
    return out

def averted(name, gaze=(0.12, 0.08)):
    """A packaged photo with both irises moved by `gaze` eye widths (the lids stay)."""
    image = photo(name)
    with Landmarker() as lm:
        face = lm.detect(image, 0)
    for eye in range(2):
        centre, radius = face.iris(eye)
        image = move_iris(image, face.eye_contour(eye), centre, radius,
                          centre + np.float32(gaze) * face.eye_size(eye)[0])
    return image
