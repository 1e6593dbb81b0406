"""The live pipeline: the stage table's threads (livegaze.stages), joined by ring buffers.

capture (SOURCE) -> landmarks (PER_WORKER: one thread per MediaPipe instance, each taking the next
frame) -> order (back into capture order) -> track, gate, align (IN_ORDER) -> correct, blend
(CONCURRENT: on this thread, or on as many finishing threads as the corrector takes faces at
once) -> sink (OUTPUT, in capture order). Every thread runs the same worker loop, `_drain`.

Live sources (cameras, paced files) use drop-oldest buffers so the output follows the camera
with the least lag; offline conversions use lossless buffers so every frame is written. At most
a few frames are between a landmark worker and the in-order thread (InFlight): when correcting
is the slow stage, frames are dropped at capture, before any work was spent on them. This is the
only module that starts threads.
"""
from __future__ import annotations

import collections
import logging
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from livegaze.capture import Capture, EndOfStream
from livegaze.frames import Frame
from livegaze.errors import LivegazeError
from livegaze.processor import FrameProcessor
from livegaze.runstats import PipelineStats  # noqa: F401  (re-exported)
from livegaze.stages import Threads, workers_per_core  # noqa: F401  (workers_per_core: re-exported)
from livegaze.ringbuffer import Closed, RingBuffer
from livegaze.sinks import Sink

log = logging.getLogger(__name__)


@dataclass
class PipelineConfig:
    """buffer: ring capacity between threads; lossless: None = decide from the source (live
    sources drop, files don't); max_frames: stop after this many captured frames (0 = no limit)."""

    buffer: int = 2
    lossless: bool | None = None
    max_frames: int = 0
    stats_window: int = 300
    # MediaPipe instances working on consecutive frames at once: its model takes about 20 ms per
    # frame on one core, so two workers roughly double the frame rate a 2-core machine sustains.
    landmark_workers: int = field(default_factory=workers_per_core)
    passthrough: bool = False  # frames straight from capture to sink (no landmarks, no correction)


class InFlight:
    """How many frames may be between a landmark worker and `correct`: as many as keep `correct`
    busy (locate time over correct time, at most one per worker) and no more, since more would
    wait in line (latency) or be dropped after their landmarks were computed (wasted CPU)."""

    def __init__(self, workers: int, window: int = 15):
        self.workers = workers
        self.count = 0
        # Recent stage times; their medians ignore the slow first calls and the odd hiccup.
        self.ms = {"locate": collections.deque(maxlen=window), "correct": collections.deque(maxlen=window)}
        self._cond = threading.Condition()

    def limit(self) -> int:
        if not (self.ms["locate"] and self.ms["correct"]):
            return self.workers
        locate, correct = (float(np.median(self.ms[k])) for k in ("locate", "correct"))
        return max(1, min(self.workers, math.ceil(locate / max(correct, 1e-3))))

    def acquire(self, timeout: float) -> bool:
        with self._cond:
            if not self._cond.wait_for(lambda: self.count < self.limit(), timeout):
                return False
            self.count += 1
            return True

    def release(self) -> None:
        with self._cond:
            self.count -= 1
            self._cond.notify_all()

    def observe(self, stage: str, ms: float) -> None:
        with self._cond:
            self.ms[stage].append(ms)
            self._cond.notify_all()


