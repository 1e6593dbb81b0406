"""Wiring in one place: options -> capture, processor and sink objects -> pipeline."""
from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass, field

from livegaze.capture import Capture, CaptureConfig, is_camera_source
from livegaze.correctors import create as create_corrector
from livegaze.errors import LivegazeError
from livegaze.gate import Gate, GateConfig
from livegaze.landmarks import Landmarker, LandmarkerConfig
from livegaze.pipeline import Pipeline, PipelineConfig, workers_per_core
from livegaze.processor import FrameProcessor, LiveSettings
from livegaze.sinks import NullSink, PreviewSink, TeeSink, VideoFileSink, VirtualCameraSink

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    """Everything `livegaze run` and the tray need to build a pipeline."""

    capture: CaptureConfig = field(default_factory=CaptureConfig)
    corrector: str = "warp"
    corrector_options: dict = field(default_factory=dict)
    strength: float = 1.0
    enabled: bool = True
    output: str | None = None
    virtual_camera: bool = True
    vcam_device: str | None = None
    vcam_backend: str | None = None
    preview: bool = False
    passthrough: bool = False
    face_model: str | None = None
    max_frames: int = 0
    lossless: bool | None = None
    gate: GateConfig = field(default_factory=GateConfig)
    # The warp's live mode: "shift" moves the eyes by the calibrated screen-to-camera offset (the
    # user's own eye movements stay), "lock" puts the gaze on the camera (see calibration.py).
    mode: str = "shift"
    # MediaPipe instances working on consecutive frames at once: its model takes about 20 ms per
    # frame on one core, so two workers roughly double the frame rate a 2-core machine sustains.
    landmark_workers: int = field(default_factory=workers_per_core)


def corrector_from_options(opts: RunOptions):
    options = dict(opts.corrector_options)
    if opts.corrector == "gazegan" and not (options.get("checkpoint") or options.get("engine")):
        raise LivegazeError("--corrector gazegan needs --checkpoint ckpt.pt or --engine model.plan/.onnx")
    if opts.corrector == "warp":
        from livegaze import calibration

        saved = calibration.load()  # None: the default for a camera above the screen
        options.setdefault("mode", opts.mode)
        if saved is not None:
            options.setdefault("shift", saved.shift)
            options.setdefault("bias", saved.bias)
    return create_corrector(opts.corrector, **options)


def build_processor(opts: RunOptions, settings: LiveSettings | None = None) -> FrameProcessor:
    settings = settings or LiveSettings(enabled=opts.enabled, strength=opts.strength)
    if opts.passthrough:
        return FrameProcessor(None, None, settings=settings)
    corrector = corrector_from_options(opts)
    landmarkers = [Landmarker(LandmarkerConfig(model_path=opts.face_model))
                   for _ in range(max(1, opts.landmark_workers))]
    return FrameProcessor(landmarkers, corrector, settings=settings, gate=Gate(opts.gate))


def build_sink(opts: RunOptions, extra=None):
    sinks = []
    if opts.output:
        sinks.append(VideoFileSink(opts.output))
    if opts.virtual_camera:
        sinks.append(VirtualCameraSink(device=opts.vcam_device, backend=opts.vcam_backend))
    if opts.preview:
        sinks.append(PreviewSink())
    if extra is not None:
        sinks.append(extra)
    if not sinks:
        return NullSink()
    return sinks[0] if len(sinks) == 1 else TeeSink(*sinks)


def build_pipeline(opts: RunOptions, settings: LiveSettings | None = None, extra_sink=None,
                   on_frame=None) -> Pipeline:
    if not 0.0 <= opts.strength <= 1.0:
        raise LivegazeError(f"--strength {opts.strength}: expected a number from 0 to 1")
    try:
        opts.gate.check()
    except ValueError as exc:
        raise LivegazeError(str(exc))
    if opts.max_frames < 0:
        raise LivegazeError(f"--max-frames {opts.max_frames}: expected 0 (until the end) or a positive number")
    if opts.output:
        refuse_overwriting_input(opts.capture.source, opts.output)
    sink = build_sink(opts, extra_sink)  # validates the output path before anything is opened
    capture_config = opts.capture
    if opts.output and is_camera_source(capture_config.source):
        # Recording a file from a camera that is not there would only write "camera lost" frames.
        capture_config = dataclasses.replace(capture_config, must_open=True)
    capture = Capture(capture_config)
    try:
        processor = build_processor(opts, settings)
    except BaseException:
        capture.release()
        raise
    return Pipeline(capture, processor, sink,
                    PipelineConfig(max_frames=opts.max_frames, lossless=opts.lossless), on_frame=on_frame)


def refuse_overwriting_input(source: str, output: str) -> None:
    """--output may not be the input itself (by any path or link): it would be replaced while read."""
    if is_camera_source(source) or not os.path.exists(source) or not os.path.exists(output):
        return
    if os.path.samefile(source, output):
        raise LivegazeError(f"--output {output}: is the same file as --input {source} (it would be replaced "
                            "while being read); choose another name")


def run_until_done(pipeline: Pipeline):
    """Run a pipeline in the foreground. SIGTERM and any number of Ctrl-C only ask it to stop:
    the frames so far are finished into a valid file (an interrupt raised mid-shutdown used to
    abandon the output and close the landmarkers under running workers)."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        asked = []

        def stop(signum, _frame):
            if not asked and signum == signal.SIGINT:
                print("livegaze: stopping: finishing the output (frames so far are kept)", file=sys.stderr)
            asked.append(signum)
            pipeline.stop()

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return pipeline.run()
    finally:
        pipeline.processor.close()  # after run(): every thread has ended
        for s, handler in previous.items():
            signal.signal(s, handler)


def quiet_native_logs() -> None:
    """MediaPipe and TFLite print C++ log lines at start-up; keep the terminal readable."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
