"""The bridge between Qt and the pipeline. The UI never waits on the pipeline: starting, stopping
and swapping models happen on worker threads, and frames and stats reach Qt through a timer that
polls the latest frame the output thread left behind."""
from __future__ import annotations

import dataclasses
import threading
from typing import Callable

import numpy as np
from PyQt6.QtCore import QObject, QTimer, pyqtSignal
from PyQt6.QtGui import QImage

from livegaze.app import build_pipeline
from livegaze.capture import is_camera_source
from livegaze.config import AppConfig
from livegaze.correctors import entry, from_config
from livegaze.errors import LivegazeError, VirtualCameraUnavailable
from livegaze.frames import Outcome
from livegaze.landmarks import BATTERY_MODEL_EVERY, LandmarkerConfig
from livegaze.sinks import SinkConfig, SinkLifecycle, VirtualCameraSink


def to_qimage(bgr: np.ndarray) -> QImage:
    h, w = bgr.shape[:2]
    return QImage(np.ascontiguousarray(bgr).data, w, h, 3 * w, QImage.Format.Format_BGR888).copy()


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, LivegazeError):
        text = str(exc)
        # The capture words its errors for the command line; the tray has a Camera field instead.
        return "camera " + text[len("--input "):] if text.startswith("--input ") else text
    return f"{type(exc).__name__}: {exc}"


class VirtualCameraIfAny(SinkLifecycle):
    """The virtual camera, or nothing when the device is missing: the camera, the preview and
    calibration still work, and `problem` says what to install (the tray shows it)."""

    name = "virtualcam"

    def __init__(self, config: SinkConfig):
        self.camera = VirtualCameraSink(device=config.device, backend=config.backend)
        self.problem: str | None = None

    def open(self, width: int, height: int, fps: float) -> None:
        try:
            self.camera.open(width, height, fps)
        except VirtualCameraUnavailable as exc:
            self.camera, self.problem = None, str(exc)

    def send(self, image) -> None:
        if self.camera is not None:
            self.camera.send(image)

    def close(self) -> None:
        if self.camera is not None:
            self.camera.close()



