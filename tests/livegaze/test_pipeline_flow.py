"""Which frames a pipeline delivers and how: every frame of a file, in order; the newest of a
live source; at most one frame in flight per landmark worker; faces finished on the finishing
threads; the output's time on each frame. Doubles from pipeline_doubles."""
import threading
import time

import pytest

from livegaze.pipeline import InFlight, Pipeline, PipelineConfig
from livegaze.stages import Threads
from tests.livegaze.pipeline_doubles import (GUARD_S, Hooked, Numbered, Recording, Timed, in_thread,
                                             run_guarded, run_stopped_while_stuck, stuck_threads)


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
    assert "sink" in stats.summary()["stage_ms"]
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
    dropped_by_then = []  # what the tray reads while a camera runs
    pipeline = Pipeline(capture, processor, sink, PipelineConfig(lossless=lossless),
                        on_frame=lambda frame: dropped_by_then.append(pipeline.stats.dropped))
    stats = run_guarded(pipeline)["stats"]
    assert sink.numbers == [1, 9] and dropped_by_then == [7, 7]  # all dropped while frame 1 was held
    assert (stats.captured, stats.delivered, stats.dropped) == (9, 2, 7)


def test_a_busy_in_order_stage_holds_the_landmark_worker_back():
    """While the in-order stages hold frame 1, the landmark worker locates frame 2 and then waits
    (one frame in flight per worker) instead of locating frames that would queue: the camera's
    frames 3 to 8 are dropped before any work is spent on them, and frame 9 comes next."""
    capture, processor, sink = Numbered(9, live=True), Hooked(), Recording()
    capture.holds[2] = lambda: processor.wait_seen(Threads.IN_ORDER, 1)
    capture.holds[3] = lambda: processor.wait_seen(Threads.PER_WORKER, 2)
    processor.hooks[(Threads.IN_ORDER, 1)] = capture.wait_end
    stats = run_guarded(Pipeline(capture, processor, sink))["stats"]
    assert processor.seen[Threads.PER_WORKER] == [1, 2, 9] and stats.captured == 9
    # The output's own buffer may drop frame 1 or 2 too (a live run's, when the output thread is
    # slow to be scheduled): frame 9 is always out.
    assert sink.numbers[-1] == 9 and set(sink.numbers) <= {1, 2, 9}


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


def test_faces_are_finished_on_the_in_order_thread_one_at_a_time():
    capture, processor, sink = Numbered(6), Hooked(pending=True), Recording()
    run_guarded(Pipeline(capture, processor, sink))
    assert sink.numbers == list(range(1, 7))
    assert processor.finished_on == {n: "livegaze-in-order" for n in range(1, 7)}


def test_a_corrector_that_takes_several_faces_at_once_gets_its_own_threads():
    """Two at once, then three from frame 7 (the tray switched models): the faces are finished
    on the finishing threads, and the frames still come out whole and in order."""
    capture, processor, sink = Numbered(12), Hooked(pending=True), Recording()
    processor.concurrency = 2
    processor.hooks[(Threads.IN_ORDER, 6)] = lambda: setattr(processor, "concurrency", 3)
    out = run_guarded(Pipeline(capture, processor, sink))
    assert "error" not in out, out
    assert sink.numbers == list(range(1, 13))
    assert sorted(processor.finished_on) == list(range(1, 13))
    assert all(name.startswith("livegaze-concurrent_") for name in processor.finished_on.values())


def test_a_finishing_thread_that_never_returns_after_a_stop_ends_the_run_with_an_error(monkeypatch):
    """Frame 3's face sticks on a finishing thread: the in-order thread waits for the finishing
    threads before it ends, so it is the one named as not finished."""
    monkeypatch.setattr(Pipeline, "STOP_GRACE_S", 0.5)
    monkeypatch.setattr(Pipeline, "ABORT_GRACE_S", 2.0)
    capture, processor, sink = Numbered(), Hooked(pending=True), Recording()
    processor.concurrency = 2
    out = run_stopped_while_stuck(capture, processor, sink, (Threads.CONCURRENT, 3))
    assert "livegaze-in-order" in stuck_threads(out["error"])
    assert (sink.closes, sink.aborts, capture.closes) == (0, 1, 1)


def test_each_frame_carries_the_output_time_in_milliseconds():
    """The output's time on each frame (what the stats and the tray show) lies between the
    time the sink itself took and the time since the previous frame was out; so does its CPU
    time, which cannot exceed the wall time."""
    capture, sink = Numbered(8), Timed()
    bounds = []
    last = [time.perf_counter()]

    def on_frame(frame):
        now = time.perf_counter()
        bounds.append((frame.timings["sink"], frame.cpu_timings["sink"], (now - last[0]) * 1000))
        last[0] = time.perf_counter()

    stats = run_guarded(Pipeline(capture, Hooked(), sink, on_frame=on_frame))["stats"]
    assert len(bounds) == 8 and {"sink"} <= set(stats.summary()["stage_cpu_ms"])
    for (wall, cpu, since), (own_wall, own_cpu) in zip(bounds, sink.ms):
        assert own_wall <= wall <= since and own_cpu <= cpu <= since
