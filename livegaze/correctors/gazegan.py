"""The GazeGAN in-painting corrector: G_x (and G_y for strength) through an engine runner.

Strength: with an animation graph (checkpoint with G_y + E_r) the slider interpolates the angle code
r between the user's gaze (0) and the corrected one (1), as in the paper's section 3.6; 1 uses G_x
directly. Without one, the blend stage cross-fades. Buffers are allocated once; the per-frame path
only converts into them.
"""
from __future__ import annotations

import logging

import cv2
import numpy as np

from livegaze.align import AlignedFace
from livegaze.correctors.base import register
from livegaze.errors import LivegazeError

log = logging.getLogger(__name__)


class GazeGANCorrector:
    name = "gazegan"

    def __init__(self, checkpoint: str | None = None, engine: str | None = None, runner: str = "auto"):
        try:
            from engines.runners import open_runner
        except ImportError as exc:
            raise LivegazeError(f"--corrector gazegan: the engines package cannot load ({exc})")
        try:
            self.gx = open_runner(checkpoint=checkpoint, engine=engine, graph="gx", preference=runner)
            self.animate = None
            if checkpoint:
                try:
                    self.animate = open_runner(checkpoint=checkpoint, graph="animate", preference=runner)
                except (RuntimeError, KeyError) as exc:
                    log.info("no animation graph (%s): strength cross-fades instead", exc)
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            raise LivegazeError(f"--corrector gazegan: {exc}")
        self.handles_strength = self.animate is not None
        size = self.gx.size
        self._rgb = np.empty((size, size, 3), np.uint8)
        self._input = np.empty((1, 3, size, size), np.float32)
        self._hwc = np.empty((size, size, 3), np.float32)
        self._out = np.empty((size, size, 3), np.uint8)
        self.runner_name = self.gx.name

    def _to_input(self, image: np.ndarray) -> np.ndarray:
        size = self._rgb.shape[0]
        if image.shape[0] != size:
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=self._rgb)
        np.multiply(self._rgb.transpose(2, 0, 1), 1 / 127.5, out=self._input[0], casting="unsafe")
        np.subtract(self._input, 1.0, out=self._input)
        return self._input

    def _to_image(self, output: np.ndarray, shape) -> np.ndarray:
        np.add(output[0].transpose(1, 2, 0), 1.0, out=self._hwc)
        np.multiply(self._hwc, 127.5, out=self._hwc)
        np.clip(self._hwc, 0, 255, out=self._hwc)
        rgb = self._hwc.astype(np.uint8)
        cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR, dst=self._out)
        if shape[0] != self._out.shape[0]:
            return cv2.resize(self._out, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        return self._out.copy()

    def correct(self, face: AlignedFace, strength: float) -> np.ndarray | None:
        if strength <= 0:
            return None
        x = self._to_input(face.image)
        if self.animate is not None and strength < 0.999:
            out = self.animate(x, float(strength))
        else:
            out = self.gx(x)
        return self._to_image(out, face.image.shape)

    def close(self) -> None:
        for r in (self.gx, self.animate):
            if r is not None:
                r.close()


register("gazegan", GazeGANCorrector)
