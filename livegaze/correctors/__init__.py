"""Gaze correctors: aligned face in, corrected aligned face out, chosen by name from a registry."""
from livegaze.correctors.base import Corrector, available, create, register  # noqa: F401
from livegaze.correctors import geometric, warp  # noqa: F401  (register "geometric" and "warp")

DEFAULT = "warp"  # no trained model needed
