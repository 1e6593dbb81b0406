"""Faults during a run: settings no stage can take, a thread that dies, a stage that never returns,
a signal, a run in which every frame failed. Each ends the run promptly, in one line, with no
hidden file left and no earlier output replaced."""
import math
import signal
import subprocess
import sys
import threading
import time

import pytest

from livegaze.capture import Capture, CaptureConfig
from livegaze.config import read_file
from livegaze.errors import LivegazeError
from livegaze.pipeline import Pipeline, PipelineConfig
from livegaze.processor import FrameProcessor
from livegaze.sinks import NullSink
from livegaze.stages import Threads

HANG_GUARD_S = 120  # a hang detector, not a speed limit: a healthy run ends long before

# A real `livegaze` process with one test corrector registered: "stuck" never returns from its
# first face (after saying so on stderr: the test's handshake), "broken" raises on every face.
SCRIPT = '''
import sys, threading
from livegaze import cli
from livegaze.align import EyeGeometry
from livegaze.correctors import Entry, register
from livegaze.pipeline import Pipeline

Pipeline.STOP_GRACE_S = Pipeline.ABORT_GRACE_S = 1.0  # the test need not wait the full grace


class TestCorrector:
    concurrency, handles_strength, space, geometry = 1, True, "aligned", EyeGeometry()

    def __init__(self, **_):
        pass

    def reset(self):
        pass

    def close(self):
        pass


class Stuck(TestCorrector):
    def correct(self, face, strength):
        open(sys.argv[1], "w").close()  # the handshake (stderr is not: MediaPipe's start-up
        threading.Event().wait()        # silences it for a moment, in another thread)


class Broken(TestCorrector):
    def correct(self, face, strength):
        raise RuntimeError("broken corrector")


register(Entry("stuck", Stuck, "test"))
register(Entry("broken", Broken, "test"))
sys.exit(cli.main(sys.argv[2:]))
'''


