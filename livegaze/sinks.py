"""Where corrected frames go: a virtual camera, a video file, a preview window or nowhere.

Every sink has `open(width, height, fps)`, `send(frame_bgr)` and `close()`, and is built by name
from a small registry.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass
from typing import Callable, Protocol

import cv2
import numpy as np

from livegaze.errors import LivegazeError, VirtualCameraUnavailable
from livegaze.quiet import native_output_silenced
from training.atomic import OutputLock, commit, discard, temp_beside

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Opened once with the stream's size, sent every frame, then closed (finished) or aborted
    (a failed run: nothing half-written is left). A context manager: leaving the block closes
    it, or aborts it when an exception is on its way."""

    name: str

    def open(self, width: int, height: int, fps: float) -> None: ...

    def send(self, image: np.ndarray) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class SinkLifecycle:
    """`with sink:` closes it at the end of the block, or aborts it when an exception ends it."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        self.close()  # nothing to undo unless a sink says otherwise


def virtual_camera_help() -> str:
    """How to get a virtual camera device on this platform."""
    if sys.platform.startswith("linux"):
        return ("install v4l2loopback and load it: sudo apt install v4l2loopback-dkms && "
                "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=livegaze")
    if sys.platform == "darwin":
        return "install OBS Studio 30+ and start its Virtual Camera once to register the device"
    if sys.platform.startswith("win"):
        return "install OBS Studio (its virtual camera) or Unity Capture, then restart livegaze"
    return "this platform has no virtual camera backend in pyvirtualcam"


class VirtualCameraSink(SinkLifecycle):
    """A pyvirtualcam device. Frames go in as BGR; pyvirtualcam converts to the device's native
    format (I420 on v4l2loopback, NV12 on OBS), which Zoom, Teams and browsers accept."""

    name = "virtualcam"

    def __init__(self, device: str | None = None, backend: str | None = None):
        self.device = device
        self.backend = backend
        self.camera = None

    def open(self, width: int, height: int, fps: float) -> None:
        import pyvirtualcam

        if width % 2 or height % 2:
            raise LivegazeError(f"virtual camera: frame size {width}x{height} must be even "
                                "(set --width/--height)")
        try:
            self.camera = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                              device=self.device, backend=self.backend)
        except Exception as exc:  # pyvirtualcam raises RuntimeError listing each backend's failure
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise VirtualCameraUnavailable(f"no virtual camera device ({first}); to fix: "
                                           f"{virtual_camera_help()}") from exc
        log.info("virtual camera %s (%s) at %dx%d %.0f fps", self.camera.device, self.camera.backend,
                 width, height, fps)

    def send(self, image: np.ndarray) -> None:
        self.camera.send(image)

    def close(self) -> None:
        if self.camera is not None:
            self.camera.close()
            self.camera = None


def check_writable(path: str, option: str = "--output") -> None:
    """Fail early, with one line, if `path` cannot be created."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise LivegazeError(f"{option} {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise LivegazeError(f"{option} {path}: directory {directory} is not writable")
    if os.path.isdir(path):
        raise LivegazeError(f"{option} {path}: is a directory (expected a file name like out.mp4)")


class VideoFileSink(SinkLifecycle):
    """An MP4 (or AVI) file, written under a temporary name and renamed on a clean close, so an
    interrupted run never leaves a half-written file under the requested name.

    OpenCV's writer reports no failure (a full disk, a size its codec cannot take), so the file
    is read back before it replaces anything: it must open and hold every frame sent. One run
    at a time writes a given output (a lock beside it)."""

    name = "file"
    FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}

    def __init__(self, path: str):
        ext = os.path.splitext(path)[1].lower()
        if ext not in self.FOURCC:
            raise LivegazeError(f"--output {path}: unsupported extension (expected one of "
                                f"{', '.join(sorted(self.FOURCC))})")
        check_writable(path)
        self.path = path
        self._tmp: str | None = None
        self._lock: OutputLock | None = None
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None
        self.frames = 0

    def open(self, width: int, height: int, fps: float) -> None:
        ext = os.path.splitext(self.path)[1]
        if (width % 2 or height % 2) and self.FOURCC[ext.lower()] == "mp4v":
            # MPEG-4 needs even sizes: the encoder would drop the last row/column without a word.
            log.warning("--output %s: the input is %dx%d; MPEG-4 needs even sizes, so the video is %dx%d "
                        "(use .avi to keep every pixel)", self.path, width, height, width - width % 2,
                        height - height % 2)
            width, height = width - width % 2, height - height % 2
        lock = OutputLock(self.path)
        try:
            taken = lock.acquire()
        except OSError as exc:
            raise LivegazeError(f"--output {self.path}: cannot write in its folder ({exc.strerror})") from exc
        if not taken:
            raise LivegazeError(f"--output {self.path}: another livegaze run is writing this file "
                                "(wait for it to finish, or choose another name)")
        self._lock = lock
        try:
            self._tmp = temp_beside(self.path)
        except OSError as exc:
            self.abort()
            raise LivegazeError(f"--output {self.path}: cannot write ({exc.strerror})") from exc
        self.writer = cv2.VideoWriter(self._tmp, cv2.VideoWriter_fourcc(*self.FOURCC[ext.lower()]),
                                      float(fps), (width, height))
        if not self.writer.isOpened():
            self.abort()
            raise LivegazeError(f"--output {self.path}: OpenCV cannot write this format")
        self.size = (width, height)

    def send(self, image: np.ndarray) -> None:
        w, h = self.size
        if (image.shape[1], image.shape[0]) != self.size:
            extra_w, extra_h = image.shape[1] - w, image.shape[0] - h
            # An odd size made even loses its last row/column; anything else is scaled.
            image = np.ascontiguousarray(image[:h, :w]) if 0 <= extra_w <= 1 and 0 <= extra_h <= 1 \
                else cv2.resize(image, self.size)
        self.writer.write(image)
        self.frames += 1

    def close(self) -> None:
        """Finish the file, check it holds every frame, and move it into place (nothing is
        written if no frame was sent). A file that fails the check is removed, the old one kept,
        and a one-line error raised."""
        if self.writer is None:
            self._unlock()
            return
        self.writer.release()
        self.writer = None
        try:
            if self.frames:
                problem = video_problem(self._tmp, self.frames)
                if problem:
                    raise LivegazeError(f"--output {self.path}: the video could not be written whole "
                                        f"({problem}; {_free_space(self._tmp)}); {self._kept()}")
                try:
                    commit(self._tmp, self.path)
                except OSError as exc:
                    raise LivegazeError(f"--output {self.path}: cannot write ({exc.strerror}); "
                                        f"{self._kept()}") from exc
        finally:
            discard(self._tmp)
            self._tmp = None
            self._unlock()

    def _kept(self) -> str:
        return "the existing file is unchanged" if os.path.exists(self.path) else "nothing was written"

    def abort(self) -> None:
        """Drop the partial file (used when the run fails)."""
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        discard(self._tmp)
        self._tmp = None
        self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def video_problem(path: str, frames: int) -> str | None:
    """Why the video at `path` does not hold `frames` playable frames, or None. Reads the
    container's frame count, then decodes the first and the last frame (a cut-off file has
    neither its index nor its tail)."""
    if os.path.getsize(path) == 0:
        return "the file is empty"
    with native_output_silenced():  # FFmpeg's own lines about the damage ("moov atom not found")
        cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            return "the file does not open"
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if count != frames:
            return f"it holds {max(count, 0)} of the {frames} frames"
        ok, image = cap.read()
        if not ok or image is None:
            return "its first frame does not decode"
        if frames > 1:
            cap.set(cv2.CAP_PROP_POS_FRAMES, frames - 1)
            ok, image = cap.read()
            if not ok or image is None:
                return "its last frame does not decode"
        return None
    finally:
        cap.release()


