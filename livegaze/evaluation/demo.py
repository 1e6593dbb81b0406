"""`livegaze demo`: the embedded default. No camera, GPU or network needed.

It makes a short clip from the real face photos that ship with scikit-image and matplotlib, with
the gaze turned down towards an imaginary screen, corrects it with the live pipeline, and writes a
before/after video and a PNG contact sheet.
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
from livegaze.evaluation.clips import PHOTOS, ClipSpec, write_clip

log = logging.getLogger(__name__)


def run_demo(out_dir: str, frames: int = 90, width: int = 640, height: int = 480,
             correct: CorrectConfig | None = None, progress=None) -> dict:
    """Write `before_after.mp4` and `contact_sheet.png` into out_dir; return the run summary."""
    os.makedirs(out_dir, exist_ok=True)
    video_path = os.path.join(out_dir, "before_after.mp4")
    sheet_path = os.path.join(out_dir, "contact_sheet.png")
    check_writable(video_path, "--output-dir")
    with tempfile.TemporaryDirectory(prefix="livegaze-demo-") as tmp:
        clip = os.path.join(tmp, "clip.mp4")
        spec = ClipSpec(width=width, height=height, frames=frames, photos=PHOTOS, motion="wander",
                        gaze=(0.12, 0.15), lighting=0.1)
        write_clip(clip, spec)
        writer = VideoFileSink(video_path)
        writer.open(2 * width, height, spec.fps)
        picks = {max(1, frames * k // 8) for k in (1, 3, 5, 7)}
        chosen = []

        def on_frame(frame):
            writer.send(side_by_side(frame.original, frame.image))
            if frame.seq in picks:
                eyes = None if frame.eyes is None else [b.centre for b in frame.eyes]
                chosen.append((frame.original, frame.image, eyes))
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
        write_image(sheet_path, contact_sheet(chosen))
    else:  # stopped before the first picked frame
        sheet_path = None
    summary = stats.summary()
    summary.update(video=video_path, contact_sheet=sheet_path)
    return summary
