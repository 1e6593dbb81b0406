"""Gaze correctors: aligned face in, corrected aligned face out, chosen by name from a registry."""
from livegaze.correctors.base import Corrector, available, create, register  # noqa: F401
from livegaze.correctors import geometric  # noqa: F401  (registers "geometric")