def _free_space(path: str) -> str:
    try:
        free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    except OSError:
        return "is the disk full?"
    return f"{free / 1e6:.1f} MB free on its disk"


class PreviewSink(SinkLifecycle):
    """An OpenCV window; needs a display."""

    name = "preview"

    def __init__(self, title: str = "livegaze"):
        self.title = title
        self.closed_by_user = False

    def open(self, width: int, height: int, fps: float) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                     or os.environ.get("WAYLAND_DISPLAY")):
            raise LivegazeError("--preview: no display (DISPLAY is not set); use --output FILE instead")
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)

    def send(self, image: np.ndarray) -> None:
        cv2.imshow(self.title, image)
        if cv2.waitKey(1) & 0xFF in (27, ord("q")):
            self.closed_by_user = True

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
        except cv2.error:
            pass


class NullSink(SinkLifecycle):
    """Discards frames (benchmarks, tests); keeps the last one for inspection."""

    name = "null"

    def __init__(self, keep: bool = False):
        self.keep = keep
        self.frames = 0
        self.last: np.ndarray | None = None
        self.images: list[np.ndarray] = []

    def open(self, width: int, height: int, fps: float) -> None:
        self.size = (width, height)

    def send(self, image: np.ndarray) -> None:
        self.frames += 1
        self.last = image
        if self.keep:
            self.images.append(image)

    def close(self) -> None:
        pass


class TeeSink(SinkLifecycle):
    """Sends every frame to several sinks."""

    name = "tee"

    def __init__(self, *sinks: Sink):
        self.sinks = list(sinks)

    def open(self, width: int, height: int, fps: float) -> None:
        opened = []
        try:
            for s in self.sinks:
                s.open(width, height, fps)
                opened.append(s)
        except Exception:
            for s in opened:
                s.abort()
            raise

    def send(self, image: np.ndarray) -> None:
        for s in self.sinks:
            s.send(image)

    def close(self) -> None:
        for s in self.sinks:
            s.close()

    def abort(self) -> None:
        for s in self.sinks:
            s.abort()


@dataclass
class SinkConfig:
    """Where corrected frames go: a video file, the virtual camera (default when neither a file
    nor a preview is asked for), a preview window; any together."""

    output: str | None = None  # video file (.mp4, .avi)
    virtual_camera: bool | None = None  # None: when there is no output and no preview
    device: str | None = None  # virtual camera device, e.g. /dev/video10 (None: first free)
    backend: str | None = None  # pyvirtualcam backend (None: the platform's)
    preview: bool = False

    def wants_virtual_camera(self) -> bool:
        return self.virtual_camera if self.virtual_camera is not None else not (self.output or self.preview)


# The registry: each sink, and whether a config asks for it (in the order they receive frames).
SINKS: dict[str, tuple[Callable[[SinkConfig], bool], Callable[[SinkConfig], Sink]]] = {
    "file": (lambda c: bool(c.output), lambda c: VideoFileSink(c.output)),
    "virtualcam": (SinkConfig.wants_virtual_camera, lambda c: VirtualCameraSink(device=c.device, backend=c.backend)),
    "preview": (lambda c: c.preview, lambda c: PreviewSink()),
}


def build_sink(config: SinkConfig, extra: Sink | None = None) -> Sink:
    """Every sink the config asks for (plus `extra`, the tray's own), as one; NullSink when none.
    Building validates the output path before anything is opened."""
    sinks = [make(config) for wanted, make in SINKS.values() if wanted(config)]
    if extra is not None:
        sinks.append(extra)
    if not sinks:
        return NullSink()
    return sinks[0] if len(sinks) == 1 else TeeSink(*sinks)
