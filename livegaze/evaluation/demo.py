"""`livegaze demo`: the embedded default. No camera, GPU or network needed.

It makes a short clip from the real face photos that ship with scikit-image and matplotlib, with
the gaze turned down towards an imaginary screen, corrects it with the live pipeline, and writes a
before/after video and a PNG contact sheet. The photos look into the camera, so each "before" is
made by moving their irises by a known amount, and the untouched photo, moved and lit as the clip
is, is what a perfect correction would give: the sheet says how far the irises are from it
before and after.
"""
from __future__ import annotations

import logging
import dataclasses
import os
import tempfile

from livegaze.app import build_pipeline, run_until_done
from livegaze.config import AppConfig
from livegaze.correctors import CorrectConfig
from livegaze.pipeline import PipelineConfig
from livegaze.capture import CaptureConfig
from livegaze.media import contact_sheet, side_by_side, write_image
from livegaze.sinks import SinkConfig, VideoFileSink, check_writable
from livegaze.evaluation.clips import PHOTOS, ClipSpec, iter_frames, write_clip
from livegaze.evaluation.quality import fresh_landmarker, measure

GAZE = (0.12, 0.15)  # the look-away made from the camera-facing photos: eye widths, right and down

log = logging.getLogger(__name__)


def run_demo(out_dir: str, frames: int = 90, width: int = 640, height: int = 480,
             correct: CorrectConfig | None = None, progress=None) -> dict:
    """Write `before_after.mp4` and `contact_sheet.png` into out_dir; return the run summary."""
    os.makedirs(out_dir, exist_ok=True)
    video_path = os.path.abspath(os.path.join(out_dir, "before_after.mp4"))
    sheet_path = os.path.abspath(os.path.join(out_dir, "contact_sheet.png"))
    check_writable(video_path, "--output-dir")
    with tempfile.TemporaryDirectory(prefix="livegaze-demo-") as tmp:
        clip = os.path.join(tmp, "clip.mp4")
        spec = ClipSpec(width=width, height=height, frames=frames, photos=PHOTOS, motion="wander",
                        gaze=GAZE, lighting=0.1)
        photos = [t["photo"] for t in write_clip(clip, spec)]
        writer = VideoFileSink(video_path)
        writer.open(2 * width, height, spec.fps)
        picks = {max(1, frames * k // 8) for k in (1, 3, 5, 7)}
        chosen = []

        def on_frame(frame):
            writer.send(side_by_side(frame.original, frame.image))
            if frame.seq in picks:
                eyes = None if frame.eyes is None else [b.centre for b in frame.eyes]
                chosen.append((frame.seq, frame.original, frame.image, eyes))
            if progress is not None:
                progress(1)

        # The clip's gaze was turned away by a known move: lock mode brings it back to the camera
        # (shift mode, the live default, would apply the user's calibrated screen offset).
        config = AppConfig(capture=CaptureConfig(source=clip), sink=SinkConfig(virtual_camera=False),
                           correct=dataclasses.replace(correct or CorrectConfig(), mode="lock"),
                           pipeline=PipelineConfig(lossless=True))
        try:
            stats = run_until_done(build_pipeline(config, on_frame=on_frame))
        except BaseException:
            writer.abort()
            raise
        writer.close()
    if chosen:
        captions = _captions(spec, chosen, photos)
        write_image(sheet_path, contact_sheet([c[1:] for c in chosen], captions=captions))
    else:  # stopped before the first picked frame
        sheet_path = None
    summary = stats.summary()
    summary.update(video=video_path, contact_sheet=sheet_path, captions=captions if chosen else [])
    return summary


def _captions(spec: ClipSpec, chosen: list, photos: list[str]) -> list[str]:
    """Per sheet row: the photo, the move that made the look-away, and the irises' measured
    distance from the camera-facing truth before and after (a fresh landmarker on each image)."""
    wanted = {seq - 1 for seq, *_ in chosen}  # frame numbers count from 1
    facing = ClipSpec(**{**spec.__dict__, "gaze": (0.0, 0.0)})
    truths = {i: frame for i, (frame, *_) in enumerate(iter_frames(facing)) if i in wanted}
    captions = []
    with fresh_landmarker() as landmarker:
        for seq, before, after, _ in chosen:
            truth = measure(truths[seq - 1], landmarker)
            offsets = [measure(image, landmarker, truth) if truth else None for image in (before, after)]
            measured = ("iris offset from the camera-facing truth: "
                        + " -> ".join(f"{sum(e.offset_mp for e in o) / 2:.3f}" if o else "no face" for o in offsets)
                        + " eye widths (MediaPipe)")
            captions.append(f"frame {seq}, {photos[seq - 1]}: before = the camera-facing photo with its irises "
                            f"moved {GAZE[0]:+.2f}, {GAZE[1]:+.2f} eye widths (right, down)\n{measured}")
    return captions
