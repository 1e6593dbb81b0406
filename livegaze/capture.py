"""Frame sources: a camera (index or device path), a video file, or a still image.

A camera that stops delivering is retried every `retry_interval_s`; meanwhile the source keeps
producing a dimmed "camera lost" placeholder so the virtual camera never freezes or goes black.
"""
from __future__ import annotations

import logging
import math
import os
import stat
import sys
import time
from dataclasses import dataclass

import cv2
import numpy as np

from livegaze.errors import LivegazeError
from livegaze.quiet import native_output_silenced

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}

# The largest picture livegaze decodes, in pixels (width x height): 100 megapixels, a 12000 x 8000
# photo from a high-end camera. The size is read from the file's header before anything is
# decoded, so a small file claiming a huge picture (a "decompression bomb": a 2.6 MB PNG of
# 30000 x 30000 took 5.6 GB) is refused in one line instead of filling the memory. Video frames
# are held to the same limit.
MAX_PIXELS = 100_000_000
# OpenCV's own limit, for a format whose header Pillow cannot read (read at its first decode).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))


class EndOfStream(Exception):
    """The file source has no more frames."""


@dataclass
class CaptureConfig:
    """Where frames come from and how fast.

    source: camera index ("0"), device path ("/dev/video2"), video file or image file.
    width/height: requested size (cameras) or resize target (files); 0 keeps the native size.
    paced: deliver file frames at `fps` like a live camera (live semantics: frames may drop).
    loop: restart a file at its end instead of stopping.
    reconnect: treat read failures as a lost camera and retry (default for cameras).
    image_frames: how many frames a still image source yields (0 = endless).
    """

    source: str = "0"
    width: int = 0
    height: int = 0
    fps: float = 30.0
    paced: bool = False
    loop: bool = False
    reconnect: bool | None = None
    retry_interval_s: float = 1.0
    image_frames: int = 0
    must_open: bool = False  # a camera that cannot be opened at the start is an error (file output)

    def validate(self) -> None:
        """One-line errors for numbers no camera or file can take, before any native call."""
        for name, most in (("width", 7680), ("height", 4320)):
            value = getattr(self, name)
            if value and (value < 32 or value > most or value % 2):
                raise LivegazeError(f"--{name} {value}: expected an even number of pixels from 32 to {most} "
                                    "(or 0 for the source's own size)")
        if bool(self.width) != bool(self.height):
            given, missing = ("width", "height") if self.width else ("height", "width")
            raise LivegazeError(f"--{given} {getattr(self, given)} without --{missing}: give both, or neither "
                                "for the source's own size")
        if not (math.isfinite(self.fps) and 1 <= self.fps <= 240):
            raise LivegazeError(f"--fps {self.fps:g}: expected a frame rate from 1 to 240")
        if str(self.source).isdigit() and int(self.source) > MAX_CAMERA_INDEX:
            raise LivegazeError(f"--input {self.source}: expected a camera index from 0 to {MAX_CAMERA_INDEX}, "
                                "a device path or a file")


MAX_CAMERA_INDEX = 99  # OpenCV's backends number cameras well below this (V4L2: /dev/video0-63)


def is_camera_source(source: str) -> bool:
    """A bare integer or a /dev/video* path is a camera; anything else is a file. The one rule:
    the capture, the tray and the wiring all ask here."""
    return str(source).isdigit() or str(source).startswith("/dev/video")


def camera_handle(source: str) -> int | str:
    """What OpenCV opens for a camera source: an index for "0", the device path otherwise."""
    return int(source) if str(source).isdigit() else str(source)


def check_pixels(width: int, height: int, name: str) -> None:
    """Refuse a picture or video frame larger than MAX_PIXELS, in one line."""
    if width * height > MAX_PIXELS:
        raise LivegazeError(f"{name}: {width}x{height} pixels is over livegaze's limit of "
                            f"{MAX_PIXELS // 1_000_000} megapixels (expected a smaller picture)")


def header_size(path: str) -> tuple[int, int] | None:
    """(width, height) from an image file's header, without decoding it; None when Pillow cannot
    read the header (OpenCV's own limit then still holds)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # ours is the one line
            with Image.open(path) as image:
                return image.size
    except Image.DecompressionBombError:
        return (MAX_PIXELS + 1, 1)  # past Pillow's own limit, which is above ours
    except Exception:  # not a format Pillow knows: OpenCV decides
        return None


def read_image(path: str, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Decode an image file (size checked first, the decoder's own warnings kept off the
    terminal); a one-line error for a missing, empty, oversized or unreadable file."""
    if not os.path.isfile(path):
        raise LivegazeError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise LivegazeError(f"{path}: file is empty (expected an image)")
    size = header_size(path)
    if size is not None:
        check_pixels(*size, path)
    with native_output_silenced():  # libjpeg's "Corrupt JPEG data: ..." for a damaged file
        image = cv2.imread(path, flags)
    if image is None:
        raise LivegazeError(f"{path}: not a readable image (expected PNG, JPEG, BMP, TIFF or WebP "
                            f"of at most {MAX_PIXELS // 1_000_000} megapixels)")
    return image


