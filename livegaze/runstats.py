"""What a pipeline run did: counters, recent timings, and whether it worked at all.

`PipelineStats.summary()` is what `bench` and the tray show; `problem()` is the verdict at the
end of a run (a run in which no frame was written, or every frame failed in a stage, is not a
success); `failing` is the live verdict the tray's icon reads while a camera runs.
"""
from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

import numpy as np

from livegaze.frames import Frame

# Frames in a row that must all have failed before a live run counts as failing: one second of
# a camera, so a single bad frame never turns the tray red.
FAILING_RUN = 30


@dataclass
class PipelineStats:
    """Counters and recent timings of one run; `failed` counts frames a stage raised on (they
    went out untouched), `last_failure` says the latest such stage and why."""

    window: int = 300
    captured: int = 0
    delivered: int = 0
    dropped: int = 0
    failed: int = 0
    last_failure: str | None = None
    statuses: collections.Counter = field(default_factory=collections.Counter)
    latencies_ms: collections.deque = field(default_factory=collections.deque)
    stage_ms: dict = field(default_factory=dict)
    stage_cpu_ms: dict = field(default_factory=dict)  # the stage thread's CPU time, not its wall time
    started: float = 0.0
    finished: float = 0.0
    out_times: collections.deque = field(default_factory=collections.deque)
    failed_in_a_row: int = 0
    model_frames: int = 0  # frames the face model ran on (the rest were followed, or passed through)

    def record(self, frame: Frame, t_out: float) -> None:
        self.delivered += 1
        self.statuses[frame.outcome.value] += 1
        self.model_frames += "landmarks" in frame.timings and not frame.followed
        if frame.failed:
            self.failed += 1
            self.failed_in_a_row += 1
            self.last_failure = frame.failed
        else:
            self.failed_in_a_row = 0
        self.latencies_ms.append((t_out - frame.t_capture) * 1000)
        self.out_times.append(t_out)
        for name, ms in frame.timings.items():
            self.stage_ms.setdefault(name, collections.deque(maxlen=self.window)).append(ms)
        for name, ms in frame.cpu_timings.items():
            self.stage_cpu_ms.setdefault(name, collections.deque(maxlen=self.window)).append(ms)
        while len(self.latencies_ms) > self.window:
            self.latencies_ms.popleft()
        while len(self.out_times) > self.window:
            self.out_times.popleft()

    @property
    def failing(self) -> str | None:
        """While running: why the latest frames all failed (None: they did not). Every frame so
        far, or the last FAILING_RUN: a run that never worked is not "correcting" for a second
        first, and one bad frame in a working run is not a problem."""
        run = self.failed_in_a_row
        if run and (run >= FAILING_RUN or run == self.delivered):
            return f"the last {run} frames all failed ({self.last_failure})"
        return None

    def problem(self) -> str | None:
        """At the end: why the run produced nothing useful (None: at least one frame went through
        every stage and reached the output). Frames without a face, with closed eyes or looking
        away are not failures: they went out as they came, by design."""
        if self.delivered == 0:
            return f"no frame reached the output ({self.captured} captured); nothing was written"
        if self.failed == self.delivered:
            return (f"every frame failed ({self.failed} of {self.delivered}; last: {self.last_failure}); "
                    "the output was not written")
        return None

    def fps(self) -> float:
        """Output frame rate over the recent window."""
        if len(self.out_times) < 2:
            return 0.0
        span = self.out_times[-1] - self.out_times[0]
        return (len(self.out_times) - 1) / span if span > 0 else 0.0

    def summary(self) -> dict:
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        duration = (self.finished or time.perf_counter()) - self.started if self.started else 0.0
        return {
            "captured": self.captured,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "failed": self.failed,
            "fps": self.fps(),
            "mean_fps": self.delivered / duration if duration > 0 else 0.0,
            "latency_p50_ms": float(np.percentile(lat, 50)),
            "latency_p95_ms": float(np.percentile(lat, 95)),
            "stage_ms": {k: float(np.mean(v)) for k, v in self.stage_ms.items() if v},
            "stage_cpu_ms": {k: float(np.mean(v)) for k, v in self.stage_cpu_ms.items() if v},
            "statuses": dict(self.statuses),
            "model_share": self.model_frames / self.delivered if self.delivered else 0.0,
        }
