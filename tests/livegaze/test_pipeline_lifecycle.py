"""The pipeline's life cycle as its caller sees it: what start, stop, abort, close, join, run
and a `with` block leave behind (threads ended; capture, processor and output each closed once,
or the output dropped) and the errors they raise. The doubles are in pipeline_doubles: a
numbered source (frame n spells n in its pixels), the real pass-through processor, a NullSink
that records what it was sent."""
import _thread
import threading

import pytest

from livegaze.errors import LivegazeError
from livegaze.pipeline import Pipeline
from livegaze.stages import Threads
from tests.livegaze.pipeline_doubles import (GUARD_S, Hooked, Numbered, Recording, Watched, in_thread,
                                             new_threads, run_guarded, run_stopped_while_stuck, stuck_threads)


def test_leaving_a_with_block_stops_the_run_and_finishes_the_output():
    """The threads are named after their stages (as the errors about them say)."""
    capture, processor, sink = Numbered(), Hooked(), Recording()
    before = threading.enumerate()
    with Pipeline(capture, processor, sink) as pipeline:
        pipeline.start()
        sink.wait_sent(3)
        threads = new_threads(before)
        assert sorted(t.name for t in threads) == [
            "livegaze-capture", "livegaze-in-order", "livegaze-landmarks0", "livegaze-order", "livegaze-output"]
        assert all(t.daemon for t in threads)  # a thread stuck for good must not keep the process alive
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
    before = threading.enumerate()
    out = run_stopped_while_stuck(capture, processor, sink, (Threads.IN_ORDER, 3))
    assert "livegaze-in-order" in stuck_threads(out["error"])
    assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (0, 1, 1, 0)
    for thread in new_threads(before):  # released: the stuck thread ends too
        thread.join(GUARD_S)
    assert not out["pipeline"].running


def test_a_stage_that_fails_on_the_first_frame_is_named_in_the_error():
    """Not "no frame reached the output": that is what the failure caused, not why."""
    capture, processor, sink = Numbered(5), Hooked(), Recording()

    def fail():
        raise RuntimeError("stage broke")

    processor.hooks[(Threads.PER_WORKER, 1)] = fail
    out = run_guarded(Pipeline(capture, processor, sink))
    assert str(out["error"]) == ("the run stopped: its landmarks thread failed (RuntimeError: stage broke); "
                                 "the output was not written (-vv shows where)")
    assert sink.numbers == [] and (sink.closes, sink.aborts, capture.closes, processor.closes) == (0, 1, 1, 1)


def test_a_run_that_delivered_nothing_is_an_error():
    """The one frame of the source is dropped by an abort before it is out."""
    capture, processor, sink = Numbered(1), Hooked(), Recording()
    pipeline = Pipeline(capture, processor, sink)
    processor.hooks[(Threads.PER_WORKER, 1)] = pipeline.abort
    out = run_guarded(pipeline)
    assert isinstance(out["error"], LivegazeError)
    assert str(out["error"]) == "no frame reached the output (1 captured); nothing was written"
    assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (0, 1, 1, 1)


def test_stop_then_join_delivers_the_frames_in_flight_and_closes_everything():
    """What the tray does to end a run: stop() from its own thread, then join()."""
    capture, processor, sink = Numbered(), Hooked(), Recording()
    pipeline = Pipeline(capture, processor, sink)
    pipeline.start()
    sink.wait_sent(3)
    pipeline.stop()
    stats = in_thread(lambda: pipeline.join(GUARD_S))
    assert sink.numbers == list(range(1, stats.captured + 1)) and stats.captured >= 3
    assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (1, 0, 1, 1)
    assert not pipeline.running


def test_a_join_with_a_timeout_returns_without_a_stuck_thread_and_leaves_the_face_model_open():
    """The in-order stage sticks on frame 3 and join(timeout) is not an abort: it returns after
    its timeout, the output finished with the frames so far and the capture closed; the
    processor stays open for the thread still using it."""
    capture, processor, sink = Numbered(), Hooked(), Recording()
    stuck, release = threading.Event(), threading.Event()
    processor.hooks[(Threads.IN_ORDER, 3)] = lambda: (stuck.set(), release.wait(3 * GUARD_S))
    before = threading.enumerate()
    pipeline = Pipeline(capture, processor, sink)
    try:
        pipeline.start()
        assert stuck.wait(GUARD_S)
        pipeline.stop()
        stats = in_thread(lambda: pipeline.join(0.2))
        assert pipeline.running and stats.delivered == len(sink.numbers) <= 2
        assert (sink.closes, sink.aborts, capture.closes, processor.closes) == (1, 0, 1, 0)
    finally:
        release.set()
    for thread in new_threads(before):
        thread.join(GUARD_S)
    assert not pipeline.running
