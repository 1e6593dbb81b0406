"""Test and demo clips made from real face photos that ship with installed packages.

No real face video ships anywhere reachable, so clips are made by moving, scaling and re-lighting
the photos with known transforms: every frame comes with its ground truth. The gaze can first be
turned away from the camera (the way people read their screen) with the same iris-moving
operation the geometric corrector uses, so the correction has something to undo.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from livegaze.correctors.irispaint import move_iris
from livegaze.errors import LivegazeError
from livegaze.landmarks import EYE_CONTOURS, FaceLandmarks
from training.photos import PHOTOS, photo as packaged_photo  # noqa: F401  (PHOTOS: re-exported)


def photo(name: str) -> np.ndarray:
    """A packaged face photo as BGR uint8 (training.photos: "astronaut" or "grace_hopper")."""
    try:
        return packaged_photo(name)
    except ValueError as exc:
        raise LivegazeError(str(exc))


@lru_cache(maxsize=4)
def photo_landmarks(name: str) -> FaceLandmarks:
    """Landmarks of a packaged photo (MediaPipe, computed once)."""
    from livegaze.landmarks import Landmarker

    with Landmarker() as lm:
        face = lm.detect(photo(name), 0)
    if face is None:
        raise LivegazeError(f"photo {name}: no face found")
    return face


def eye_width(face: FaceLandmarks, eye: int) -> float:
    return face.eye_size(eye)[0]


@lru_cache(maxsize=8)
def averted_photo(name: str, gaze: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The photo with both irises moved by `gaze` (dx, dy in eye widths; +y = looking down),
    and the new iris centres (2, 2) in photo pixels."""
    image = photo(name)
    face = photo_landmarks(name)
    centres = []
    for eye in range(2):
        centre, radius = face.iris(eye)
        new = centre + np.asarray(gaze, np.float32) * eye_width(face, eye)
        image = move_iris(image, face.points[list(EYE_CONTOURS[eye]), :2], centre, radius, new)
        centres.append(new)
    x0, y0, x1, y1 = head_box(face, image.shape)
    return np.ascontiguousarray(image[y0:y1, x0:x1]), np.array(centres, np.float32) - [x0, y0]


def head_box(face: FaceLandmarks, shape) -> tuple[int, int, int, int]:
    """Head-and-shoulders crop (x0, y0, x1, y1) so the face fills a webcam-like share of the frame."""
    lo, hi = face.points[:, :2].min(0), face.points[:, :2].max(0)
    centre, half = (lo + hi) / 2, (hi - lo).max() * 1.1
    x0, y0 = np.maximum(np.floor(centre - half), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(centre + half), shape[1::-1]).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


@dataclass
class ClipSpec:
    """A synthetic clip. motion: "still", "pan" (constant velocity, px/frame), "zoom" or "wander"
    (smooth random drift); gaze: iris offset applied to the photo first (eye widths)."""

    width: int = 640
    height: int = 480
    frames: int = 60
    fps: float = 30.0
    photos: tuple[str, ...] = ("astronaut",)
    face_height: float = 0.9  # head-and-shoulders crop height as a fraction of the frame height
    motion: str = "still"
    velocity: tuple[float, float] = (2.0, 0.0)
    gaze: tuple[float, float] = (0.0, 0.0)
    lighting: float = 0.0  # amplitude of a slow brightness change (0..0.5)
    noise: float = 0.0  # per-frame Gaussian pixel noise std (sensor noise)
    seed: int = 0
    faces: int = 1  # faces in view: more than one share the frame in a grid, two to a row, the first top left
    transforms: list = field(default_factory=list, repr=False)


def _background(width: int, height: int) -> np.ndarray:
    ramp = np.linspace(70, 130, width, dtype=np.float32)[None, :, None]
    col = np.linspace(0.85, 1.1, height, dtype=np.float32)[:, None, None]
    return np.clip(ramp * col * np.array([1.0, 0.95, 0.9], np.float32), 0, 255).astype(np.uint8)


