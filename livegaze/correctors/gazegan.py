"""The GazeGAN in-painting corrector: G_x (and G_y for strength) through an engine runner.

Strength: with an animation graph (checkpoint with G_y + E_r) the slider interpolates the angle code
r between the user's gaze (0) and the corrected one (1), as in the paper's section 3.6; 1 uses G_x
directly. Without one, the blend stage cross-fades.

`concurrency`: on the CPU, faces of consecutive frames run at once, one per core (the pipeline
calls `correct` from that many threads). Buffers are allocated once per calling thread; the
per-frame path only converts into them.
"""
from __future__ import annotations

import logging
import threading

import cv2
import numpy as np

from livegaze.align import AlignedFace
from livegaze.correctors.base import CorrectConfig
from livegaze.errors import LivegazeError
from livegaze.stages import workers_per_core

log = logging.getLogger(__name__)


class GazeGANCorrector:
    name = "gazegan"
    space = "aligned"
    last_measured = None  # measures nothing a calibration could use

    def __init__(self, checkpoint: str | None = None, engine: str | None = None, runner: str = CorrectConfig.runner,
                 concurrency: int | None = None):
        try:
            from engines.backends import open_runner
        except ImportError as exc:
            raise LivegazeError(f"--corrector gazegan: the engines package cannot load ({exc})")
        # On the CPU, one face per core (at most two); GPU runners take one at a time anyway.
        wanted = workers_per_core() if concurrency is None else max(1, int(concurrency))
        try:
            self.gx = open_runner(checkpoint=checkpoint, engine=engine, graph="gx", preference=runner,
                                  concurrency=wanted)
            self.animate = None
            if checkpoint:
                try:
                    self.animate = open_runner(checkpoint=checkpoint, graph="animate", preference=runner,
                                               concurrency=wanted)
                except (RuntimeError, KeyError) as exc:
                    log.info("no animation graph (%s): strength cross-fades instead", exc)
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            raise LivegazeError(f"--corrector gazegan: {exc}")
        self.handles_strength = self.animate is not None
        # GPU runners serialise faces on one stream: more threads would only queue.
        self.concurrency = min(r.concurrency for r in (self.gx, self.animate) if r is not None)
        self.size = self.gx.size
        # The crops the model was trained on: the align stage cuts faces with this geometry.
        self.geometry = self.gx.geometry
        self.runner_name = self.gx.name
        self._local = threading.local()

    def _buffers(self):
        """This thread's conversion buffers (made on its first face)."""
        b = self._local
        if not hasattr(b, "input"):
            size = self.size
            b.rgb = np.empty((size, size, 3), np.uint8)
            b.input = np.empty((1, 3, size, size), np.float32)
            b.hwc = np.empty((size, size, 3), np.float32)
            b.out = np.empty((size, size, 3), np.uint8)
        return b

    def _to_input(self, image: np.ndarray, b) -> np.ndarray:
        """BGR uint8 HWC -> RGB float32 NCHW in [-1, 1], in this thread's buffers. Each step is one
        that numpy does without a scratch buffer (a cast, then a plain strided copy)."""
        if image.shape[0] != self.size:
            image = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
        cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=b.rgb)
        np.copyto(b.hwc, b.rgb, casting="unsafe")
        np.copyto(b.input[0], b.hwc.transpose(2, 0, 1))
        np.multiply(b.input, np.float32(1 / 127.5), out=b.input)
        np.subtract(b.input, np.float32(1.0), out=b.input)
        return b.input

    def _to_image(self, output: np.ndarray, shape, b) -> np.ndarray:
        np.copyto(b.hwc, output[0].transpose(1, 2, 0))  # a strided copy first: arithmetic on the
        np.add(b.hwc, np.float32(1.0), out=b.hwc)       # transposed view would need scratch memory
        np.multiply(b.hwc, np.float32(127.5), out=b.hwc)
        np.clip(b.hwc, np.float32(0), np.float32(255), out=b.hwc)
        np.copyto(b.rgb, b.hwc, casting="unsafe")  # the input's RGB buffer, free again by now
        cv2.cvtColor(b.rgb, cv2.COLOR_RGB2BGR, dst=b.out)
        if shape[0] != b.out.shape[0]:
            return cv2.resize(b.out, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        return b.out

    def correct(self, face: AlignedFace, strength: float) -> np.ndarray | None:
        """The corrected face in this thread's output buffer: valid until the thread's next call
        (the pipeline blends it into the frame before that)."""
        if strength <= 0:
            return None
        b = self._buffers()
        x = self._to_input(face.image, b)
        if self.animate is not None and strength < 0.999:
            out = self.animate(x, float(strength))
        else:
            out = self.gx(x)
        return self._to_image(out, face.image.shape, b)

    def reset(self) -> None:
        pass  # keeps nothing between frames

    def close(self) -> None:
        for r in (self.gx, self.animate):
            if r is not None:
                r.close()
