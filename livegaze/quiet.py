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
    """OpenCV's own logging off (its warnings for failed camera probes) unless verbose."""
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_INFO if verbose()
                                  else cv2.utils.logging.LOG_LEVEL_SILENT)


def keep_log_lines_visible() -> None:
    """The log's terminal lines go through their own copy of descriptor 2: native start-ups on
    the pipeline's threads point descriptor 2 at /dev/null for a moment (livegaze.quiet), and a
    warning the tray logs in that moment (a missing virtual camera, just as the camera starts)
    would be lost with their noise."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setStream(os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1,
                                        encoding=sys.stderr.encoding, errors="replace"))
