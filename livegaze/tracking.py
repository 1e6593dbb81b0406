"""Kalman smoothing of the two eye boxes (centre x, y and size w, h; constant velocity).

Noise levels are relative to the eye width, so the same settings hold for a face far from the
camera and one close to it. A measurement that jumps far outside the prediction (a different face,
a tracking glitch) or a face lost for too long restarts the filter instead of dragging it along.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from filterpy.common import Q_discrete_white_noise
from filterpy.kalman import KalmanFilter

from livegaze.frames import STREAM_FPS
from livegaze.landmarks import FaceLandmarks


@dataclass
class TrackerConfig:
    """measurement_noise: landmark noise std in eye widths; process_noise: acceleration std in eye
    widths per frame^2; gate: innovation (eye widths) that restarts the filter; max_missed: frames
    without a face before the track is dropped."""

    measurement_noise: float = 0.04
    process_noise: float = 0.0015
    gate: float = 0.6
    max_missed: int = 5


@dataclass
class EyeBox:
    """A tracked eye: centre (x, y) and size (w, h) in frame pixels."""

    cx: float
    cy: float
    w: float
    h: float

    @property
    def centre(self) -> np.ndarray:
        return np.array([self.cx, self.cy], np.float32)


def measure_eye(face: FaceLandmarks, eye: int) -> np.ndarray:
    """Raw measurement [cx, cy, w, h] of one eye from landmarks."""
    c = face.eye_centre(eye)
    w, h = face.eye_size(eye)
    return np.array([c[0], c[1], w, max(h, 1.0)], np.float64)


class BoxFilter:
    """One constant-velocity Kalman filter over [cx, cy, w, h]."""

    def __init__(self, config: TrackerConfig):
        self.config = config
        self.kf: KalmanFilter | None = None

    def _matrices(self, dt: float, scale: float) -> None:
        kf = self.kf
        kf.F = np.eye(8)
        kf.F[:4, 4:] = np.eye(4) * dt
        kf.Q = Q_discrete_white_noise(dim=2, dt=dt, var=(self.config.process_noise * scale) ** 2,
                                      block_size=4, order_by_dim=False)
        kf.R = np.eye(4) * (self.config.measurement_noise * scale) ** 2

    def reset(self, z: np.ndarray) -> None:
        self.kf = KalmanFilter(dim_x=8, dim_z=4)
        self.kf.H = np.hstack([np.eye(4), np.zeros((4, 4))])
        self.kf.x = np.concatenate([z, np.zeros(4)])[:, None]
        scale = z[2]
        self.kf.P = np.diag([(self.config.measurement_noise * scale) ** 2] * 4
                            + [(0.2 * scale) ** 2] * 4)

    def update(self, z: np.ndarray, dt: float) -> np.ndarray:
        if self.kf is None:
            self.reset(z)
            return z.copy()
        scale = float(self.kf.x[2, 0])
        self._matrices(dt, scale)
        self.kf.predict()
        innovation = np.abs(z[:2] - self.kf.x[:2, 0]).max() / max(scale, 1.0)
        if innovation > self.config.gate:
            self.reset(z)
            return z.copy()
        self.kf.update(z)
        return self.kf.x[:4, 0].copy()


class EyeTracker:
    """Smooths both eye boxes over time; `update(face, t)` returns two EyeBoxes or None."""

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self.filters = [BoxFilter(self.config), BoxFilter(self.config)]
        self.missed = 0
        self._last_t: float | None = None
        self.resets = 0

    def reset(self) -> None:
        for f in self.filters:
            f.kf = None
        self._last_t = None
        self.missed = 0
        self.resets += 1

    def update(self, face: FaceLandmarks | None, t: float | None = None) -> list[EyeBox] | None:
        """Feed one frame's landmarks (None when no face); t in seconds for variable frame gaps."""
        if face is None:
            self.missed += 1
            if self.missed > self.config.max_missed and self.filters[0].kf is not None:
                self.reset()
            return None
        dt = 1.0
        if t is not None and self._last_t is not None:
            dt = float(np.clip((t - self._last_t) * STREAM_FPS, 0.25, 4.0))  # in frames of the noise's unit
        self._last_t = t
        self.missed = 0
        boxes = []
        for eye, filt in enumerate(self.filters):
            x = filt.update(measure_eye(face, eye), dt)
            boxes.append(EyeBox(*map(float, x)))
        return boxes
