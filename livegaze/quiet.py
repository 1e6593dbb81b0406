"""Keeping native libraries' log lines off the user's terminal.

MediaPipe (glog and TFLite) prints about eight lines every time a landmarker starts, from its own
threads, and ignores GLOG_minloglevel in this build; OpenCV prints a warning for every failed
camera probe (about eleven a second while a camera is missing). A normal run shows only
livegaze's own lines; `--verbose` brings the native ones back.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading

_lock = threading.Lock()


def verbose() -> bool:
    """Native log lines are wanted: livegaze's own log level is INFO or more detailed."""
    return logging.getLogger().getEffectiveLevel() <= logging.INFO


@contextlib.contextmanager
def native_output_silenced():
    """Point file descriptor 2 at /dev/null while native code starts (its threads write there
    directly; Python-level redirection cannot reach them). livegaze's own lines in that window
    are rare (this wraps only start-up calls) and are lost with them."""
    if verbose():
        yield
        return
    with _lock:
        sys.stderr.flush()
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)


def quiet_opencv() -> None:
    """OpenCV's own logging off (its warnings for failed camera probes) unless verbose, and the
    FFmpeg inside it too: it prints a damaged file's details itself ("moov atom not found",
    "[mjpeg] overread 8") where livegaze says what it means in one line. OpenCV reads
    OPENCV_FFMPEG_LOGLEVEL when it first opens a video, so this must come before that; a value
    the user set is kept. libjpeg's "Corrupt JPEG data" is kept off by native_output_silenced
    around each image decode."""
    if not verbose():
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", str(FFMPEG_QUIET))
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_INFO if verbose()
                                  else cv2.utils.logging.LOG_LEVEL_SILENT)


FFMPEG_QUIET = -8  # AV_LOG_QUIET


_terminal = None  # the copy of descriptor 2 made by keep_log_lines_visible


def keep_log_lines_visible() -> None:
    """The log's terminal lines, and livegaze's own lines written to `terminal()`, go through
    their own copy of descriptor 2: native start-ups on the pipeline's threads point descriptor 2
    at /dev/null for a moment (native_output_silenced), and a line written in that moment (a
    missing virtual camera's warning just as the camera starts, Ctrl-C's "stopping" while the face
    model starts) would be lost with their noise."""
    global _terminal
    if sys.stderr is not sys.__stderr__:  # already redirected by the caller (a test's capture)
        return
    if _terminal is None:
        _terminal = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding=sys.stderr.encoding,
                              errors="replace")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setStream(_terminal)


def terminal():
    """Where a line for the user goes while native code may have silenced descriptor 2: the copy
    keep_log_lines_visible made, or sys.stderr when there is none (or stderr was redirected since)."""
    return _terminal if _terminal is not None and sys.stderr is sys.__stderr__ else sys.stderr
