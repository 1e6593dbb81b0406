"""Smoothing a measured value over frames without visible lag: the One Euro filter.

A low-pass filter whose cutoff rises with the value's speed (Casiez, Roussel and Vogel, CHI
2012): a still value is smoothed hard (sensor noise and landmark jitter do not flicker), a value
that moves is followed closely (no lag on a real change). Re-derived here: an exponential
smoother per component, alpha from the cutoff, the cutoff from a smoothed derivative.
"""
from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff_hz: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuro:
    """min_cutoff (Hz): smoothing of a still value; beta: how fast the cutoff rises with speed
    (per unit of the value per second); d_cutoff (Hz): smoothing of the speed itself."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.5, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None

    def reset(self) -> None:
        self.value = self.speed = None

    def __call__(self, x, dt: float) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.value is None or dt <= 0:
            self.value, self.speed = x.copy(), np.zeros_like(x)
            return self.value.copy()
        raw_speed = (x - self.value) / dt
        a_d = _alpha(self.d_cutoff, dt)
        self.speed = self.speed + a_d * (raw_speed - self.speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self.speed)
        a = np.array([_alpha(c, dt) for c in np.atleast_1d(cutoff)]).reshape(x.shape)
        self.value = self.value + a * (x - self.value)
        return self.value.copy()
