"""`livegaze bench`: full vs passthrough pipeline on synthetic clips, figures printed as a table.

Besides speed it measures what a live run costs the CPU, which is what users beside a call app
feel: process CPU seconds over wall seconds for the full and the passthrough run of the same
clip paced at 30 fps (their difference is what livegaze adds), that per frame against a bare
MediaPipe FaceLandmarker (video mode, one face, no blendshapes) on the same frames, and each
stage's own thread CPU time per frame. The battery saver's run (the face model on fewer frames,
livegaze.facefollow) shows what it saves, and the flicker of both settings on a still noisy face
shows what it costs the picture."""
from __future__ import annotations

import dataclasses
import os
import resource
import tempfile
import time

import cv2
import numpy as np

from livegaze.app import build_pipeline, run_until_done
from livegaze.capture import CaptureConfig
from livegaze.config import AppConfig
from livegaze.correctors import CorrectConfig, from_config
from livegaze.frames import Frame
from livegaze.landmarks import BATTERY_MODEL_EVERY, Landmarker, LandmarkerConfig
from livegaze.pipeline import PipelineConfig
from livegaze.sinks import SinkConfig
from livegaze.stages import STAGES
from livegaze.evaluation.clips import PHOTOS, ClipSpec, iter_frames, write_clip
from livegaze.processor import FrameProcessor


def process_cpu_s() -> float:
    """CPU seconds this process has used, every thread (MediaPipe's own included)."""
    times = os.times()
    return times.user + times.system


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# The runs per clip: (mode, paced, passthrough, the face model every N frames).
RUNS = (("passthrough", True, True, 1), ("full", True, False, LandmarkerConfig.model_every),
        ("battery", True, False, BATTERY_MODEL_EVERY), ("full", False, False, LandmarkerConfig.model_every))


def bench_pipeline(sizes=((640, 480), (1280, 720)), frames: int = 150, correct: CorrectConfig | None = None,
                   fps: float = 30.0, faces=(1,), model_every: int | None = None, flicker: bool = True,
                   echo=print) -> list[dict]:
    """Run passthrough, full and battery paced, and full unpaced, per size and faces in view;
    print and return one row per run. `model_every` replaces the default setting's."""
    rows = []
    runs = [run if model_every is None or run[0] != "full" else run[:3] + (model_every,) for run in RUNS]
    with tempfile.TemporaryDirectory(prefix="livegaze-bench-") as tmp:
        for (width, height), people in ((size, n) for size in sizes for n in faces):
            clip = os.path.join(tmp, f"clip_{width}x{height}_{people}.mp4")
            spec = ClipSpec(width=width, height=height, frames=frames, photos=PHOTOS, motion="wander",
                            gaze=(0.12, 0.15), fps=fps, faces=people, noise=2.0)
            write_clip(clip, spec)
            for mode, paced, passthrough, every in runs:
                config = AppConfig(capture=CaptureConfig(source=clip, paced=paced, fps=fps),
                                   landmarks=LandmarkerConfig(model_every=every),
                                   correct=dataclasses.replace(correct or CorrectConfig()),
                                   sink=SinkConfig(virtual_camera=False),
                                   pipeline=PipelineConfig(passthrough=passthrough, lossless=None if paced else True))
                pipeline = build_pipeline(config)  # the face model loads here, outside the measured run
                cpu0, wall0 = process_cpu_s(), time.perf_counter()
                summary = run_until_done(pipeline).summary()
                cpu, wall = process_cpu_s() - cpu0, time.perf_counter() - wall0
                summary.update(size=f"{width}x{height}" + (f" {people} faces" if people > 1 else ""), mode=mode,
                               pacing=f"{fps:.0f}fps" if paced else "unpaced", model_every=every,
                               peak_rss_mb=peak_rss_mb(), cores=cpu / wall,
                               cpu_ms_per_frame=cpu * 1000 / max(1, summary["delivered"]))
                rows.append(summary)
            rows[-1]["one_core_ms"] = correct_ms_one_core(spec, correct or CorrectConfig())
            rows[-1]["bare_landmarker_cpu_ms"] = bare_landmarker_cpu_ms(spec)
    text = format_table(rows)
    if flicker:
        text += "\n" + flicker_line(correct or CorrectConfig(), [run[3] for run in runs[1:3]])
    echo(text)
    return rows


def flicker_line(correct: CorrectConfig, settings) -> str:
    """The eval's flicker (output over input on a still face with sensor noise) per setting."""
    from livegaze.evaluation.temporal import flicker

    parts = [f"{name} (model every {every}) {flicker(correct, LandmarkerConfig(model_every=every))[0]:.3f}"
             for name, every in zip(("full", "battery"), settings)]
    return "flicker over input, still noisy face: " + ", ".join(parts)