class PipelineController(QObject):
    # off, starting, correcting, paused, no_face, preview_only (running, no virtual camera), error
    state_changed = pyqtSignal(str)
    stats_updated = pyqtSignal(dict)
    preview_updated = pyqtSignal(QImage, QImage)
    error = pyqtSignal(str)

    def __init__(self, config: AppConfig, sink_factory: Callable | None = None, poll_ms: int = 100,
                 parent=None):
        super().__init__(parent)
        self.config = config  # what the tray edits and saves; `live` is read by the running pipeline
        self.live = config.live
        self.sink_factory = sink_factory
        self.want_preview = False
        self.state = "off"
        self.pipeline = None
        self.last_frame = None
        self.frames_seen = 0
        self.calibrator = None  # collecting measured moves while the user calibrates
        self.problem: str | None = None  # the last error shown (the preview and calibration repeat it)
        self.output: VirtualCameraIfAny | None = None  # the running pipeline's virtual camera
        self._camera_seen = False  # a real frame arrived since the start ("no camera" vs "lost")
        self._lost_told = False
        self._pending: list = []  # results handed from worker threads to the GUI thread
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._closed = False
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    # --- user actions (return at once) ---
    def start(self) -> None:
        if self.pipeline is not None or self.state == "starting":
            return
        self.problem, self._camera_seen, self._lost_told, self.last_frame = None, False, False, None
        self._set_state("starting")
        self._spawn(self._start_worker)

    def stop(self) -> None:
        pipeline, self.pipeline, self.output = self.pipeline, None, None
        self._set_state("off")
        if pipeline is not None:
            self._spawn(self._stop_worker, pipeline)

    def _spawn(self, target, *args) -> None:
        self._workers = [t for t in self._workers if t.is_alive()]
        thread = threading.Thread(target=target, args=args, name=f"livegaze-{target.__name__}", daemon=True)
        self._workers.append(thread)
        thread.start()

    def set_strength(self, value: float) -> None:
        """Read by the pipeline once per frame: takes effect on the next frame corrected."""
        self.live.strength = float(min(max(value, 0.0), 1.0))

    def set_enabled(self, enabled: bool) -> None:
        self.live.enabled = bool(enabled)

    def toggle(self) -> None:
        self.set_enabled(not self.live.enabled)

    @property
    def battery_saver(self) -> bool:
        return self.config.landmarks.model_every >= BATTERY_MODEL_EVERY

    def set_battery_saver(self, on: bool) -> None:
        """The face model at least every BATTERY_MODEL_EVERY frames instead of the normal rate;
        saved with the settings, and taken up by a running pipeline on its next frame."""
        every = BATTERY_MODEL_EVERY if on else LandmarkerConfig.model_every
        self.config.landmarks = dataclasses.replace(self.config.landmarks, model_every=every)
        follower = self.pipeline.processor.follower if self.pipeline is not None else None
        if follower is not None:
            follower.every = every

    def set_camera(self, source: str, width: int | None = None, height: int | None = None) -> None:
        """The next start's camera and size (0x0: the camera's own)."""
        capture = self.config.capture
        self.config.capture = dataclasses.replace(
            capture, source=source, width=capture.width if width is None else width,
            height=capture.height if height is None else height)

    def set_corrector(self, name: str, model_path: str = "") -> None:
        """Swap the model; while running, the new corrector is built off the GUI thread."""
        engine = model_path if model_path.endswith((".onnx", ".plan")) else None
        checkpoint = model_path if model_path and engine is None else None
        self.config.correct = dataclasses.replace(self.config.correct, name=name, engine=engine,
                                                  checkpoint=checkpoint)
        if self.pipeline is not None:
            self._spawn(self._swap_worker, self.pipeline)

    def model_path(self) -> str:
        """The model file of a corrector that runs one ("" for the others)."""
        correct = self.config.correct
        return (correct.engine or correct.checkpoint or "") if entry(correct.name).needs_model else ""

    # --- worker threads ---
    def run_config(self) -> AppConfig:
        """The saved config as the tray runs it: a video file stands in for a camera (played live
        and looped). The virtual camera is added by the start itself (VirtualCameraIfAny), unless a
        test gave its own sink."""
        config = self.config
        file = not is_camera_source(config.capture.source)
        capture = dataclasses.replace(config.capture, loop=config.capture.loop or file,
                                      paced=config.capture.paced or file)
        sink = dataclasses.replace(config.sink, virtual_camera=False)
        return dataclasses.replace(config, capture=capture, sink=sink)

    def _start_worker(self) -> None:
        pipeline = None
        try:
            extra = self.sink_factory() if self.sink_factory else VirtualCameraIfAny(self.config.sink)
            pipeline = build_pipeline(self.run_config(), extra_sink=extra,
                                      on_frame=self._on_frame)
            pipeline.start()
        except BaseException as exc:
            if pipeline is not None:  # built but could not start (no virtual camera, say)
                pipeline.close(failed=True)
            self._post(("start_failed", describe_error(exc)))
            return
        if self._closed:  # the app quit while the camera was opening
            self._stop_worker(pipeline)
            return
        self._post(("started", (pipeline, extra if isinstance(extra, VirtualCameraIfAny) else None)))

    def _stop_worker(self, pipeline) -> None:
        pipeline.stop()
        try:
            pipeline.join(timeout=10)  # closes the capture, processor and sink
        except BaseException:
            pass  # the error was shown when the pipeline stopped

    def _swap_worker(self, pipeline) -> None:
        try:
            corrector = from_config(self.config.correct)
        except BaseException as exc:
            self._post(("error", f"model not changed: {describe_error(exc)}"))
            return
        pipeline.processor.set_corrector(corrector)

    def begin_calibration(self):
        """A Calibrator fed with every frame's measured move, image and face until `end_calibration`."""
        from livegaze.calibration import Calibrator

        self.calibrator = Calibrator()
        return self.calibrator

    def end_calibration(self):
        """Stop collecting; save the result and rebuild the corrector with it (one-line errors)."""
        from livegaze import calibration

        calibrator, self.calibrator = self.calibrator, None
        result = calibrator.result()
        calibration.save(result)
        if self.pipeline is not None:
            self._spawn(self._swap_worker, self.pipeline)
        return result

    def _on_frame(self, frame) -> None:
        # Output thread: keep a reference; while calibrating, also the calibrator's registration of
        # the frame (a few ms, for the few seconds a calibration lasts).
        self.last_frame = frame
        calibrator = self.calibrator
        if calibrator is not None:
            calibrator.saw_face(frame.face is not None)
            calibrator.add(frame.measured, frame.original, frame.face)
        self.frames_seen += 1

    def _post(self, item) -> None:
        with self._lock:
            self._pending.append(item)

    # --- GUI thread ---
    def _tell(self, message: str) -> None:
        self.problem = message
        self.error.emit(message)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def poll(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for kind, value in pending:
            if kind == "started":
                pipeline, output = value
                if self.state == "starting":
                    self.pipeline, self.output = pipeline, output
                    if output is not None and output.problem:
                        self._tell(output.problem)
                else:  # stopped while starting
                    self._spawn(self._stop_worker, pipeline)
            elif kind == "start_failed":
                self._set_state("error")
                self._tell(value)
            elif kind == "error":
                self.error.emit(value)
        pipeline = self.pipeline
        if pipeline is None:
            return
        if pipeline.error is not None or not pipeline.running:
            self.pipeline = None
            self._set_state("error")
            message = describe_error(pipeline.error) if pipeline.error else "the video source ended"
            self._tell(f"camera stopped: {message}")
            self._spawn(self._stop_worker, pipeline)
            return
        frame = self.last_frame
        lost = getattr(pipeline.capture, "lost", False)
        source = self.config.capture.source
        if lost and not self._lost_told:  # once per loss, not on every poll
            self._lost_told = True
            self._set_state("error")
            if self._camera_seen:
                self._tell(f"camera {source} lost: reconnecting every second; check the cable or close other "
                           "apps that use it")
            else:
                self._tell(f"no camera: camera {source} cannot be opened (is it connected, and not in use by "
                           "another app?); livegaze tries again every second")
        elif not lost and frame is not None:
            self._camera_seen, self._lost_told = True, False
            if self.output is not None and self.output.problem:
                self._set_state("preview_only")
            elif pipeline.stats.failing:  # every recent frame failed in a stage: not "correcting"
                self._set_state("error")
            elif frame.outcome is Outcome.NO_FACE:
                self._set_state("no_face")
            elif frame.outcome is Outcome.DISABLED:
                self._set_state("paused")
            else:
                self._set_state("correcting")
        if frame is not None:
            if self.want_preview and frame.original is not None:
                self.preview_updated.emit(to_qimage(frame.original), to_qimage(frame.image))
        self.stats_updated.emit(pipeline.stats.summary())

    def shutdown(self) -> None:
        """Stop everything, including pipelines still opening or closing on worker threads."""
        self._closed = True
        self.timer.stop()
        for thread in list(self._workers):
            thread.join(timeout=30)
        with self._lock:
            pending, self._pending = self._pending, []
        leftovers = [value for kind, value in pending if kind == "started"]
        pipeline, self.pipeline = self.pipeline, None
        for p in leftovers + ([pipeline] if pipeline is not None else []):
            self._stop_worker(p)
