"""Test doubles for the pipeline's tests: a numbered source, a recording output, the real
pass-through processor with hooks, a Pipeline whose run loop can be waited on. Every wait is a
handshake on something the pipeline's own threads reach; GUARD_S only turns a hang into a
failure."""
import os
import threading
import time

import numpy as np

from livegaze.capture import EndOfStream
from livegaze.pipeline import Pipeline
from livegaze.processor import FrameProcessor
from livegaze.sinks import NullSink
from livegaze.stages import Threads

# A hang guard, not a speed limit: every wait is for a few milliseconds' work. Mutation runs
# shorten it (a mutant that hangs a handshake then fails in seconds, not a minute).
GUARD_S = float(os.environ.get("LIVEGAZE_TEST_GUARD_S", "60"))


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
    each kind of thread has taken; `hooks[(threads, n)]()` runs when frame n reaches them.
    pending=True: its stages leave frames unsettled, so that they reach the CONCURRENT stages
    (as faces to correct do), on `concurrency` faces at once."""

    concurrency = 1

    def __init__(self, pending=False):
        super().__init__(None, None)
        self.pending = pending
        self.seen = {threads: [] for threads in Threads}
        self.finished_on = {}  # frame number -> the thread its CONCURRENT stages ran on
        self.hooks = {}
        self.closes = 0
        self.cond = threading.Condition()

    def run(self, threads, frame, *args):
        with self.cond:
            self.seen[threads].append(frame.seq)
            if threads is Threads.CONCURRENT:
                self.finished_on[frame.seq] = threading.current_thread().name
            self.cond.notify_all()
        hook = self.hooks.get((threads, frame.seq))
        if hook is not None:
            hook()
        return frame if self.pending else super().run(threads, frame, *args)

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


def run_stopped_while_stuck(capture, processor, sink, where) -> dict:
    """A run whose stage `where` (a hook key: thread, frame) blocks until released; stop() is
    called once it is stuck, and it is released after the run. The run's result (run_guarded),
    with the pipeline under "pipeline"."""
    stuck, release = threading.Event(), threading.Event()
    processor.hooks[where] = lambda: (stuck.set(), release.wait(3 * GUARD_S))
    pipeline = Pipeline(capture, processor, sink)
    threading.Thread(target=lambda: (stuck.wait(GUARD_S), pipeline.stop()), daemon=True).start()
    try:
        return {**run_guarded(pipeline), "pipeline": pipeline}
    finally:
        release.set()


def new_threads(before):
    return [t for t in threading.enumerate() if t not in before]


def in_thread(call):
    """call() on another thread, with a hang guard: what it returned."""
    out = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    thread.join(GUARD_S)
    assert out, "the call hung"
    return out[0]


class Timed(Recording):
    """Measures each send itself: its wall and CPU milliseconds (both more than 0)."""

    def __init__(self):
        super().__init__()
        self.ms = []

    def send(self, image):
        wall, cpu = time.perf_counter(), time.thread_time()
        super().send(image)
        while time.perf_counter() == wall or time.thread_time() == cpu:
            pass
        self.ms.append(((time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000))


def stuck_threads(error) -> list[str]:
    """The threads a "did not finish" error names."""
    message = str(error)
    start, end = "the run was stopped but ", " did not finish; the output was not written"
    assert message.startswith(start) and message.endswith(end), message
    names = message[len(start):-len(end)].split(", ")
    assert set(names) <= {"livegaze-capture", "livegaze-landmarks0", "livegaze-order", "livegaze-in-order",
                          "livegaze-output"}, message
    return names
