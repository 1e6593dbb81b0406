"""`livegaze photo`: correct every face in still images (portraits, group photos).

Each result is written under its own file name in the output folder, in the input's format.
OpenCV applies the EXIF orientation when it reads, so the output is stored upright. An image
without a face, or whose faces the gate leaves alone, is copied unchanged (byte for byte) and
reported. A file that cannot be read or written gets one line; the others are still written and
the exit status is nonzero at the end.
"""
from __future__ import annotations

import dataclasses
import os

import cv2

from livegaze.config import AppConfig
from livegaze.correctors import from_config
from livegaze.errors import LivegazeError
from livegaze.frames import Outcome
from livegaze.gate import Gate
from livegaze.media import write_image
from training.atomic import write_bytes
from livegaze.stills import StillCorrector

DESCRIBE = {Outcome.HEAD_TURNED: "head turned away", Outcome.EYES_CLOSED: "eyes closed",
            Outcome.LOOKING_AWAY: "looking away", Outcome.UNCHANGED: "nothing to move"}


def read_photo(path: str):
    """BGR image, EXIF orientation applied; a one-line error for anything else."""
    if not os.path.isfile(path):
        raise LivegazeError(f"{path}: no such file")
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise LivegazeError(f"{path}: not an image OpenCV can read (expected JPEG, PNG, BMP, TIFF or WebP)")
    return image


def output_path(src: str, output_dir: str) -> str:
    """Where the result of `src` goes; refuses to replace the input itself."""
    dst = os.path.join(output_dir, os.path.basename(src))
    if os.path.exists(dst) and os.path.samefile(src, dst):
        raise LivegazeError(f"{src}: --output-dir is the input's own folder; the result would replace the "
                            "original (choose another folder)")
    return dst


def run_photos(inputs: list[str], output_dir: str, config: AppConfig | None = None, echo=print) -> int:
    """Correct each input into output_dir with the config's corrector, gate, landmark model and
    strength; returns the exit status (0, or 1 when any file failed)."""
    config = config or AppConfig()
    config.check()
    strength = config.live.strength
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise LivegazeError(f"--output-dir {output_dir}: exists and is not a folder")
    os.makedirs(output_dir, exist_ok=True)
    # A portrait's gaze goes onto the camera; the user's own calibration is not for other people.
    correct = dataclasses.replace(config.correct, mode="lock", use_calibration=False)
    stills = StillCorrector(from_config(correct), gate=Gate(config.gate), face_model=config.landmarks.model_path)
    failed, written = 0, set()
    try:
        for src in inputs:
            try:
                dst = output_path(src, output_dir)
                if dst in written:
                    raise LivegazeError(f"{src}: another input has the same file name; its result is "
                                        f"already {dst}")
                image = read_photo(src)
                out, results = stills.correct(image, strength)
                corrected = sum(r.outcome is Outcome.CORRECTED for r in results)
                if corrected:
                    write_image(dst, out)
                else:
                    with open(src, "rb") as f:  # untouched: the original bytes, EXIF and all
                        write_bytes(dst, f.read())
                written.add(dst)
                echo(f"{src} -> {dst}: {_summary(results)}")
            except (LivegazeError, OSError) as exc:
                failed += 1
                text = str(exc) if isinstance(exc, LivegazeError) else f"{src}: {exc.strerror or exc}"
                echo(f"livegaze: error: {text}")
    finally:
        stills.close()
    if failed:
        echo(f"livegaze: {failed} of {len(inputs)} files failed")
    return 1 if failed else 0


def _summary(results) -> str:
    if not results:
        return "no face found, written unchanged"
    parts = []
    for i, r in enumerate(results, 1):
        parts.append(f"face {i} corrected ({r.ms:.1f} ms)" if r.outcome is Outcome.CORRECTED
                     else f"face {i} left alone ({DESCRIBE.get(r.outcome, r.status)})")
    if not any(r.outcome is Outcome.CORRECTED for r in results):
        parts.append("written unchanged")
    return ", ".join(parts)