def load_image_bgr(path: str) -> np.ndarray:
    """Read an image file as 3-channel BGR uint8; grayscale and RGBA are converted, bad files raise."""
    return to_bgr(read_image(path), path)


def to_bgr(image: np.ndarray, name: str = "frame") -> np.ndarray:
    """Normalise any decoded image to HxWx3 uint8 BGR, or raise a one-line error."""
    if image.size == 0 or image.shape[0] < 32 or image.shape[1] < 32:
        raise LivegazeError(f"{name}: image is {image.shape[1]}x{image.shape[0]} pixels "
                            "(expected at least 32x32 with a face in it)")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise LivegazeError(f"{name}: pixel type {image.dtype} not supported (expected 8 or 16 bit)")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        log.info("%s: grayscale input converted to colour", name)
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        log.info("%s: alpha channel dropped", name)
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise LivegazeError(f"{name}: unexpected image shape {image.shape} (expected HxW, HxWx3 or HxWx4)")


class Capture:
    """Reads frames from one source; `read()` returns BGR uint8 or raises EndOfStream."""

    def __init__(self, config: CaptureConfig):
        config.validate()
        self.config = config
        self.is_camera = is_camera_source(config.source)
        self.reconnect = config.reconnect if config.reconnect is not None else self.is_camera
        self.is_image = (not self.is_camera
                         and os.path.splitext(str(config.source))[1].lower() in IMAGE_EXTENSIONS)
        self._cap: cv2.VideoCapture | None = None
        self._still: np.ndarray | None = None
        self._count = 0
        self._t0: float | None = None
        self._last: np.ndarray | None = None
        self._pending: np.ndarray | None = None  # a file's first frame, read to check it opens
        self._lost_since: float | None = None
        self._next_retry = 0.0
        self.reconnects = 0
        self.lost_frames = 0
        self.truncated: tuple[int, int] | None = None  # (frames decoded, frames the file claims)
        self._open(initial=True)

    @property
    def live(self) -> bool:
        """Live sources (cameras, paced files) drop frames rather than queue them."""
        return self.is_camera or self.config.paced

    @property
    def fps(self) -> float:
        if self._cap is not None and not self.is_camera:
            native = self._cap.get(cv2.CAP_PROP_FPS)
            if not self.config.paced and native and native > 0:
                return float(native)
        return self.config.fps

    @property
    def lost(self) -> bool:
        return self._lost_since is not None

    def _open(self, initial: bool = False) -> bool:
        src = self.config.source
        if self.is_image:
            self._still = self._fit(load_image_bgr(src))
            return True
        if self.is_camera:
            with native_output_silenced():  # FFmpeg/V4L2 print their own lines for a missing device
                cap = cv2.VideoCapture(camera_handle(src))
            if cap.isOpened():
                if self.config.width:
                    cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
                    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
                cap.set(cv2.CAP_PROP_FPS, self.config.fps)
        else:
            if initial:
                _check_file(src)
            with native_output_silenced():  # FFmpeg's lines about a damaged file ("moov atom not found")
                cap = cv2.VideoCapture(src)
        if not cap.isOpened():
            cap.release()
            if initial and not self.reconnect:
                raise LivegazeError(f"--input {src}: cannot open (expected a readable video file)")
            if initial and self.is_camera and self.config.must_open:
                raise LivegazeError(f"camera {src} cannot be opened (is it connected, and not in use by "
                                    "another app?); nothing was written")
            if initial and self.is_camera:
                log.warning("camera %s cannot be opened; retrying every %.1fs", src,
                            self.config.retry_interval_s)
                self._lost_since = time.perf_counter()  # lost from the start: no second warning
                self._next_retry = self._lost_since + self.config.retry_interval_s
            return False
        if initial and not self.is_camera:
            try:
                check_pixels(int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                             f"--input {src}")
            except LivegazeError:
                cap.release()
                raise
            ok, probe = cap.read()
            if not ok or probe is None or probe.size == 0:
                cap.release()
                raise LivegazeError(f"--input {src}: no decodable video frames")
            # Kept for the first read, not sought back to: a stream (raw MJPEG, a pipe) cannot
            # seek, and a one-frame file may not either.
            self._pending = probe
        self._cap = cap
        return True

    def _fit(self, image: np.ndarray) -> np.ndarray:
        image = to_bgr(image, str(self.config.source))
        w, h = self.config.width, self.config.height
        if w and h and (image.shape[1], image.shape[0]) != (w, h):
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        return image

    def _pace(self) -> None:
        if not self.config.paced:
            return
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now
        due = self._t0 + self._count / self.config.fps
        if due > now:
            time.sleep(due - now)

    def read(self) -> np.ndarray:
        """The next frame; a placeholder while a camera is lost; EndOfStream at a file's end."""
        self._pace()
        self._count += 1
        if self._still is not None:
            if self.config.image_frames and self._count > self.config.image_frames:
                raise EndOfStream()
            return self._still.copy()
        if self._lost_since is None and self._cap is not None:
            if self._pending is not None:
                ok, image, self._pending = True, self._pending, None
            else:
                ok, image = self._cap.read()
            if ok and image is not None and image.size:
                self._last = self._fit(image)
                return self._last
            if not self.reconnect:
                if self.config.loop and self._count > 1:
                    image = self._restart()
                    if image is not None:
                        self._last = self._fit(image)
                        return self._last
                self._warn_if_truncated()
                raise EndOfStream()
            self._mark_lost()
        elif self._lost_since is None:
            self._mark_lost()
        return self._while_lost()

    def _restart(self) -> np.ndarray | None:
        """A file's first frame again (for --loop): sought back to, or the file opened afresh
        where it cannot seek (a stream)."""
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, image = self._cap.read()
        if ok and image is not None and image.size:
            return image
        if not os.path.isfile(self.config.source):
            log.warning("--input %s: a stream cannot start again (--loop ignored)", self.config.source)
            return None  # a pipe would wait forever for a writer that is gone
        self._cap.release()
        with native_output_silenced():
            self._cap = cv2.VideoCapture(self.config.source)
        ok, image = self._cap.read()
        return image if ok and image is not None and image.size else None

    def _warn_if_truncated(self) -> None:
        """A file that says it has more frames than could be decoded is damaged: say so."""
        expected = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        decoded = self._count - 1
        if expected and decoded < expected - 1:
            self.truncated = (decoded, expected)
            log.warning("--input %s: ended after %d of its %d frames (the file looks truncated or damaged)",
                        self.config.source, decoded, expected)

    def _mark_lost(self) -> None:
        log.warning("camera %s stopped delivering frames; retrying every %.1fs",
                    self.config.source, self.config.retry_interval_s)
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._lost_since = time.perf_counter()
        self._next_retry = self._lost_since + self.config.retry_interval_s

    def _while_lost(self) -> np.ndarray:
        now = time.perf_counter()
        if now >= self._next_retry:
            self._next_retry = now + self.config.retry_interval_s
            if self._open():
                ok, image = self._cap.read()
                if ok and image is not None and image.size:
                    log.warning("camera %s is back after %.1fs", self.config.source,
                                now - self._lost_since)
                    self._lost_since = None
                    self.reconnects += 1
                    self._last = self._fit(image)
                    return self._last
                self._cap.release()
                self._cap = None
        if not self.config.paced:
            time.sleep(1.0 / self.config.fps)  # a lost camera still ticks at its frame rate
        self.lost_frames += 1
        return lost_placeholder(self._last, self.config.width or 640, self.config.height or 480)

    def close(self) -> None:
        """Let go of the camera or file (again: nothing)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_file(src: str) -> None:
    """A video source must be a file (or a pipe: a stream is read as it comes) with something in it."""
    try:
        info = os.stat(src)
    except OSError:
        raise LivegazeError(f"--input {src}: no such file (expected a video or image file)") from None
    if stat.S_ISFIFO(info.st_mode):
        return
    if not stat.S_ISREG(info.st_mode):
        raise LivegazeError(f"--input {src}: not a file (expected a video or image file)")
    if info.st_size == 0:
        raise LivegazeError(f"--input {src}: file is empty (expected a video or image file)")


def lost_placeholder(last: np.ndarray | None, width: int, height: int) -> np.ndarray:
    """The last good frame dimmed, with a notice, so viewers see why the picture stopped."""
    frame = (last // 3) if last is not None else np.zeros((height, width, 3), np.uint8)
    frame = np.ascontiguousarray(frame)
    cv2.putText(frame, "camera lost - reconnecting", (16, frame.shape[0] // 2),
                cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
    return frame


def list_cameras(max_index: int = 10) -> list[dict]:
    """Cameras OpenCV can open, with their default resolution."""
    found = []
    if sys.platform.startswith("linux"):  # V4L2 devices are listed in /dev; no need to probe indices
        candidates = sorted(f"/dev/{p}" for p in os.listdir("/dev") if p.startswith("video"))
    else:
        candidates = [str(i) for i in range(max_index)]
    for src in candidates:
        with native_output_silenced():
            cap = cv2.VideoCapture(camera_handle(src))
        if cap.isOpened():
            found.append({"source": src, "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                          "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))})
        cap.release()
    return found
