"""Fixtures shared by the corrector tests."""
import pytest

from livegaze.evaluation.clips import photo
from tests.conftest import moved_irises


@pytest.fixture(scope="module")
def averted_portrait():
    """Grace Hopper's photo (eyes about 33 px wide, behind glasses) with both irises moved right
    and down, and its landmarks."""
    moved, face, _ = moved_irises(photo("grace_hopper"), (0.12, 0.06))
    return moved, face
