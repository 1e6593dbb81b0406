"""`livegaze photo`: correct every face in still images (portraits, group photos).

Each result is written under its own file name in the output folder, in the input's format and
as it came in: 16-bit stays 16-bit, grey stays grey, an alpha channel is kept untouched (the
correction is made on 8-bit colour and its change added back). The EXIF orientation is applied
when reading, so the output is stored upright. An image
without a face, or whose faces the gate leaves alone, is copied unchanged (byte for byte) and
reported. A file that cannot be read or written gets one line; the others are still written and
the exit status is nonzero at the end.
"""
from __future__ import annotations

import dataclasses
import os

import cv2
import numpy as np

from livegaze.capture import MAX_PIXELS, check_pixels, header_size
from livegaze.config import AppConfig
from livegaze.correctors import from_config
from livegaze.errors import LivegazeError
from livegaze.frames import Outcome
from livegaze.gate import Gate
from livegaze.media import write_image
from livegaze.quiet import native_output_silenced
from training.atomic import write_bytes
from livegaze.stills import StillCorrector

DESCRIBE = {Outcome.HEAD_TURNED: "head turned away", Outcome.EYES_CLOSED: "eyes closed",
            Outcome.LOOKING_AWAY: "looking away", Outcome.UNCHANGED: "nothing to move"}


def read_photo(path: str) -> np.ndarray:
    """The picture as stored (8 or 16 bit; grey, colour or colour with alpha), upright by its
    EXIF orientation; a one-line error for anything else, a picture past MAX_PIXELS included."""
    if not os.path.isfile(path):
        raise LivegazeError(f"{path}: no such file")
    size = header_size(path)
    if size is not None:
        check_pixels(*size, path)
    with native_output_silenced():  # libjpeg's "Corrupt JPEG data: ..." for a damaged file
        image = cv2.imread(path, cv2.IMREAD_UNCHANGED)  # (which leaves the orientation to us)
    if image is None:
        raise LivegazeError(f"{path}: not an image OpenCV can read (expected JPEG, PNG, BMP, TIFF or WebP "
                            f"of at most {MAX_PIXELS // 1_000_000} megapixels)")
    if image.dtype not in (np.uint8, np.uint16):
        raise LivegazeError(f"{path}: pixel type {image.dtype} not supported (expected 8 or 16 bit)")
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise LivegazeError(f"{path}: {image.shape[2]} channels not supported (expected grey, colour or "
                            "colour with alpha)")
    return np.ascontiguousarray(ORIENT.get(exif_orientation(path), lambda a: a)(image))


# EXIF orientation -> how the stored pixels become the displayed picture (rows first).
ORIENT = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
          5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
          7: lambda a: np.rot90(a, 2).swapaxes(0, 1), 8: lambda a: np.rot90(a, 1)}


def exif_orientation(path: str) -> int:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return int(image.getexif().get(0x0112, 1))
    except Exception:  # no EXIF Pillow can read: stored upright
        return 1


def colour8(image: np.ndarray) -> np.ndarray:
    """The 8-bit BGR picture the correction works on."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def as_stored(original: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The correction (`after` - `before`, 8-bit BGR) added to the picture as it came in: its
    depth, grey or colour and alpha kept; every pixel the correction left alone is unchanged."""
    if original.ndim == 2 or original.shape[2] == 1:
        change = (cv2.cvtColor(after, cv2.COLOR_BGR2GRAY).astype(np.int32)
                  - cv2.cvtColor(before, cv2.COLOR_BGR2GRAY).astype(np.int32)).reshape(original.shape)
        channels = slice(None)
    else:
        change = after.astype(np.int32) - before.astype(np.int32)
        channels = slice(0, 3)  # alpha, when there is one, is not the correction's
    scale, top = (256, 65535) if original.dtype == np.uint16 else (1, 255)
    out = original.copy()
    out[..., channels] = np.clip(original[..., channels].astype(np.int32) + change * scale, 0, top)
    return out


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
                stored = read_photo(src)
                image = colour8(stored)
                out, results = stills.correct(image, strength)
                corrected = sum(r.outcome is Outcome.CORRECTED for r in results)
                if corrected:
                    write_image(dst, as_stored(stored, image, out))
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
