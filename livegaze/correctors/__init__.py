"""Gaze correctors, chosen by name from one registry (livegaze.correctors.base.REGISTRY)."""
from livegaze.correctors.base import (DEFAULT, REGISTRY, CorrectConfig, Corrector, Entry,  # noqa: F401
                                      available, create, entry, from_config, model_corrector, register)
