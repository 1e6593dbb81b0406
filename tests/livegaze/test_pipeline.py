import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from livegaze.app import build_pipeline, run_until_done
from livegaze.config import AppConfig
from livegaze.sinks import SinkConfig
from livegaze.capture import Capture, CaptureConfig
from livegaze.align import EyeGeometry
from livegaze.correctors import CorrectConfig, Entry, register
from livegaze.pipeline import Pipeline, PipelineConfig
from livegaze.processor import FrameProcessor
from livegaze.sinks import NullSink


def _frames(path):
    cap = cv2.VideoCapture(path)
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            return out
        out.append(f)


@pytest.mark.parametrize("corrector,stages", [("warp", {"landmarks", "track", "correct"}),
                                              ("geometric", {"landmarks", "track", "align", "correct", "blend"})])
def test_file_to_file_corrects_every_frame(averted_clip, tmp_path, corrector, stages):
    """Both kinds of corrector: the warp works on the frame itself, the geometric one on the
    aligned face (then blended back)."""
    path, truth = averted_clip
    out = str(tmp_path / "out.mp4")
    stats = run_until_done(build_pipeline(AppConfig(capture=CaptureConfig(source=path), sink=SinkConfig(output=out, virtual_camera=False),
                                                    correct=CorrectConfig(name=corrector))))
    assert stats.delivered == len(truth) and stats.dropped == 0
    assert stats.statuses.get("corrected", 0) >= 0.9 * len(truth)
    written = _frames(out)
    assert len(written) == len(truth)
    diff = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(written, _frames(path))]
    assert max(diff) > 0.05  # the eyes did change
    summary = stats.summary()
    assert stages <= set(summary["stage_ms"])
    assert summary["latency_p95_ms"] > 0


def test_frames_carry_sequence_and_capture_time(averted_clip):
    sink = NullSink()
    seen = []
    pipeline = build_pipeline(AppConfig(capture=CaptureConfig(source=averted_clip[0]), sink=SinkConfig(virtual_camera=False),
                                        pipeline=PipelineConfig(passthrough=True)), extra_sink=sink,
                              on_frame=lambda f: seen.append((f.seq, f.t_capture)))
    run_until_done(pipeline)
    seqs = [s for s, _ in seen]
    assert seqs == sorted(seqs) and seqs[0] == 1 and len(seqs) == sink.frames
    assert all(b >= a for (_, a), (_, b) in zip(seen, seen[1:]))


class ExplodingCorrector:
    name = "exploding"
    concurrency = 1
    handles_strength = True
    space = "aligned"
    geometry = EyeGeometry()

    def reset(self):
        pass

    def __init__(self, **_):
        self.calls = 0

    def correct(self, face, strength):
        self.calls += 1
        if self.calls % 2:
            raise RuntimeError("boom")
        return None

    def close(self):
        pass


def test_corrector_error_and_no_face_pass_frames_through_untouched(averted_clip, blank_clip):
    register(Entry("exploding", ExplodingCorrector, "test"))
    for source, expected in ((averted_clip[0], "error"), (blank_clip, "no_face")):
        sink = NullSink(keep=True)
        originals = []
        pipeline = build_pipeline(AppConfig(capture=CaptureConfig(source=source), correct=CorrectConfig(name="exploding"),
                                            sink=SinkConfig(virtual_camera=False)), extra_sink=sink,
                                  on_frame=lambda f: originals.append(f.original))
        stats = run_until_done(pipeline)
        assert stats.statuses[expected] > 0
        assert all(np.array_equal(a, b) for a, b in zip(sink.images, originals))
        assert sink.frames == stats.captured


class SlowSink(NullSink):
    def send(self, image):
        time.sleep(0.05)  # a consumer slower than the 200 fps source
        super().send(image)


def test_live_source_drops_instead_of_queueing(averted_clip):
    cap = Capture(CaptureConfig(source=averted_clip[0], paced=True, fps=200))
    pipeline = Pipeline(cap, FrameProcessor(None, None), SlowSink(), PipelineConfig(buffer=2))
    stats = pipeline.run()
    assert stats.dropped > 0
    assert stats.delivered + stats.dropped == stats.captured
    assert max(stats.latencies_ms) < 400  # bounded buffers: no seconds of lag


