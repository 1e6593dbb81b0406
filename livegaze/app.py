"""Wiring in one place: an AppConfig -> capture, processor and sink objects -> pipeline."""
from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading

from livegaze.blend import Blender
from livegaze.capture import Capture, is_camera_source
from livegaze.config import AppConfig
from livegaze.correctors import from_config
from livegaze.errors import LivegazeError
from livegaze.gate import Gate
from livegaze.landmarks import Landmarker
from livegaze.pipeline import Pipeline
from livegaze.processor import FrameProcessor
from livegaze.quiet import terminal
from livegaze.sinks import build_sink
from livegaze.tracking import EyeTracker

log = logging.getLogger(__name__)


def build_processor(config: AppConfig) -> FrameProcessor:
    """The stages' objects, each from its own config (livegaze.stages)."""
    live = config.live
    if config.pipeline.passthrough:
        return FrameProcessor(None, None, live=live)
    corrector = from_config(config.correct)
    try:
        # Following the face between model runs (model_every > 1) takes the frames in order, on one
        # landmark thread; the model then runs on a fraction of them, so one keeps up.
        workers = 1 if config.landmarks.model_every > 1 else max(1, config.pipeline.landmark_workers)
        landmarkers = [Landmarker(config.landmarks) for _ in range(workers)]
    except BaseException:
        corrector.close()
        raise
    return FrameProcessor(landmarkers, corrector, tracker=EyeTracker(config.track),
                          blender=Blender(config.blend), live=live, gate=Gate(config.gate))


def build_pipeline(config: AppConfig, extra_sink=None, on_frame=None) -> Pipeline:
    """Capture, processor and sink for a config, checked before anything is opened."""
    config.check()
    if config.sink.output:
        refuse_overwriting_input(config.capture.source, config.sink.output)
    sink = build_sink(config.sink, extra_sink)  # validates the output path before anything is opened
    capture_config = config.capture
    if config.sink.output and is_camera_source(capture_config.source):
        # Recording a file from a camera that is not there would only write "camera lost" frames.
        capture_config = dataclasses.replace(capture_config, must_open=True)
    capture = Capture(capture_config)
    try:
        processor = build_processor(config)
    except BaseException:
        capture.close()  # the pipeline would own it; there is none yet
        raise
    return Pipeline(capture, processor, sink, config.pipeline, on_frame=on_frame)


def refuse_overwriting_input(source: str, output: str) -> None:
    """--output may not be the input itself (by any path or link): it would be replaced while read."""
    if is_camera_source(source) or not os.path.exists(source) or not os.path.exists(output):
        return
    if os.path.samefile(source, output):
        raise LivegazeError(f"--output {output}: is the same file as --input {source} (it would be replaced "
                            "while being read); choose another name")


def run_until_done(pipeline: Pipeline):
    """Run a pipeline in the foreground. SIGTERM and Ctrl-C ask it to stop: the frames so far are
    finished into a valid file (an interrupt raised mid-shutdown used to abandon the output and
    close the landmarkers under running workers). The first lets the frames in flight through;
    a second drops them and ends the run at once, whatever a stage is waiting for."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        asked = []

        def stop(signum, _frame):
            if not asked and signum == signal.SIGINT:
                print("livegaze: stopping: finishing the output (frames so far are kept)", file=terminal())
            asked.append(signum)
            if len(asked) == 1:
                pipeline.stop()
            else:
                pipeline.abort()

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with pipeline:  # closes the capture, processor and sink however run() ends
            return pipeline.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def quiet_native_logs() -> None:
    """MediaPipe and TFLite print C++ log lines at start-up; keep the terminal readable."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
