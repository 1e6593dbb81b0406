"""Inputs shared by the live app's tests."""
import pytest

from livegaze.evaluation.clips import ClipSpec, iter_frames
from livegaze.landmarks import Landmarker


@pytest.fixture(scope="module")
def aligned_inputs():
    out = []
    with Landmarker() as lm:
        for size in [(640, 480), (1280, 720), (322, 242)]:
            frame = next(iter_frames(ClipSpec(width=size[0], height=size[1], frames=1, gaze=(0, 0.2))))[0]
            out.append((frame, lm.detect(frame)))
    return out
