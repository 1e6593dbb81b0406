"""livegaze.correctors.base: the registry and its errors."""
import pytest

from livegaze.correctors import available, create
from livegaze.errors import LivegazeError


def test_registry():
    assert "geometric" in available()
    with pytest.raises(LivegazeError, match="--corrector nope"):
        create("nope")


def test_warp_is_registered_and_the_default():
    from livegaze.correctors import DEFAULT

    assert DEFAULT == "warp" and create("warp").space == "frame"


def test_unknown_corrector_lists_every_one():
    from livegaze.correctors import create
    from livegaze.errors import LivegazeError

    with pytest.raises(LivegazeError, match="expected one of gazegan, geometric, warp"):
        create("nope")
