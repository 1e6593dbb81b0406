"""Fixtures shared by the corrector tests."""
import pytest

from livegaze.evaluation.clips import photo
from livegaze.landmarks import EYE_CONTOURS
from tests.conftest import moved_irises


@pytest.fixture(scope="module")
def averted_portrait():
    """Grace Hopper's photo (eyes about 33 px wide, behind glasses) with both irises moved right
    and down, and its landmarks."""
    moved, face, _ = moved_irises(photo("grace_hopper"), (0.12, 0.06))
    return moved, face


def squint(face, k):
    """The face with both eye openings scaled vertically by k about their middle."""
    points = face.points.copy()
    for eye in range(2):
        idx = list(EYE_CONTOURS[eye])
        mid = points[idx, 1].mean()
        points[idx, 1] = mid + (points[idx, 1] - mid) * k
    return type(face)(points, face.blendshapes, face.pose)