class SlowCorrector:
    """A corrector slower than the camera, as the in-painting model is on a small CPU."""
    name = "slow"
    concurrency = 1
    handles_strength = True
    space = "aligned"
    geometry = EyeGeometry()

    def reset(self):
        pass

    def __init__(self, **_):
        pass

    def correct(self, face, strength):
        time.sleep(0.1)
        return None

    def close(self):
        pass


def test_slow_correction_drops_frames_before_the_landmarks(averted_clip):
    """With correction the bottleneck, frames are dropped at capture: no landmark work is spent on
    frames that would be dropped later, and no located frame queues behind another."""
    register(Entry("slow", SlowCorrector, "test"))
    pipeline = build_pipeline(AppConfig(capture=CaptureConfig(source=averted_clip[0], paced=True, fps=30),
                                        correct=CorrectConfig(name="slow"), sink=SinkConfig(virtual_camera=False),
                                        pipeline=PipelineConfig(landmark_workers=2)),
                              extra_sink=NullSink())
    located = []
    locate = pipeline.processor.step_landmarks
    pipeline.processor.step_landmarks = lambda frame, worker: (located.append(frame.seq), locate(frame, worker))[1]
    stats = run_until_done(pipeline)
    assert stats.dropped > 0 and stats.delivered < stats.captured
    assert len(located) == stats.delivered, (len(located), stats.delivered, stats.captured)
    # Once the stage times are known, one frame at a time is let past the landmarks.
    assert pipeline.in_flight.limit() == 1


class TwoAtOnceCorrector:
    """Declares that it takes two faces at once (as the CPU runners do) and records how many of
    its calls overlap; each call returns its own face inverted."""
    name = "two-at-once"
    handles_strength = True
    space = "aligned"
    geometry = EyeGeometry()

    def reset(self):
        pass
    concurrency = 2

    def __init__(self, **_):
        self.lock = threading.Lock()
        self.active = self.max_active = self.calls = 0
        self.threads = set()

    def correct(self, face, strength):
        with self.lock:
            self.active += 1
            self.calls += 1
            self.max_active = max(self.max_active, self.active)
            self.threads.add(threading.get_ident())
        time.sleep(0.1)  # long enough for the next frame's landmarks to finish meanwhile
        with self.lock:
            self.active -= 1
        return 255 - face.image

    def close(self):
        pass


def test_two_faces_at_once_keep_frames_in_order(averted_clip):
    """A corrector that takes two faces at once gets two (on two threads), and the frames still
    come out complete, in capture order, each with its own correction."""
    register(Entry("two-at-once", TwoAtOnceCorrector, "test"))
    sink = NullSink(keep=True)
    seen = []
    pipeline = build_pipeline(AppConfig(capture=CaptureConfig(source=averted_clip[0]), correct=CorrectConfig(name="two-at-once"),
                                        sink=SinkConfig(virtual_camera=False)), extra_sink=sink,
                              on_frame=lambda f: seen.append((f.seq, f.original)))
    corrector = pipeline.processor.corrector
    stats = run_until_done(pipeline)
    assert stats.delivered == stats.captured == len(averted_clip[1]) and stats.dropped == 0
    assert [s for s, _ in seen] == list(range(1, stats.captured + 1))
    assert stats.statuses["corrected"] >= 0.9 * stats.captured
    assert corrector.max_active == 2 and len(corrector.threads) == 2
    for out, (_, original) in zip(sink.images, seen):
        changed = np.any(out != original, axis=2)
        assert 0 < changed.mean() < 0.1  # its own frame, changed only around the eyes


def test_stop_from_another_thread_finishes_cleanly(averted_clip, tmp_path):
    out = str(tmp_path / "stopped.mp4")
    pipeline = build_pipeline(AppConfig(capture=CaptureConfig(source=averted_clip[0], loop=True, paced=True),
                                        sink=SinkConfig(output=out, virtual_camera=False),
                                        pipeline=PipelineConfig(passthrough=True)))
    timer = threading.Timer(0.5, pipeline.stop)
    timer.start()
    stats = run_until_done(pipeline)
    assert stats.delivered > 0
    assert len(_frames(out)) == stats.delivered


def test_sigterm_closes_the_output_file(averted_clip, tmp_path):
    out = tmp_path / "sigterm.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "livegaze", "run", "--input", averted_clip[0], "--loop",
                             "--paced", "--output", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".livegaze-") for p in tmp_path.iterdir()):
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    frames = _frames(str(out))
    assert len(frames) > 5
    assert [p.name for p in tmp_path.iterdir()] == ["sigterm.mp4"]