def correct_ms_one_core(spec: ClipSpec, correct: CorrectConfig) -> float:
    """The correction alone (align, correct, blend: what a face costs past the landmarks) on one
    core: the median ms per face over the clip's frames, after a few frames of warm-up."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    times = []
    try:
        with Landmarker() as landmarker, FrameProcessor(None, from_config(correct)) as processor:
            processor.keep_original = False
            for i, (image, *_) in enumerate(iter_frames(spec)):
                face = landmarker.detect(image, int(i * 1000 / spec.fps))
                if face is None:
                    continue
                frame = Frame(i, i / spec.fps, image, face=face)
                t0 = time.perf_counter()
                processor.correct_face(frame)
                if i >= 5:
                    times.append((time.perf_counter() - t0) * 1000)
    finally:
        cv2.setNumThreads(threads)
    return float(np.median(times)) if times else float("nan")


def bare_landmarker_cpu_ms(spec: ClipSpec) -> float:
    """Process CPU ms per frame of a bare MediaPipe FaceLandmarker (video mode, one face, no
    blendshapes or pose) on the clip's frames: the least any landmark-based corrector costs.
    Only the detect calls are timed (making the frames is not)."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from livegaze.model_files import find_face_landmarker
    from livegaze.quiet import native_output_silenced

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_buffer=find_face_landmarker(None).read_bytes()),
        running_mode=vision.RunningMode.VIDEO, num_faces=1)
    spent, count = 0.0, 0
    with native_output_silenced():
        landmarker = vision.FaceLandmarker.create_from_options(options)
    with landmarker:
        for i, (image, *_) in enumerate(iter_frames(spec)):
            rgb = mp.Image(image_format=mp.ImageFormat.SRGB, data=cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            cpu0 = process_cpu_s()
            landmarker.detect_for_video(rgb, int(i * 1000 / spec.fps))
            if i >= 5:  # past the first detections and the warm-up
                spent += process_cpu_s() - cpu0
                count += 1
    return spent * 1000 / count if count else float("nan")


def cpu_lines(rows: list[dict], size: str) -> list[str]:
    """What a live run at 30 fps adds to the CPU, per size (see the module docstring)."""
    by = {(r["mode"], r["pacing"]): r for r in rows if r["size"] == size}
    full, base = by.get(("full", "30fps")), by.get(("passthrough", "30fps"))
    if not (full and base):
        return []
    added_ms = full["cpu_ms_per_frame"] - base["cpu_ms_per_frame"]
    lines = [f"{size}: CPU at 30 fps: full {full['cores']:.2f} cores, passthrough {base['cores']:.2f}, "
             f"added {full['cores'] - base['cores']:.2f} cores = {added_ms:.1f} ms per frame "
             f"(face model on {full.get('model_share', 1.0):.0%} of frames)"]
    battery = by.get(("battery", "30fps"))
    if battery:
        lines.append(f"{size}: battery saver (face model at least every {battery['model_every']} frames): "
                     f"added {battery['cores'] - base['cores']:.2f} cores = "
                     f"{battery['cpu_ms_per_frame'] - base['cpu_ms_per_frame']:.1f} ms per frame "
                     f"(face model on {battery.get('model_share', 1.0):.0%} of frames)")
    bare = next((r["bare_landmarker_cpu_ms"] for r in rows if r["size"] == size and "bare_landmarker_cpu_ms" in r),
                None)
    if bare:
        lines.append(f"{size}: bare FaceLandmarker {bare:.1f} CPU ms per frame; added / bare = {added_ms / bare:.2f}")
    # MediaPipe works on threads of its own, which the landmark stage's thread time misses: the
    # landmarks' share is what the run added less the other stages' own thread time.
    own = {name: ms for name, ms in full.get("stage_cpu_ms", {}).items() if name not in ("landmarks", "sink")}
    stages = ", ".join([f"landmarks and the rest {added_ms - sum(own.values()):.2f}"]
                       + [f"{name} {ms:.2f}" for name, ms in own.items()])
    lines.append(f"{size}: added CPU ms per frame by stage: {stages}")
    return lines


def format_table(rows: list[dict]) -> str:
    stages = sorted({k for r in rows for k in r["stage_ms"]},
                    key=lambda s: [stage.name for stage in STAGES].index(s) if s in {st.name for st in STAGES} else 99)
    head = ["size", "mode", "pacing", "fps", "p50 ms", "p95 ms", "drops"] + [f"{s} ms" for s in stages] + \
        ["peak MB"]
    lines = ["  ".join(f"{h:>11}" for h in head)]
    for r in rows:
        cells = [r["size"], r["mode"], r["pacing"], f"{r['mean_fps']:.1f}", f"{r['latency_p50_ms']:.1f}",
                 f"{r['latency_p95_ms']:.1f}", str(r["dropped"])]
        cells += [f"{r['stage_ms'].get(s, 0.0):.2f}" for s in stages] + [f"{r['peak_rss_mb']:.0f}"]
        lines.append("  ".join(f"{c:>11}" for c in cells))
    by = {(r["size"], r["mode"], r["pacing"]): r for r in rows}
    for size in dict.fromkeys(r["size"] for r in rows):
        full, base = by.get((size, "full", "30fps")), by.get((size, "passthrough", "30fps"))
        if full and base:
            lines.append(f"{size}: p95 latency added over passthrough at 30 fps: "
                         f"{full['latency_p95_ms'] - base['latency_p95_ms']:.1f} ms")
        one_core = [r["one_core_ms"] for r in rows if r["size"] == size and "one_core_ms" in r]
        if one_core:
            lines.append(f"{size}: correction alone on one core: {one_core[0]:.2f} ms per face (median)")
        lines += cpu_lines(rows, size)
    return "\n".join(lines)
