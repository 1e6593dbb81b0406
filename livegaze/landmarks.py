"""Face landmarks with MediaPipe FaceLandmarker (Tasks API, video mode).

Per frame: 478 points (468 mesh + 10 iris), the eye blendshapes and the head-pose matrix of the
largest face. Eye 0 is the one on the image's left (the subject's right eye), eye 1 the other.
"""
from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from livegaze.errors import LivegazeError
from livegaze.model_files import find_face_landmarker
from livegaze.quiet import native_output_silenced

log = logging.getLogger(__name__)

# Eyelid contours, ordered around the opening: outer/inner corner, upper lid, lower lid.
EYE_CONTOURS = (
    (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    (362, 398, 384, 385, 386, 387, 388, 466, 263, 249, 390, 373, 374, 380, 381, 382),
)
EYE_CORNERS = ((33, 133), (362, 263))
EYE_LIDS = ((159, 145), (386, 374))  # (upper, lower) at mid-eye
IRIS_CENTRES = (468, 473)
IRIS_RINGS = ((469, 470, 471, 472), (474, 475, 476, 477))
BLINK_NAMES = ("eyeBlinkRight", "eyeBlinkLeft")  # subject's right eye is eye 0


@dataclass
class FaceLandmarks:
    """One face in pixel coordinates of the frame it was found in."""

    points: np.ndarray  # (478, 3) float32: x, y in pixels, z in pixel-scaled depth
    blendshapes: dict[str, float] = field(default_factory=dict)
    pose: np.ndarray | None = None  # 4x4 face-to-camera transform
    # The image-checked irises of this face, per (eye, image, fit settings): the gate fits them
    # and the warp reuses them (livegaze.irisfit.IrisFinder.fit_eye).
    iris_fits: dict = field(default_factory=dict, repr=False, compare=False)

    def eye_contour(self, eye: int) -> np.ndarray:
        return self.points[list(EYE_CONTOURS[eye]), :2]

    def eye_centre(self, eye: int) -> np.ndarray:
        """Centre of the eye opening: midpoint of the corners, shifted to mid-lid height."""
        a, b = EYE_CORNERS[eye]
        up, lo = EYE_LIDS[eye]
        mid = (self.points[a, :2] + self.points[b, :2]) / 2
        mid_y = (self.points[up, 1] + self.points[lo, 1]) / 2
        return np.array([mid[0], (mid[1] + mid_y) / 2], np.float32)

    def eye_size(self, eye: int) -> tuple[float, float]:
        """(width, opening height) of the eye in pixels."""
        a, b = EYE_CORNERS[eye]
        up, lo = EYE_LIDS[eye]
        p = self.points
        # Plain floats: np.linalg.norm on a 2-vector costs several us, and this runs per eye and frame.
        width = math.hypot(float(p[a, 0] - p[b, 0]), float(p[a, 1] - p[b, 1]))
        height = math.hypot(float(p[up, 0] - p[lo, 0]), float(p[up, 1] - p[lo, 1]))
        return width, height

    def iris(self, eye: int) -> tuple[np.ndarray, float]:
        """Iris centre (x, y) and radius in pixels."""
        centre = self.points[IRIS_CENTRES[eye], :2]
        ring = self.points[list(IRIS_RINGS[eye]), :2]
        radius = float(np.sqrt(np.square(ring - centre).sum(axis=1)).mean())
        return centre.astype(np.float32), radius

    def openness(self, eye: int) -> float:
        """Opening height over eye width: about 0.25-0.35 open, under 0.1 closed."""
        width, height = self.eye_size(eye)
        return height / max(width, 1e-6)

    def blink(self, eye: int) -> float:
        return self.blendshapes.get(BLINK_NAMES[eye], 0.0)

    def head_angles(self) -> tuple[float, float]:
        """(yaw, pitch) in degrees from the pose matrix; (0, 0) when there is none."""
        if self.pose is None:
            return 0.0, 0.0
        r = self.pose[:3, :3]
        yaw = math.degrees(math.asin(max(-1.0, min(1.0, -r[2, 0]))))
        pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
        return yaw, pitch

    def area(self) -> float:
        lo = self.points[:, :2].min(0)
        hi = self.points[:, :2].max(0)
        return float(np.prod(hi - lo))


# The tray's battery saver: the face model at least every this many frames (the default config's
# model_every is the normal setting); livegaze bench measures both.
BATTERY_MODEL_EVERY = 12


# Model calls between two looks for every face while one face is in view (see Landmarker).
SCAN_EVERY = 8


@dataclass
class LandmarkerConfig:
    """FaceLandmarker settings. num_faces > 1 lets the largest face win when several are in view;
    still_images: each call is a separate photo (no tracking between calls); model_every: see
    livegaze.facefollow."""

    model_path: str | None = None
    num_faces: int = 2
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    max_input_width: int = 640  # larger frames are downscaled for the model (same accuracy, less time)
    still_images: bool = False
    # A live stream runs the model at least every this many frames and follows the face by optical
    # flow between (livegaze.facefollow); 1 = every frame. The tray's battery saver raises it.
    model_every: int = 6


class Landmarker:
    """MediaPipe FaceLandmarker in video mode; `detect` returns the largest face or None."""

    def __init__(self, config: LandmarkerConfig | None = None):
        self.config = config or LandmarkerConfig()
        model = find_face_landmarker(self.config.model_path)
        self._landmarker = self._create(model, self.config.num_faces)
        # A model asked for several faces runs its face detector on every frame while it tracks
        # fewer (one person at a laptop); asked for one, it only tracks it. So a stream uses a
        # one-face model while one face is in view, and the full one every SCAN_EVERY calls, and
        # while several faces or none are in view: the largest face still wins within a scan.
        # The one-face model smooths its landmarks over the frames it tracks, so it sees a blink a
        # frame late: frames where the eyes move on their own ask for the full model (`everyone`).
        self._single = None
        if self.config.num_faces > 1 and not self.config.still_images:
            try:
                self._single = self._create(model, 1)
            except BaseException:
                self.close()
                raise
        self._calls = 0
        self._crowd = True  # the last full look found several faces or none: look with it again
        self.looked_for_all = True  # whether the last call ran the full model (tests, diagnostics)
        self._last_ms = -1
        self._started: set[int] = set()  # models that ran once (the first inference prints native lines)

    def _create(self, model, num_faces: int):
        from mediapipe.tasks.python import BaseOptions, vision  # heavy import, only when used

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=model.read_bytes()),
            running_mode=vision.RunningMode.IMAGE if self.config.still_images else vision.RunningMode.VIDEO,
            num_faces=num_faces,
            min_face_detection_confidence=self.config.min_detection_confidence,
            min_face_presence_confidence=self.config.min_presence_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            with native_output_silenced():  # MediaPipe's start-up log lines (see livegaze.quiet)
                return vision.FaceLandmarker.create_from_options(options)
        except Exception as exc:  # shaped like a model (model_files checked) yet MediaPipe cannot run it
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise LivegazeError(f"{model}: MediaPipe cannot load this face landmark model ({reason}); run "
                                "`livegaze download-model`, or give a good copy with --face-model") from exc

    def detect(self, image_bgr: np.ndarray, t_ms: int | None = None, everyone: bool = False) -> FaceLandmarks | None:
        """Landmarks of the largest face in a BGR frame; timestamps must increase (bumped if not).
        everyone: run the full model (see __init__) on this frame whatever the count of faces."""
        faces = self.detect_all(image_bgr, t_ms, everyone)
        return max(faces, key=FaceLandmarks.area) if faces else None

    def detect_all(self, image_bgr: np.ndarray, t_ms: int | None = None, everyone: bool = False
                   ) -> list[FaceLandmarks]:
        """Landmarks of every face found (at most `num_faces`), in the model's order."""
        import mediapipe as mp

        t_ms = self._last_ms + 33 if t_ms is None else int(t_ms)
        if t_ms <= self._last_ms:
            t_ms = self._last_ms + 1
        self._last_ms = t_ms
        h, w = image_bgr.shape[:2]  # landmarks come back normalised, so scale them by the original size
        if w > self.config.max_input_width:
            small_h = round(h * self.config.max_input_width / w)
            image_bgr = cv2.resize(image_bgr, (self.config.max_input_width, small_h), interpolation=cv2.INTER_AREA)
        rgb = mp.Image(image_format=mp.ImageFormat.SRGB, data=cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        every = everyone or self._single is None or self._crowd or self._calls % SCAN_EVERY == 0
        self._calls += 1
        model = self._landmarker if every else self._single
        with native_output_silenced() if id(model) not in self._started else contextlib.nullcontext():
            if self.config.still_images:
                result = model.detect(rgb)
            else:
                result = model.detect_for_video(rgb, t_ms)
        self._started.add(id(model))
        self.looked_for_all = every
        if every or not result.face_landmarks:  # the one face lost: look for every face again
            self._crowd = len(result.face_landmarks) != 1
        faces = []
        for i, marks in enumerate(result.face_landmarks):
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in marks], np.float32)
            shapes = {}
            if result.face_blendshapes and i < len(result.face_blendshapes):
                shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[i]}
            pose = None
            if result.facial_transformation_matrixes and i < len(result.facial_transformation_matrixes):
                pose = np.asarray(result.facial_transformation_matrixes[i], np.float32)
            faces.append(FaceLandmarks(pts, shapes, pose))
        return faces

    def close(self) -> None:
        for name in ("_landmarker", "_single"):
            model = getattr(self, name, None)
            if model is not None:
                try:
                    model.close()
                except Exception:  # mediapipe's close can fail during interpreter shutdown
                    pass
                setattr(self, name, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
