"""The pipeline's life cycle as its caller sees it: which frames reach the output and in what
order (every one from a file, the newest from a live source), and what start, stop, abort,
close, join and a `with` block leave behind (threads ended, capture, processor and output each
closed once, or the output dropped), with the errors they raise.

The source is a numbered test capture (frame n is an image that spells n in its pixels), the
processor the real pass-through one, the output a NullSink that records what it was sent. Every
wait is a handshake on an event the pipeline's own threads reach; GUARD_S only turns a hang
into a failure."""
import _thread
import threading

import numpy as np
import pytest

from livegaze.capture import EndOfStream
from livegaze.errors import LivegazeError
from livegaze.pipeline import InFlight, Pipeline, PipelineConfig
from livegaze.processor import FrameProcessor
from livegaze.sinks import NullSink
from livegaze.stages import Threads

GUARD_S = 60  # a hang guard, not a speed limit


def wait(cond: threading.Condition, predicate, what: str) -> None:
    with cond:
        assert cond.wait_for(predicate, GUARD_S), f"still waiting for {what} after {GUARD_S}s"


class Numbered:
    """A source of `count` frames (None: endless), 6x4 pixels, frame n all (n mod 256, n // 256
    mod 256, n // 65536); `live` as a camera or a paced file. `holds[n]()` runs before frame n is read (a source that waits)."""

    fps = 25.0

    def __init__(self, count=None, live=False):
        self.count, self.live = count, live
        self.reads = self.closes = 0
        self.ended = False
        self.holds = {}
        self.cond = threading.Condition()

    def read(self):
        n = self.reads + 1
        if n in self.holds:
            self.holds[n]()
        with self.cond:
            if self.count is not None and n > self.count:
                self.ended = True
                self.cond.notify_all()
                raise EndOfStream()
            self.reads = n
            self.cond.notify_all()
        return np.broadcast_to(np.array([n % 256, n // 256 % 256, n // 65536], np.uint8), (4, 6, 3)).copy()

    def wait_reads(self, n):
        wait(self.cond, lambda: self.reads >= n, f"frame {n} to be read")

    def wait_end(self):
        wait(self.cond, lambda: self.ended, "the end of the source")

    def close(self):
        self.closes += 1


class Recording(NullSink):
    """Records the number of each frame sent, and each open, close and abort; `before[n]()` runs
    before frame n is taken (a slow output)."""

    def __init__(self):
        super().__init__()
        self.numbers, self.opened, self.closes, self.aborts = [], None, 0, 0
        self.before = {}
        self.cond = threading.Condition()

    def open(self, width, height, fps):
        self.opened = (width, height, fps)

    def send(self, image):
        n = int(image[0, 0, 0]) + 256 * int(image[0, 0, 1]) + 65536 * int(image[0, 0, 2])
        if n in self.before:
            self.before[n]()
        with self.cond:
            self.numbers.append(n)
            self.cond.notify_all()

    def wait_sent(self, count):
        wait(self.cond, lambda: len(self.numbers) >= count, f"{count} frames to be sent")

    def close(self):
        self.closes += 1

    def abort(self):
        self.aborts += 1


class Hooked(FrameProcessor):
    """The real pass-through processor (no face model, no corrector) that records which frames
    each kind of thread has taken; `hooks[(threads, n)]()` runs when frame n reaches them."""

    def __init__(self):
        super().__init__(None, None)
        self.seen = {threads: [] for threads in Threads}
        self.hooks = {}
        self.closes = 0
        self.cond = threading.Condition()

    def run(self, threads, frame, *args):
        with self.cond:
            self.seen[threads].append(frame.seq)
            self.cond.notify_all()
        hook = self.hooks.get((threads, frame.seq))
        if hook is not None:
            hook()
        return super().run(threads, frame, *args)

    def wait_seen(self, threads, n):
        wait(self.cond, lambda: n in self.seen[threads], f"frame {n} on the {threads.name} thread")

    def close(self):
        self.closes += 1
        super().close()


class Watched(Pipeline):
    """A Pipeline whose run loop can be waited on: `polls` counts the times the thread in `run`
    asked whether the pipeline is `running` (once per turn of its loop, at the top)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.polls, self.runner = 0, None
        self.poll_cond = threading.Condition()

    def run(self):
        self.runner = threading.current_thread()
        return super().run()

    @property
    def running(self):
        if threading.current_thread() is self.runner:
            with self.poll_cond:
                self.polls += 1
                self.poll_cond.notify_all()
        return super().running

    def wait_polls(self, count):
        wait(self.poll_cond, lambda: self.polls >= count, f"{count} turns of the run loop")


def run_guarded(pipeline) -> dict:
    """pipeline.run() on another thread, with a hang guard: {"stats": ...} or {"error": ...}."""
    out = {}

    def target():
        try:
            out["stats"] = pipeline.run()
        except BaseException as exc:  # noqa: BLE001  (the test looks at what it was)
            out["error"] = exc

    runner = threading.Thread(target=target, daemon=True)
    runner.start()
    runner.join(GUARD_S)
    assert not runner.is_alive(), "the run hung"
    return out


def new_threads(before):
    return [t for t in threading.enumerate() if t not in before]


def test_a_file_is_delivered_whole_in_order_and_everything_is_closed_once():
    """No settings given: the defaults (a lossless run for a file)."""
    capture, processor, sink = Numbered(12), Hooked(), Recording()
    pipeline = Pipeline(capture, processor, sink)
    stats = run_guarded(pipeline)["stats"]
    assert sink.numbers == list(range(1, 13))
    assert sink.opened == (6, 4, 25.0)
    assert (stats.captured, stats.delivered, stats.dropped) == (12, 12, 0)
    assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (1, 0, 1, 1)
    assert not pipeline.running
    assert 0 < stats.started <= stats.finished and stats.summary()["mean_fps"] > 0
    pipeline.close()  # again: nothing
    assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (1, 0, 1, 1)


def test_max_frames_ends_the_run_after_that_many_frames():
    capture, sink = Numbered(20), Recording()
    stats = run_guarded(Pipeline(capture, Hooked(), sink, PipelineConfig(max_frames=3)))["stats"]
    assert sink.numbers == [1, 2, 3] and capture.reads == 3 and stats.captured == 3


@pytest.mark.parametrize("live,lossless", [(True, None), (False, False)])
def test_a_live_run_skips_to_the_newest_frame(live, lossless):
    """While the landmark stage holds frame 1, the source reads all 9 frames: a live run (a
    camera, or any source told not to be lossless) keeps only the newest waiting, so frame 9
    follows frame 1 and the 7 between are dropped."""
    capture, processor, sink = Numbered(9, live=live), Hooked(), Recording()
    located = threading.Event()
    capture.holds[2] = lambda: located.wait(GUARD_S)
    processor.hooks[(Threads.PER_WORKER, 1)] = lambda: (located.set(), capture.wait_end())
    stats = run_guarded(Pipeline(capture, processor, sink, PipelineConfig(lossless=lossless)))["stats"]
    assert sink.numbers == [1, 9]
    assert (stats.captured, stats.delivered, stats.dropped) == (9, 2, 7)


def test_a_lossless_live_run_reads_ahead_only_as_far_as_the_buffer():
    """lossless=True for a live source: with frame 1 held by the landmark stage, the source reads
    frames 2 and 3 into the 2-frame buffer and frame 4 (waiting for room), and nothing is lost."""
    capture, processor, sink = Numbered(10, live=True), Hooked(), Recording()
    processor.hooks[(Threads.PER_WORKER, 1)] = lambda: capture.wait_reads(4)
    stats = run_guarded(Pipeline(capture, processor, sink, PipelineConfig(lossless=True)))["stats"]
    assert sink.numbers == list(range(1, 11)) and stats.dropped == 0


def test_a_slow_output_loses_no_frame_of_a_file():
    """The output takes frame n only once the in-order stages have frame n + 3 (the two between
    wait in its buffer): a file's buffers wait for room instead of dropping."""
    capture, processor, sink = Numbered(12), Hooked(), Recording()
    for n in range(1, 13):
        sink.before[n] = lambda n=n: processor.wait_seen(Threads.IN_ORDER, min(n + 3, 12))
    stats = run_guarded(Pipeline(capture, processor, sink))["stats"]
    assert sink.numbers == list(range(1, 13)) and stats.dropped == 0


def test_leaving_a_with_block_stops_the_run_and_finishes_the_output():
    """The threads are named after their stages (as the errors about them say)."""
    capture, processor, sink = Numbered(), Hooked(), Recording()
    before = threading.enumerate()
    with Pipeline(capture, processor, sink) as pipeline:
        pipeline.start()
        sink.wait_sent(3)
        assert sorted(t.name for t in new_threads(before)) == [
            "livegaze-capture", "livegaze-in-order", "livegaze-landmarks0", "livegaze-order", "livegaze-output"]
    assert not pipeline.running and not new_threads(before)
    assert sink.numbers == list(range(1, len(sink.numbers) + 1)) and len(sink.numbers) >= 3
    assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (1, 0, 1, 1)


def test_an_error_in_a_with_block_drops_the_output():
    capture, processor, sink = Numbered(), Hooked(), Recording()
    before = threading.enumerate()
    with pytest.raises(RuntimeError, match="^the caller failed$"):
        with Pipeline(capture, processor, sink) as pipeline:
            pipeline.start()
            sink.wait_sent(2)
            raise RuntimeError("the caller failed")
    assert not pipeline.running and not new_threads(before)
    assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (0, 1, 1, 1)


def test_abort_and_close_before_start_leave_the_output_untouched():
    capture, processor, sink = Numbered(), Hooked(), Recording()
    pipeline = Pipeline(capture, processor, sink)
    pipeline.abort()
    pipeline.close()
    assert sink.opened is None and (sink.closes, sink.aborts) == (0, 0)
    assert (capture.closes, processor.closes) == (1, 1)


class Unreadable(Numbered):
    def read(self):
        raise LivegazeError("camera 0: no frame")


def test_a_source_that_gives_no_first_frame_ends_the_run_before_the_output_opens():
    capture, processor, sink = Unreadable(), Hooked(), Recording()
    with pytest.raises(LivegazeError, match="^camera 0: no frame$"):
        Pipeline(capture, processor, sink).run()
    assert sink.opened is None and (sink.closes, sink.aborts) == (0, 0)
    assert (capture.closes, processor.closes) == (1, 1)


class RefusingThread(threading.Thread):
    """Refuses to start the order thread, as Python does past the system's limit on threads."""
    started = []

    def start(self):
        if self.name == "livegaze-order":
            raise RuntimeError("can't start new thread")
        RefusingThread.started.append(self)
        super().start()


def test_a_thread_that_cannot_start_ends_the_run_and_the_threads_already_started(monkeypatch):
    """Those would wait forever for the missing one; the output opened is dropped."""
    capture, processor, sink = Numbered(), Hooked(), Recording()
    RefusingThread.started = []
    monkeypatch.setattr(threading, "Thread", RefusingThread)
    with pytest.raises(RuntimeError, match="^can't start new thread$"):
        Pipeline(capture, processor, sink).run()
    monkeypatch.undo()
    assert sorted(t.name for t in RefusingThread.started) == ["livegaze-capture", "livegaze-landmarks0"]
    for thread in RefusingThread.started:
        thread.join(GUARD_S)
        assert not thread.is_alive(), f"{thread.name} still running"
    assert sink.opened == (6, 4, 25.0) and (sink.closes, sink.aborts, capture.closes) == (0, 1, 1)


def test_abort_by_the_caller_keeps_the_frames_sent_and_ends_the_run():
    """abort() from the output thread after frame 3 (the user asked twice): the frames behind it
    are dropped, the three sent stay sent and the output is finished with them. The run ends
    once every thread has, here after its loop has looked twice."""
    capture, processor, sink = Numbered(), Hooked(), Recording()

    def on_frame(frame):
        if frame.seq == 3:
            polls = pipeline.polls
            pipeline.abort()
            pipeline.wait_polls(polls + 2)

    pipeline = Watched(capture, processor, sink, on_frame=on_frame)
    out = run_guarded(pipeline)
    assert "error" not in out, out
    assert sink.numbers == [1, 2, 3] and out["stats"].delivered == 3
    assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (1, 0, 1, 1)
    assert not pipeline.running


def test_a_stop_delivers_the_frames_in_flight():
    """stop() while frames 6 to 8 are between the threads (the output holds frame 5): they and
    every frame captured before the stop still reach the output, after the run loop has seen
    the stop twice (a stop is not an abort)."""
    capture, processor, sink = Numbered(), Hooked(), Recording()

    def on_frame(frame):
        if frame.seq == 5:
            processor.wait_seen(Threads.IN_ORDER, 8)
            polls = pipeline.polls
            pipeline.stop()
            pipeline.wait_polls(polls + 2)

    pipeline = Watched(capture, processor, sink, on_frame=on_frame)
    stats = run_guarded(pipeline)["stats"]
    assert sink.numbers == list(range(1, stats.captured + 1)) and stats.captured >= 8
    assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (1, 0, 1, 1)


def test_ctrl_c_during_a_run_stops_it_and_finishes_the_output():
    """The interrupt comes once the run loop is running (Ctrl+C in a terminal): run() returns
    the stats of a run stopped as by stop()."""
    capture, processor, sink = Numbered(), Hooked(), Recording()

    def on_frame(frame):
        if frame.seq == 4:
            pipeline.wait_polls(1)
            _thread.interrupt_main()

    pipeline = Watched(capture, processor, sink, on_frame=on_frame)
    try:
        stats = pipeline.run()
    except KeyboardInterrupt:
        pytest.fail("the interrupt went through run()")
    assert sink.numbers == list(range(1, stats.captured + 1)) and stats.captured >= 4
    assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (1, 0, 1, 1)
    assert not pipeline.running


def test_a_stage_that_never_returns_after_a_stop_ends_the_run_with_an_error(monkeypatch):
    """The in-order stage sticks on frame 3; stop() gives the frames in flight STOP_GRACE_S,
    then the run is aborted, and ABORT_GRACE_S later it ends without the stuck thread: the output
    is dropped, and the face model left open (closing it under a running thread crashes)."""
    monkeypatch.setattr(Pipeline, "STOP_GRACE_S", 0.5)
    monkeypatch.setattr(Pipeline, "ABORT_GRACE_S", 2.0)
    capture, processor, sink = Numbered(), Hooked(), Recording()
    stuck, release = threading.Event(), threading.Event()
    processor.hooks[(Threads.IN_ORDER, 3)] = lambda: (stuck.set(), release.wait(3 * GUARD_S))
    before = threading.enumerate()
    pipeline = Pipeline(capture, processor, sink)
    threading.Thread(target=lambda: (stuck.wait(GUARD_S), pipeline.stop()), daemon=True).start()
    try:
        out = run_guarded(pipeline)
    finally:
        release.set()
    message = str(out["error"])
    assert message.startswith("the run was stopped but ") and "livegaze-in-order" in message, message
    assert message.endswith(" did not finish; the output was not written"), message
    assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (0, 1, 1, 0)
    for thread in new_threads(before):  # released: the stuck thread ends too
        thread.join(GUARD_S)
    assert not pipeline.running


def in_thread(call):
    """call() on another thread, with a hang guard: what it returned."""
    out = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    thread.join(GUARD_S)
    assert out, "the call hung"
    return out[0]


def test_in_flight_lets_one_frame_per_worker_through_until_the_times_are_known():
    flight = InFlight(2)
    assert flight.limit() == 2
    assert flight.acquire(GUARD_S) and flight.acquire(GUARD_S)
    assert in_thread(lambda: flight.acquire(0.01)) is False  # full: it gives up after its timeout
    flight.release()
    assert flight.acquire(GUARD_S)


@pytest.mark.parametrize("locate,correct,limit", [
    (30.0, 10.0, 3),   # locating takes 3 times as long: 3 frames keep `correct` busy
    (2.0, 0.5, 4),
    (25.0, 10.0, 3),   # rounded up
    (1.0, 100.0, 1),   # at least one
    (50.0, 1.0, 8),    # at most one per worker
    (1.0, 0.0, 8),     # a correct time of 0 (a frame passed through)
])
def test_in_flight_limit_is_locate_time_over_correct_time(locate, correct, limit):
    flight = InFlight(8)
    flight.observe("locate", locate)
    flight.observe("correct", correct)
    assert flight.limit() == limit


def test_in_flight_times_are_the_medians_of_the_last_15():
    """Of 8 slow then 8 fast correct times, the last 15 hold 8 fast: median 1 ms; locate 4 ms."""
    flight = InFlight(8)
    for ms in [100.0] * 8 + [1.0] * 8:
        flight.observe("correct", ms)
        flight.observe("locate", 4.0)
    assert flight.limit() == 4