def livegaze_with_test_correctors(folder, *args):
    """`livegaze ARGS` in a real process; a "stuck" stage creates folder/stuck when it sticks."""
    script = folder / "with_test_correctors.py"
    script.write_text(SCRIPT)
    return subprocess.Popen([sys.executable, str(script), str(folder / "stuck"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def livegaze_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def hidden_files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".livegaze-"))


def test_a_settings_file_no_stage_can_take_ends_the_run_in_one_line(averted_clip, tmp_path):
    """`stats_window = -1` used to kill the output thread and hang the process, deaf to SIGTERM,
    with a hidden file left behind."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[pipeline]\nstats_window = -1\n")
    result = subprocess.run([sys.executable, "-m", "livegaze", "run", "--input", averted_clip[0], "--output",
                             str(tmp_path / "out.avi"), "--config", str(bad)],
                            capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert result.returncode == 2
    lines = livegaze_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"livegaze: error: --config {bad}: ")
    assert "pipeline.stats_window -1: expected a whole number from 2 to " in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.parametrize("section,setting,shown", [
    ("pipeline", "buffer = 0", "pipeline.buffer 0: expected a whole number from 1 to "),
    ("pipeline", "landmark_workers = 0", "pipeline.landmark_workers 0: expected a whole number from 1 to "),
    ("landmarks", "num_faces = 0", "landmarks.num_faces 0: expected a whole number from 1 to "),
    ("landmarks", "max_input_width = 0", "landmarks.max_input_width 0: expected a whole number from 64 to "),
    ("landmarks", "min_detection_confidence = 1.5", "landmarks.min_detection_confidence 1.5: expected a "
                                                    "number from 0 to 1"),
    ("capture", "image_frames = -1", "capture.image_frames -1: expected a whole number from 0 to "),
    ("gate", "blink_closed = -1.0", "gate.blink_closed -1: expected a number from "),
    ("gate", "min_openness = nan", "gate.min_openness nan: expected a finite number from 0 to "),
    ("track", "gate = inf", "track.gate inf: expected a finite number from "),
    ("track", "max_missed = -1", "track.max_missed -1: expected a whole number from 0 to "),
    ("blend", "feather = -1", "blend.feather -1: expected a whole number from 0 to "),
    ("correct", "max_move = nan", "correct.max_move nan: expected a finite number from "),
    ("sink", 'output = ""', "sink.output '': expected a name"),
])
def test_every_section_of_a_settings_file_is_range_checked(tmp_path, section, setting, shown):
    """Each used to be a traceback mid-run or a run that silently corrected nothing."""
    path = tmp_path / "settings.toml"
    path.write_text(f"[{section}]\n{setting}\n")
    with pytest.raises(LivegazeError) as info:
        read_file(str(path))
    assert str(info.value).startswith(f"--config {path}: bad settings: {section} ({shown}")
    assert "\n" not in str(info.value)


class FailingProcessor(FrameProcessor):
    """Passes frames through, except that one kind of thread raises on frame `seq` (a bug in a
    stage: not one frame's failure, which the processor itself turns into a passed-through frame)."""

    def __init__(self, threads: Threads, seq: int):
        super().__init__(None, None)
        self.fail = (threads, seq)

    def run(self, threads, frame, *args):
        if (threads, frame.seq) == self.fail:
            raise RuntimeError("stage broke")
        return super().run(threads, frame, *args)


class FailingSink(NullSink):
    def send(self, image):
        if self.frames == 4:
            raise RuntimeError("stage broke")
        super().send(image)


@pytest.mark.parametrize("where", ["landmarks", "in-order", "output"])
def test_a_thread_that_dies_mid_run_stops_every_thread(averted_clip, where):
    """A file source's buffers are lossless (the producer waits for space): a dead consumer used
    to leave its producer waiting forever, and the run never ended."""
    baseline = threading.active_count()
    processor = {"landmarks": FailingProcessor(Threads.PER_WORKER, 5),
                 "in-order": FailingProcessor(Threads.IN_ORDER, 5)}.get(where) or FrameProcessor(None, None)
    sink = FailingSink() if where == "output" else NullSink()
    pipeline = Pipeline(Capture(CaptureConfig(source=averted_clip[0])), processor, sink,
                        PipelineConfig(buffer=1))
    ended = {}

    def run():
        try:
            pipeline.run()
        except LivegazeError as exc:
            ended["error"] = str(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(HANG_GUARD_S)
    assert not runner.is_alive(), "the run hung after a thread died"
    assert ended["error"].startswith(f"the run stopped: its {where} thread failed "
                                     "(RuntimeError: stage broke)")
    assert not pipeline.running and threading.active_count() == baseline
    assert pipeline.stats.delivered < pipeline.stats.captured or where == "output"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_a_run_whose_stage_never_returns(averted_clip, tmp_path, signum):
    """A stage that hangs used to make the stop wait for it forever; now the frames in flight get
    a grace period, then the run ends without them: exit 2, one line, no hidden file, and an
    earlier output kept."""
    folder = tmp_path / "run"
    folder.mkdir()
    out = folder / "out.avi"
    out.write_bytes(b"an earlier recording")
    proc = livegaze_with_test_correctors(folder, "run", "--input", averted_clip[0], "--output", str(out),
                                         "--corrector", "stuck")
    deadline = time.monotonic() + HANG_GUARD_S
    while not (folder / "stuck").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the handshake, not timing anything
    assert (folder / "stuck").exists(), proc.communicate()[1]
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 2, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("livegaze: error:")]
    assert errors == ["livegaze: error: the run was stopped but livegaze-in-order did not finish; the output "
                      "was not written"], stderr
    assert "Traceback" not in stderr
    assert out.read_bytes() == b"an earlier recording" and hidden_files(folder) == []


@pytest.fixture(scope="module")
def one_face_clip(tmp_path_factory):
    """20 frames of one face looking down, drifting: every frame reaches the corrector (no cut to
    another face, whose first frames the gate leaves alone by design)."""
    from livegaze.evaluation.clips import ClipSpec, write_clip

    path = str(tmp_path_factory.mktemp("one-face") / "one.mp4")
    write_clip(path, ClipSpec(frames=20, photos=("astronaut",), motion="wander", gaze=(0.12, 0.15)))
    return path


def test_a_run_in_which_every_frame_failed_is_not_a_success(one_face_clip, tmp_path):
    """It used to print `wrote out.avi` and exit 0 with every frame passed through uncorrected."""
    out = tmp_path / "out.avi"
    out.write_bytes(b"an earlier recording")
    proc = livegaze_with_test_correctors(tmp_path, "run", "--input", one_face_clip, "--output", str(out),
                                         "--corrector", "broken")
    stdout, stderr = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 2, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("livegaze: error:")]
    assert len(errors) == 1 and errors[0].startswith("livegaze: error: every frame failed (")
    assert "correct: RuntimeError: broken corrector" in errors[0] and "wrote" not in stdout
    warnings = [line for line in stderr.splitlines() if line.startswith("livegaze: warning:")]
    assert len(warnings) == 1 and "frame 1: correct failed" in warnings[0]  # not one per frame
    assert out.read_bytes() == b"an earlier recording" and hidden_files(tmp_path) == []


def test_the_stats_say_when_the_latest_frames_all_failed(averted_clip):
    """What the tray's icon reads while a camera runs: 30 failed frames in a row is a problem,
    one good frame ends it."""
    from livegaze.frames import Frame
    from livegaze.runstats import FAILING_RUN, PipelineStats

    stats = PipelineStats()
    stats.record(Frame(seq=1, t_capture=0.0, image=None, failed="correct: RuntimeError: x"), 1.0)
    assert stats.failing == "the last 1 frames all failed (correct: RuntimeError: x)"  # none worked yet
    stats.record(Frame(seq=2, t_capture=0.0, image=None), 1.0)
    for seq in range(3, FAILING_RUN + 3):
        assert stats.failing is None  # it has worked: one bad frame is not a problem yet
        stats.record(Frame(seq=seq, t_capture=0.0, image=None, failed="correct: RuntimeError: x"), 1.0)
    assert stats.failing == f"the last {FAILING_RUN} frames all failed (correct: RuntimeError: x)"
    stats.record(Frame(seq=FAILING_RUN + 3, t_capture=0.0, image=None), 1.0)
    assert stats.failing is None and stats.problem() is None
    assert math.isfinite(stats.summary()["latency_p95_ms"]) and stats.summary()["failed"] == FAILING_RUN + 1


class BrokenCorrector:
    """Raises on every face (a damaged model, say): every frame goes out untouched."""

    concurrency, handles_strength, space = 1, True, "aligned"

    def __init__(self, **_):
        from livegaze.align import EyeGeometry
        self.geometry = EyeGeometry()

    def reset(self):
        pass

    def correct(self, face, strength):
        raise RuntimeError("broken corrector")

    def close(self):
        pass


def test_the_trays_icon_shows_a_run_in_which_every_frame_fails(averted_clip, monkeypatch, tmp_path):
    """It used to say "correcting" (green) while every frame failed."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtWidgets import QApplication

    from livegaze.config import AppConfig
    from livegaze.correctors import CorrectConfig, Entry, register
    from livegaze.tray.controller import PipelineController
    from tests.livegaze.tray.conftest import wait_until

    qapp = QApplication.instance() or QApplication([])
    register(Entry("broken", BrokenCorrector, "test"))
    config = AppConfig(capture=CaptureConfig(source=averted_clip[0]), correct=CorrectConfig(name="broken"))
    controller = PipelineController(config, sink_factory=NullSink)
    states = []
    controller.state_changed.connect(states.append)
    try:
        controller.start()
        assert wait_until(qapp, lambda: controller.state == "error", timeout=HANG_GUARD_S), states
        assert "correcting" not in states and controller.pipeline.stats.failing.startswith("the last ")
    finally:
        controller.shutdown()