def _transform(spec: ClipSpec, src_shape, i: int, rng_path: np.ndarray) -> np.ndarray:
    h, w = src_shape[:2]
    scale = spec.face_height * spec.height / h
    if spec.motion == "zoom":
        scale *= 1.0 + 0.15 * np.sin(2 * np.pi * i / max(spec.frames, 1))
    cx, cy = spec.width / 2, spec.height / 2
    if spec.motion == "pan":
        travel = np.asarray(spec.velocity) * (i - spec.frames / 2)
        cx, cy = cx + travel[0], cy + travel[1]
    elif spec.motion == "wander":
        cx, cy = cx + rng_path[i, 0], cy + rng_path[i, 1]
    return np.array([[scale, 0, cx - scale * w / 2], [0, scale, cy - scale * h / 2]], np.float64)


def _in_cell(moved: np.ndarray, shape, k: int, spec: ClipSpec) -> np.ndarray:
    """Where face k of several goes (its photo of `shape`): cell k of a grid two faces wide, the
    head as high in its cell as one face is in the frame, `moved` (pixels) from its centre as the
    clip's motion moves the main face from the frame's centre."""
    h, w = shape[:2]
    rows = (spec.faces + 1) // 2
    cell_w, cell_h = spec.width / 2, spec.height / rows
    scale = min(spec.face_height * cell_h / h, 0.98 * cell_w / w)  # as high as fits the cell
    centre = np.array([(k % 2 + 0.5) * cell_w, (k // 2 + 0.5) * cell_h]) + moved * scale * h / spec.height
    return np.array([[scale, 0, centre[0] - scale * w / 2], [0, scale, centre[1] - scale * h / 2]])


def iter_frames(spec: ClipSpec):
    """Yield (frame BGR, photo name, 2x3 photo->frame transform, iris centres in frame px)."""
    rng = np.random.default_rng(spec.seed)
    steps = rng.normal(0, 1.2, size=(spec.frames, 2))
    path = np.cumsum(steps, axis=0)
    path = cv2.GaussianBlur(path.astype(np.float32), (1, 9), 3).reshape(-1, 2) if spec.frames > 9 else path
    background = _background(spec.width, spec.height)
    per_photo = max(1, spec.frames // len(spec.photos))
    for i in range(spec.frames):
        name = spec.photos[min(i // per_photo, len(spec.photos) - 1)]
        src, irises = averted_photo(name, tuple(spec.gaze))
        m = _transform(spec, src.shape, i, path)
        frame = background.copy()
        moved = m[:, 2] + m[0, 0] * np.array(src.shape[1::-1]) / 2 - (spec.width / 2, spec.height / 2)
        for k in range(1, spec.faces):
            other, _ = averted_photo(PHOTOS[k % len(PHOTOS)], (0.0, 0.0))
            cv2.warpAffine(other, _in_cell(moved, other.shape, k, spec), (spec.width, spec.height),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT, dst=frame)
        if spec.faces > 1:
            m = _in_cell(moved, src.shape, 0, spec)
        frame = cv2.warpAffine(src, m, (spec.width, spec.height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_TRANSPARENT, dst=frame)
        if spec.lighting:
            gain = 1.0 + spec.lighting * np.sin(2 * np.pi * i / max(spec.frames, 1))
            frame = cv2.convertScaleAbs(frame, alpha=gain)
        if spec.noise:
            frame = np.clip(frame + rng.normal(0, spec.noise, frame.shape), 0, 255).astype(np.uint8)
        iris_frame = irises @ m[:, :2].T + m[:, 2]
        yield frame, name, m, iris_frame


def write_clip(path: str, spec: ClipSpec) -> list[dict]:
    """Write the clip as a video file (atomically, read back before it is renamed into place:
    OpenCV's writer reports no failure) and return per-frame ground truth."""
    from livegaze.sinks import video_problem
    from training.atomic import replacing

    ext = os.path.splitext(path)[1] or ".mp4"
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if ext == ".avi" else "mp4v"))
    truth = []
    with replacing(path) as tmp:
        writer = cv2.VideoWriter(tmp, fourcc, spec.fps, (spec.width, spec.height))
        try:
            for frame, name, m, irises in iter_frames(spec):
                writer.write(frame)
                truth.append({"photo": name, "transform": m, "irises": irises})
        finally:
            writer.release()
        problem = video_problem(tmp, len(truth))
        if problem:
            raise LivegazeError(f"{path}: the clip could not be written whole ({problem})")
    return truth