class Pipeline:
    """Runs a Capture through a FrameProcessor into a Sink: a capture thread, one landmark thread
    per MediaPipe instance, an ordering thread, the correct thread (plus its finishing threads when
    the corrector takes several faces at once) and an output thread.

    `on_frame(frame)` (optional) is called from the output thread after each frame is sent, with
    `frame.original` and `frame.image` (the tray's preview uses it); keep it cheap.

    The pipeline owns the capture, processor and sink it is given: `close()` (also the end of
    `join()`, `run()` and a `with` block) finishes the sink, or drops it after an error, and
    closes the capture and the processor, each once.
    """

    def __init__(self, capture: Capture, processor: FrameProcessor, sink: Sink,
                 config: PipelineConfig | None = None, on_frame: Callable[[Frame], None] | None = None):
        self.capture = capture
        self.processor = processor
        self.sink = sink
        self.config = config or PipelineConfig()
        self.on_frame = on_frame
        processor.keep_original = on_frame is not None
        lossless = self.config.lossless if self.config.lossless is not None else not capture.live
        # A live source keeps only its newest frame waiting for a landmark worker: an older one
        # would only add its age to the latency.
        first = self.config.buffer if lossless else 1
        self.rings = [RingBuffer(first, lossless)] + [RingBuffer(self.config.buffer, lossless) for _ in range(2)]
        self.stats = PipelineStats(window=self.config.stats_window)
        self._stop = threading.Event()
        self._aborted = threading.Event()
        self._aborted_at = self._stop_at = 0.0
        self._threads: list[threading.Thread] = []
        self.error: BaseException | None = None
        self._failed_thread = ""
        self._sink_open = False
        self._closed = False

    def start(self) -> None:
        """Open the sink and start the threads (returns at once): one set per kind of thread in
        the stage table (livegaze.stages), each running the worker loop `_drain`."""
        first = self.capture.read()
        h, w = first.shape[:2]
        self.sink.open(w, h, self.capture.fps)
        self._sink_open = True
        self.stats.started = time.perf_counter()
        workers = max(1, len(self.processor.landmarkers))
        self._tickets: collections.deque = collections.deque()
        self._take_lock = threading.Lock()
        self._ticket_cond = threading.Condition()
        self._workers_left = workers
        self._pool = None  # finishing threads, when the corrector takes several faces at once
        self.in_flight = InFlight(workers)
        capture = self._Capture(self, first)
        loops = {  # thread name: (take the next item, handle it, when the source is done)
            "capture": (capture.take, capture.handle, self.rings[0].close),
            **{f"landmarks{k}": (self._take_to_locate, lambda item, k=k: self._locate(item, k), self._worker_done)
               for k in range(workers)},
            "order": (self._take_located, self.rings[1].put, self.rings[1].close),
            "in-order": (lambda: self.rings[1].get(timeout=0.1), self._in_order, self._in_order_done),
            "output": (lambda: self.rings[2].get(timeout=0.1), self._output, None),
        }
        for name, (take, handle, done) in loops.items():
            t = threading.Thread(target=self._guard, args=(self._drain, take, handle, done),
                                 name=f"livegaze-{name}", daemon=True)
            try:
                t.start()
            except BaseException:
                self.abort()  # the threads already started would wait forever for this one
                raise
            self._threads.append(t)

    def _guard(self, target, *args) -> None:
        try:
            target(*args)
        except BaseException as exc:  # a dead thread must stop every other one, not hang them
            if self.error is None:
                self.error, self._failed_thread = exc, threading.current_thread().name
            log.debug("pipeline thread %s failed", threading.current_thread().name, exc_info=True)
            self.abort()

    @staticmethod
    def _drain(take, handle, done=None) -> None:
        """The worker loop, written once: take items until the source is closed (Closed), skip
        empty takes (None: a timeout), handle each; `done` closes what this loop feeds."""
        try:
            while True:
                try:
                    item = take()
                except Closed:
                    break
                if item is not None:
                    handle(item)
        finally:
            if done is not None:
                done()

    class _Capture:
        """The SOURCE stage's take and handle: the next frame, numbered, into the first ring."""

        def __init__(self, pipeline: Pipeline, first):
            self.pipeline, self.first, self.seq = pipeline, first, 0

        def take(self):
            p = self.pipeline
            if p._stop.is_set() or (p.config.max_frames and self.seq >= p.config.max_frames):
                raise Closed
            if self.first is not None:
                image, self.first = self.first, None
                return image
            try:
                return p.capture.read()
            except EndOfStream:
                raise Closed

        def handle(self, image) -> None:
            self.seq += 1
            self.pipeline.stats.captured = self.seq
            self.pipeline.rings[0].put(Frame(seq=self.seq, t_capture=time.perf_counter(), image=image,
                                             original=image))

    def _take_to_locate(self):
        """The next frame for a landmark worker (in capture order, under a lock, with a ticket),
        once InFlight allows one more."""
        if self._aborted.is_set():
            raise Closed
        if not self.in_flight.acquire(timeout=0.05):
            return None
        with self._take_lock:
            try:
                frame = self.rings[0].get(timeout=0.05)
            except Closed:
                self.in_flight.release()
                raise
            if frame is None:
                self.in_flight.release()
                return None
            ticket = [frame, threading.Event()]
            with self._ticket_cond:
                self._tickets.append(ticket)
        return ticket

    def _locate(self, ticket, worker: int) -> None:
        t0 = time.perf_counter()
        self.processor.run(Threads.PER_WORKER, ticket[0], worker)
        self.in_flight.observe("locate", (time.perf_counter() - t0) * 1000)
        with self._ticket_cond:
            ticket[1].set()
            self._ticket_cond.notify_all()

    def _worker_done(self) -> None:
        with self._ticket_cond:
            self._workers_left -= 1
            self._ticket_cond.notify_all()

    def _take_located(self):
        """The oldest ticket once its worker is done, whichever worker finished first."""
        with self._ticket_cond:
            self._ticket_cond.wait_for(lambda: (self._tickets and self._tickets[0][1].is_set())
                                       or (not self._tickets and self._workers_left == 0)
                                       or self._aborted.is_set(), 0.1)
            if self._aborted.is_set():
                raise Closed  # a worker that died holds its ticket forever
            if self._tickets and self._tickets[0][1].is_set():
                return self._tickets.popleft()[0]
            if not self._tickets and self._workers_left == 0:
                raise Closed
            return None

    def _in_order(self, frame: Frame) -> None:
        """The IN_ORDER stages, then the CONCURRENT ones: here, or on a finishing thread when the
        corrector takes several faces at once (then a Future goes downstream, resolved in order).
        The corrector can change while running (the tray's model choice): its concurrency is
        read per frame."""
        self.in_flight.release()
        t0 = time.perf_counter()
        workers = self.processor.concurrency
        self.processor.run(Threads.IN_ORDER, frame)
        if frame.done:
            item = frame
        elif workers <= 1:
            item = self.processor.run(Threads.CONCURRENT, frame)
        else:
            if self._pool is None or self._pool[1] != workers:
                if self._pool is not None:  # faces in flight on an old pool still finish and release
                    self._pool[0].shutdown(wait=False)
                self._pool = (ThreadPoolExecutor(workers, "livegaze-concurrent"), workers,
                              threading.Semaphore(workers))
            pool, _, slots = self._pool
            while not slots.acquire(timeout=0.1):  # at most `workers` faces at once: backpressure
                if self._aborted.is_set():
                    return
            item = pool.submit(self._concurrent, frame, slots)
        # Time per frame on this thread: with finishing threads, the finishing time over their
        # number (waiting for a free one included): what InFlight needs.
        self.in_flight.observe("correct", (time.perf_counter() - t0) * 1000)
        self.rings[2].put(item)

    def _concurrent(self, frame: Frame, slots: threading.Semaphore) -> Frame:
        try:
            return self.processor.run(Threads.CONCURRENT, frame)
        finally:
            slots.release()

    def _in_order_done(self) -> None:
        if self._pool is not None:
            self._pool[0].shutdown(wait=True)
        self.rings[2].close()

    def _output(self, item) -> None:
        """The OUTPUT stage: the sink, then the stats and the preview callback."""
        frame = item.result() if isinstance(item, Future) else item
        t0, c0 = time.perf_counter(), time.thread_time()
        self.sink.send(frame.image)
        t_out = time.perf_counter()
        frame.timings["sink"] = (t_out - t0) * 1000
        frame.cpu_timings["sink"] = (time.thread_time() - c0) * 1000
        self.stats.record(frame, t_out)
        self.stats.dropped = sum(r.dropped for r in self.rings)
        if self.on_frame is not None:
            self.on_frame(frame)

    def stop(self) -> None:
        """Ask every thread to finish; frames already captured are still delivered."""
        if not self._stop.is_set():
            self._stop_at = time.perf_counter()
        self._stop.set()  # the capture closes its ring at its next take: a frame waiting for room is kept

    def abort(self) -> None:
        """Stop every thread now, dropping the frames between them (a thread failed, or the user
        asked twice): every ring is closed and emptied and every waiter woken, so no thread
        waits for one that is gone. The frames already sent stay sent."""
        if not self._aborted.is_set():
            self._aborted_at = time.perf_counter()
        self._stop.set()
        self._aborted.set()
        for ring in self.rings:
            ring.abort()
        cond = getattr(self, "_ticket_cond", None)
        if cond is not None:
            with cond:
                cond.notify_all()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def join(self, timeout: float | None = None) -> PipelineStats:
        """Wait for the threads, close everything (`close`) and return the stats; a thread's
        error is raised here."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.perf_counter()))
        self.stats.finished = time.perf_counter()
        self.stats.dropped = sum(r.dropped for r in self.rings)
        if self.error is None and self.running and self._aborted.is_set():
            stuck = ", ".join(t.name for t in self._threads if t.is_alive())
            self.error = LivegazeError(f"the run was stopped but {stuck} did not finish; "
                                       "the output was not written")
        if self.error is None and not self.running:
            problem = self.stats.problem()  # nothing corrected or written is not a success
            if problem:
                self.error = LivegazeError(problem)
        self.close()
        if isinstance(self.error, LivegazeError):
            raise self.error
        if self.error is not None:  # a bug: one line here, the traceback with -vv
            thread = self._failed_thread.removeprefix("livegaze-").rstrip("0123456789")
            raise LivegazeError(f"the run stopped: its {thread} thread failed ({type(self.error).__name__}: "
                                f"{self.error}); the output was not written (-vv shows where)") from self.error
        return self.stats

    def close(self, failed: bool = False) -> None:
        """Finish the sink (drop it instead after an error), close the capture and the processor.
        Threads still running (a join that timed out) keep the processor: closing MediaPipe under
        a running worker crashes it, so it goes with the process instead."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._sink_open:
                self._sink_open = False
                if failed or self.error is not None:
                    self.sink.abort()
                else:
                    self.sink.close()  # an output that fails its check raises: the rest still closes
        finally:
            self.capture.close()
            if self.running:
                log.info("pipeline threads still running after the stop; the face model is left open")
            else:
                self.processor.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._closed:
            self.stop()
            for t in self._threads:
                t.join(10)
            self.close(failed=exc_type is not None)

    def run(self) -> PipelineStats:
        """Start, wait until the source ends or `stop()` is called, and close everything."""
        try:
            self.start()
        except BaseException:
            self.close(failed=True)
            raise
        try:
            while self.running and not self._stuck():
                if (self._stop.is_set() and not self._aborted.is_set()
                        and time.perf_counter() - self._stop_at > self.STOP_GRACE_S):
                    self.abort()  # the frames in flight did not get through: a stage hangs
                time.sleep(0.05)
        except KeyboardInterrupt:
            log.info("interrupted: finishing the output")
            self.stop()
        return self.join(0 if self._stuck() else None)

    # A stop lets the few frames in flight through (well under a second of work); past this, a
    # stage hangs and the run is aborted. After an abort every thread ends within a frame's work;
    # one that has not after ABORT_GRACE_S is stuck in a call that never returns, and the run
    # ends without it (daemon threads go with the process): a stop always ends the run.
    STOP_GRACE_S = 5.0
    ABORT_GRACE_S = 10.0

    def _stuck(self) -> bool:
        return self._aborted.is_set() and time.perf_counter() - self._aborted_at > self.ABORT_GRACE_S
