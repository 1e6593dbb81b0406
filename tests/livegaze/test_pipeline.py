import subprocess
import sys
import threading
import time
from pathlib import Path

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
    # The eyes changed, and only they: the clip's own truth says where its irises are. Pixels
    # that moved by more than the codec's noise lie near the irises (within half the distance
    # between them), and nearly every frame has such a change at each eye.
    both_eyes, far = 0, []
    for out_frame, in_frame, frame_truth in zip(written, _frames(path), truth):
        changed = np.abs(out_frame.astype(int) - in_frame.astype(int)).max(axis=2) > 25
        ys, xs = np.nonzero(changed)
        irises = np.asarray(frame_truth["irises"], float)
        spacing = np.linalg.norm(irises[0] - irises[1])
        dist = np.linalg.norm(np.stack([xs, ys], 1)[:, None, :] - irises[None], axis=2)  # (n, 2)
        far.append((dist.min(axis=1) > 0.5 * spacing).sum() / max(len(xs), 1))
        both_eyes += all((dist[:, eye] < 0.25 * spacing).any() for eye in range(2))
    assert both_eyes >= 0.9 * len(truth), both_eyes
    assert max(far) < 0.05, max(far)
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


def wait_for_captures(pipeline, count):
    """Until the capture has taken `count` more frames (or ended): a consumer slower than the
    source by construction, whatever the machine's speed."""
    target = pipeline.stats.captured + count
    deadline = time.monotonic() + 60  # a hang guard, not a timing assertion
    while pipeline.stats.captured < target and not pipeline.rings[0].closed and time.monotonic() < deadline:
        time.sleep(0.001)


class SlowSink(NullSink):
    """Takes each frame only after the source has produced three more."""
    pipeline = None

    def send(self, image):
        wait_for_captures(self.pipeline, 3)
        super().send(image)


def test_live_source_drops_instead_of_queueing(averted_clip):
    """A consumer slower than the source: frames are dropped, not queued, so each delivered
    frame is among the newest (no more behind the capture than the buffers and stages hold)."""
    cap = Capture(CaptureConfig(source=averted_clip[0], paced=True, fps=200))
    sink = SlowSink()
    lag = []
    pipeline = Pipeline(cap, FrameProcessor(None, None), sink, PipelineConfig(buffer=2),
                        on_frame=lambda f: lag.append(pipeline.stats.captured - f.seq))
    sink.pipeline = pipeline
    stats = pipeline.run()
    assert stats.dropped > 0
    assert stats.delivered + stats.dropped == stats.captured
    # Frames held at once: every ring full, one in each stage thread, one being captured. A
    # queueing pipeline would fall further behind with every frame (about 2 more each here).
    held = sum(r.capacity for r in pipeline.rings) + len(pipeline.rings) + 1
    assert max(lag) <= held, (lag, held)


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

    pipeline = None

    def correct(self, face, strength):
        wait_for_captures(self.pipeline, 3)  # slower than the camera by construction
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
    pipeline.processor.corrector.pipeline = pipeline
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
        self.overlapped = threading.Event()

    def correct(self, face, strength):
        with self.lock:
            self.active += 1
            self.calls += 1
            self.max_active = max(self.max_active, self.active)
            self.threads.add(threading.get_ident())
            if self.active == 2:
                self.overlapped.set()
        # The first call waits for a second one to start beside it (a hang guard bounds it: a
        # pipeline that never offers two at once fails on max_active below).
        self.overlapped.wait(60)
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
                              on_frame=lambda f: seen.append((f.seq, f.original, f.outcome)))
    corrector = pipeline.processor.corrector
    stats = run_until_done(pipeline)
    assert stats.delivered == stats.captured == len(averted_clip[1]) and stats.dropped == 0
    assert [s for s, _, _ in seen] == list(range(1, stats.captured + 1))
    assert stats.statuses["corrected"] >= 0.9 * stats.captured
    assert corrector.max_active == 2 and len(corrector.threads) == 2
    for out, (_, original, outcome) in zip(sink.images, seen):
        changed = np.any(out != original, axis=2)
        if outcome == "corrected":
            assert 0 < changed.mean() < 0.1  # its own frame, changed only around the eyes
        else:  # the gate left it alone (the clip cuts to another face: its first frames)
            assert changed.mean() == 0, outcome


def test_stop_from_another_thread_finishes_cleanly(averted_clip, tmp_path):
    """stop() from another thread after the fifth frame is out: the frames so far, and those
    in flight, are finished into a playable file."""
    out = str(tmp_path / "stopped.mp4")
    delivered = []

    def count(frame):
        delivered.append(frame.seq)
        if len(delivered) == 5:
            threading.Thread(target=pipeline.stop).start()

    pipeline = build_pipeline(AppConfig(capture=CaptureConfig(source=averted_clip[0], loop=True, paced=True),
                                        sink=SinkConfig(output=out, virtual_camera=False),
                                        pipeline=PipelineConfig(passthrough=True)), on_frame=count)
    stats = run_until_done(pipeline)
    assert stats.delivered >= 5 and stats.delivered == len(delivered)
    assert len(_frames(out)) == stats.delivered


def test_sigterm_closes_the_output_file(averted_clip, tmp_path):
    """SIGTERM after the sixth frame is written (the probe sends it then): exit 0 and a playable
    file with the frames so far."""
    out = tmp_path / "sigterm.mp4"
    probe = str(Path(__file__).with_name("interrupt_probe.py"))
    proc = subprocess.run([sys.executable, probe, "term:6", "run", "--input", averted_clip[0], "--loop",
                           "--paced", "--output", str(out)], capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    frames = _frames(str(out))
    assert len(frames) >= 6
    assert f"frames: {len(frames)} delivered".encode() in proc.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["sigterm.mp4"]
