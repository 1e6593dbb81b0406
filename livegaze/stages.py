"""The live path, in order: every stage, its config, its threads. Read this file to see where a
frame goes next; livegaze.processor holds each stage's step, livegaze.pipeline the threads.

    capture -> landmarks -> track -> gate -> align -> correct -> blend -> sink

Each stage's config is the AppConfig field of the same name (livegaze.config); each stage's
time per frame is `frame.timings[name]` (what `livegaze bench` prints). A stage that ends a
frame's processing (no face, eyes closed, an error) sets `frame.outcome`; the later stages are
skipped and the frame goes out as it came in.
"""
from __future__ import annotations

import enum
import functools
import os
from dataclasses import dataclass

from livegaze.blend import BlendConfig
from livegaze.capture import CaptureConfig
from livegaze.correctors.base import CorrectConfig
from livegaze.gate import GateConfig
from livegaze.landmarks import LandmarkerConfig
from livegaze.sinks import SinkConfig
from livegaze.tracking import TrackerConfig


class Threads(enum.Enum):
    """Where a stage runs (the pipeline starts one set of threads per value)."""

    SOURCE = "one thread reads the source"
    PER_WORKER = "one thread per MediaPipe instance, frames taken in turn, put back in capture order"
    IN_ORDER = "one thread, strictly in capture order (the stages keep state from frame to frame)"
    CONCURRENT = "as many faces at once as the corrector allows (its `concurrency`)"
    OUTPUT = "one thread, in capture order"


@dataclass(frozen=True)
class Stage:
    name: str  # also its AppConfig field and its timing key
    config: type | None  # its config dataclass (None: align takes the model's own geometry)
    threads: Threads
    does: str


STAGES: tuple[Stage, ...] = (
    Stage("capture", CaptureConfig, Threads.SOURCE, "the next camera or file frame (reconnects a lost camera)"),
    Stage("landmarks", LandmarkerConfig, Threads.PER_WORKER, "MediaPipe face mesh and irises of the largest face, "
          "followed by optical flow between model runs"),
    Stage("track", TrackerConfig, Threads.IN_ORDER, "Kalman-smoothed eye boxes (filterpy)"),
    Stage("gate", GateConfig, Threads.IN_ORDER, "how much to correct: look-away, head turn, blinks, fades in and out"),
    Stage("align", None, Threads.IN_ORDER, "the face into the model's square space (aligned-space correctors only)"),
    Stage("correct", CorrectConfig, Threads.CONCURRENT, "the corrector: warp (frame space), geometric or gazegan (aligned)"),
    Stage("blend", BlendConfig, Threads.CONCURRENT, "an aligned-space result back into the frame, feathered"),
    Stage("sink", SinkConfig, Threads.OUTPUT, "virtual camera, video file and/or preview window"),
)


def workers_per_core(limit: int = 2) -> int:
    """Threads for a stage that runs one item per core (landmarks, faces): one per core, at most
    `limit` (past two, a 2-core budget per frame is not the bottleneck any more)."""
    return max(1, min(limit, os.cpu_count() or 1))


@functools.cache  # read for every frame: the table never changes
def on(threads: Threads) -> tuple[Stage, ...]:
    """The stages that run on one kind of thread, in path order."""
    return tuple(s for s in STAGES if s.threads is threads)


@functools.cache
def between(first: str, last: str) -> tuple[Stage, ...]:
    """The stages strictly after `first` and before `last`, in path order."""
    names = [s.name for s in STAGES]
    return STAGES[names.index(first) + 1:names.index(last)]


def table() -> str:
    """The stage table as text (docs/architecture.md and `livegaze devices --stages`)."""
    return "\n".join(f"{i}. {s.name:<10} {(s.config.__name__ if s.config else '(model)'):<16} "
                     f"{s.threads.name:<11} {s.does}" for i, s in enumerate(STAGES, 1))
