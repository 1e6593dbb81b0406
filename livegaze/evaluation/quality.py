"""What `livegaze eval` measures: test media with known truth, and per-eye measures of a result.

The measures do not trust the corrector. Each image (input, output, truth) gets a fresh
landmarker, and the iris is measured two ways: MediaPipe's iris point, and an estimate of this
module's own (the darkest iris-sized disk inside the lids, which shares no code with the warp's
limbus fit). Offsets are from the camera-facing position, in eye widths.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from livegaze.correctors.irispaint import move_iris
from livegaze.gazetarget import camera_facing_target
from livegaze.landmarks import FaceLandmarks, Landmarker, LandmarkerConfig
from livegaze.evaluation.clips import PHOTOS, ClipSpec, iter_frames, photo

# The project's shared test media sit beside a source checkout (../shared/media from its root);
# LIVEGAZE_MEDIA points elsewhere. Found from this file, not the current folder, so the same
# command measures the same faces wherever it is run.
MEDIA_ENV = "LIVEGAZE_MEDIA"
# Camera-facing photos in the shared media (its README); obama2 looks away for real.
FACING = ("obama.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg")
LOOKING_AWAY = ("obama2.jpg",)
# Look-away moves made from camera-facing photos (eye widths; +x image right, +y down): down at
# a screen below the camera, sideways, and both.
AVERSIONS = ((0.0, 0.1), (0.12, 0.0), (-0.1, 0.08))


@dataclass
class Sample:
    """One test image: what goes in, and where known, what a camera-facing result looks like."""

    name: str
    image: np.ndarray
    truth: np.ndarray | None = None
    kind: str = "photo"  # photo (averted with known truth), facing (already looks at the camera), real, clip
    gaze: tuple[float, float] | None = None  # the irises' known move from the truth (eye widths, image axes)
    source: str = "your media"  # the media set it comes from (the report lists them)


def shared_media_dir() -> str | None:
    """The shared test media folder: $LIVEGAZE_MEDIA, else ../shared/media beside the source
    checkout this package runs from; None when neither is there."""
    given = os.environ.get(MEDIA_ENV)
    if given:
        return given if os.path.isdir(given) else None
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    folder = os.path.join(os.path.dirname(root), "shared", "media")
    return folder if os.path.isdir(folder) else None


def describe_media(samples: list[Sample]) -> str:
    """'packaged photos: 2 photos; shared media (/x/shared/media): 5 photos; generated clip: 6 frames'."""
    counts: dict[str, set] = {}
    for s in samples:
        counts.setdefault(s.source, set()).add(s.name.split(" ")[0] if s.kind != "clip" else s.name)
    return "; ".join(f"{source}: {len(names)} {'frames' if source == 'generated clip' else 'pictures'}"
                     for source, names in counts.items())


def avert(image: np.ndarray, face: FaceLandmarks, gaze: tuple[float, float]) -> np.ndarray:
    """The image with both irises moved by `gaze` eye widths (cut and pasted, lids untouched)."""
    out = image
    for eye in range(2):
        centre, radius = face.iris(eye)
        out = move_iris(out, face.eye_contour(eye), centre, radius,
                        centre + np.float32(gaze) * face.eye_size(eye)[0])
    return out


def default_samples(landmarker: Landmarker, clip_frames: int = 6) -> list[Sample]:
    """The project's test media: the packaged photos and ../shared/media (when present), each
    camera-facing photo as it is and turned away by known moves, the real look-away photo, and
    frames of a generated clip with head motion and sensor noise."""
    photos = {name: (photo(name), "packaged photos") for name in PHOTOS}
    shared = shared_media_dir()
    for file in FACING + LOOKING_AWAY if shared else ():
        image = cv2.imread(os.path.join(shared, file))
        if image is not None:
            photos[os.path.splitext(file)[0]] = (image, f"shared media ({shared})")
    samples = []
    for name, (image, source) in photos.items():
        if name + ".jpg" in LOOKING_AWAY:
            samples.append(Sample(name, image, kind="real", source=source))
            continue
        face = landmarker.detect(image)
        if face is None:
            continue
        samples.append(Sample(f"{name} (facing)", image, truth=image, kind="facing", source=source))
        for gaze in AVERSIONS:
            samples.append(Sample(f"{name} {gaze[0]:+.2f},{gaze[1]:+.2f}", avert(image, face, gaze), truth=image,
                                  gaze=gaze, source=source))
    # The same clip looking into the camera (same motion, same noise) is each frame's truth.
    spec = ClipSpec(frames=clip_frames * 5, photos=PHOTOS, motion="wander", gaze=(0.08, 0.12), noise=4.0, seed=3)
    facing = iter_frames(ClipSpec(**{**spec.__dict__, "gaze": (0.0, 0.0), "transforms": []}))
    for i, ((frame, name, _, _), (truth, _, _, _)) in enumerate(zip(iter_frames(spec), facing)):
        if i % 5 == 0:
            samples.append(Sample(f"clip {name} frame {i}", frame, truth=truth, kind="clip", gaze=spec.gaze,
                                  source="generated clip"))
    return samples


def file_samples(paths: list[str], frames_per_video: int = 8) -> list[Sample]:
    """User media: images as they are, videos as evenly spaced frames (no truth for either)."""
    samples = []
    from livegaze.capture import IMAGE_EXTENSIONS, check_pixels, load_image_bgr
    from livegaze.quiet import native_output_silenced

    for path in paths:
        if os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS:  # size checked before decoding
            samples.append(Sample(os.path.basename(path), load_image_bgr(path), kind="real"))
            continue
        with native_output_silenced():  # FFmpeg's own lines about a damaged file
            cap = cv2.VideoCapture(path)
        if cap.isOpened() and cap.get(cv2.CAP_PROP_FRAME_WIDTH) * cap.get(cv2.CAP_PROP_FRAME_HEIGHT) > 0:
            try:
                check_pixels(int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), path)
            except Exception:
                cap.release()
                raise
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        if count <= 0:
            cap.release()
            raise ValueError(f"{path}: neither an image nor a video OpenCV can read")
        for k in np.linspace(0, count - 1, min(frames_per_video, count)).astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(k))
            ok, frame = cap.read()
            if ok:
                samples.append(Sample(f"{os.path.basename(path)} frame {k}", frame, kind="clip"))
        cap.release()
    return samples


@dataclass
class EyeMeasure:
    """One eye of one image: iris offsets from the camera-facing position (eye widths), the
    iris estimate's centre and radius (pixels), and iris-to-sclera contrast (grey levels).
    The photos here keep their size and framing from input to output, so pixel positions
    compare across them."""

    offset_mp: float
    offset_img: float
    centre: np.ndarray
    radius: float
    contrast: float
    mp_centre: np.ndarray  # MediaPipe's iris point
    width: float  # the eye's width (pixels)


FINE_WIDTH = 120  # pixels per eye width the disk search runs at: a step of about 1% of the eye


def darkest_disk(gray: np.ndarray, contour: np.ndarray, radius: float) -> tuple[np.ndarray, float] | None:
    """Centre of the darkest disk of `radius` inside the lids (only the visible part counts, and
    at least half of it must be visible), and its contrast against the rest of the opening
    (for positions; the report's contrast is `opening_spread`). A small eye is searched
    upsampled (bilinear, up to 4x) to about FINE_WIDTH pixels across: at whole pixels a webcam
    eye 30 pixels wide could only read a move in steps of 0.033 eye widths, and half a pixel
    read as a whole one."""
    scale = int(min(4, max(1, np.ceil(FINE_WIDTH / max(float(np.ptp(contour[:, 0])), 1.0)))))
    margin = radius + 2
    x0, y0 = np.floor(contour.min(0) - margin).astype(int)
    x1, y1 = np.ceil(contour.max(0) + margin).astype(int) + 1
    x0, y0 = max(x0, 0), max(y0, 0)
    roi = gray[y0:y1, x0:x1].astype(np.float32)
    if roi.size == 0:
        return None
    # Pixel centres: fine pixel j covers the roi's (j + 0.5) / scale - 0.5.
    roi = cv2.resize(roi, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR) if scale > 1 else roi
    lids = (contour - (x0, y0) + 0.5) * scale - 0.5
    mask = np.zeros(roi.shape, np.float32)
    cv2.fillPoly(mask, [np.round(lids).astype(np.int32)], 1.0)
    r = max(radius, 1.5) * scale
    half = int(np.ceil(r))
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    disk = (xx * xx + yy * yy <= r * r).astype(np.float32)
    seen = cv2.filter2D(mask, -1, disk, borderType=cv2.BORDER_CONSTANT)
    total = cv2.filter2D(roi * mask, -1, disk, borderType=cv2.BORDER_CONSTANT)
    mean = np.where(seen >= 0.5 * disk.sum(), total / np.maximum(seen, 1e-3), np.inf)
    mean[mask == 0] = np.inf
    if not np.isfinite(mean).any():
        return None
    iy, ix = np.unravel_index(int(np.argmin(mean)), mean.shape)
    inside = np.zeros(roi.shape, np.uint8)
    cv2.circle(inside, (int(ix), int(iy)), int(round(r)), 1, -1)
    iris = (inside > 0) & (mask > 0)
    sclera = (inside == 0) & (mask > 0)
    contrast = float(np.median(roi[sclera]) - np.median(roi[iris])) if sclera.sum() > 3 else 0.0
    return np.array([(ix + 0.5) / scale - 0.5 + x0, (iy + 0.5) / scale - 0.5 + y0], np.float32), contrast


def opening_spread(gray: np.ndarray, contour: np.ndarray) -> float:
    """Iris-to-sclera contrast without placing the iris: the 90th minus the 10th percentile of
    the grey levels inside the lids (a pale, washed-out iris lifts the dark end)."""
    x0, y0 = np.maximum(np.floor(contour.min(0)).astype(int), 0)
    x1, y1 = np.ceil(contour.max(0)).astype(int) + 1
    roi = gray[y0:y1, x0:x1]
    mask = np.zeros(roi.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(contour - (x0, y0)).astype(np.int32)], 1)
    values = roi[mask > 0]
    return float(np.percentile(values, 90) - np.percentile(values, 10)) if values.size > 8 else 0.0


def face_box(face: FaceLandmarks, shape: tuple[int, ...], margin: float = 0.4) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): a face's landmarks' box grown by `margin` of its size on every side,
    inside the image. Each face of a group photo is measured in its own box, alone."""
    lo, hi = face.points[:, :2].min(0), face.points[:, :2].max(0)
    pad = margin * float((hi - lo).max())
    x0, y0 = np.maximum(np.floor(lo - pad).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(hi + pad).astype(int), (shape[1], shape[0]))
    return int(x0), int(y0), int(x1), int(y1)


def measure(image: np.ndarray, landmarker: Landmarker, truth: list[EyeMeasure] | None = None,
            box: tuple[int, int, int, int] | None = None) -> list[EyeMeasure] | None:
    """Both eyes of one face, measured on this image alone (None: no face): the largest face,
    or with `box`, the face nearest the box's centre, found in the box alone (positions are
    then the box's own). Offsets are from the camera-facing position: with a known truth (the
    untouched camera-facing photo, measured in the same box), where each measure puts the
    truth's iris, so the measure's own bias cancels; without one, the camera-facing target
    computed from this image's landmarks."""
    if box is not None:
        x0, y0, x1, y1 = box
        image = image[y0:y1, x0:x1]
    faces = landmarker.detect_all(image)
    if not faces:
        return None
    if box is None:
        face = max(faces, key=FaceLandmarks.area)
    else:
        middle = np.array([image.shape[1], image.shape[0]], np.float32) / 2
        face = min(faces, key=lambda f: float(np.linalg.norm(f.points[:, :2].mean(0) - middle)))
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    out = []
    for eye in range(2):
        width = face.eye_size(eye)[0]
        centre, radius = face.iris(eye)
        found = darkest_disk(gray, face.eye_contour(eye), radius)
        disk_centre = found[0] if found is not None else centre
        contrast = opening_spread(gray, face.eye_contour(eye))
        if truth is None:
            mp_target = img_target = camera_facing_target(face, eye)
        else:
            mp_target, img_target = truth[eye].mp_centre, truth[eye].centre
        out.append(EyeMeasure(offset_mp=float(np.linalg.norm(centre - mp_target) / width),
                              offset_img=float(np.linalg.norm(disk_centre - img_target) / width),
                              centre=disk_centre, radius=radius, contrast=contrast, mp_centre=centre,
                              width=float(width)))
    return out


def reading_errors(before: list[EyeMeasure], truth: list[EyeMeasure], gaze) -> list[tuple[float, float]]:
    """Per eye, how far each measure's reading of a known move is from the move (eye widths):
    (MediaPipe, image estimate). `before` is measured on the look-away input, `truth` on the
    untouched photo, and the irises were moved by `gaze`: what the report's offsets can resolve."""
    move = np.asarray(gaze, np.float64)
    return [(float(np.linalg.norm((b.mp_centre - t.mp_centre) / b.width - move)),
             float(np.linalg.norm((b.centre - t.centre) / b.width - move))) for b, t in zip(before, truth)]


def far_changes(before: np.ndarray, after: np.ndarray, faces: list[FaceLandmarks]) -> list[int]:
    """Per face: the pixels changed more than one eye width from every face's eye openings,
    each counted for the face whose eyes are nearest."""
    if not faces:
        return []
    near = np.zeros(before.shape[:2], np.uint8)
    h, w = near.shape
    for face in faces:
        width = int(np.ceil(max(face.eye_size(0)[0], face.eye_size(1)[0])))
        eyes = np.zeros_like(near)
        for eye in range(2):
            cv2.fillPoly(eyes, [np.round(face.eye_contour(eye)).astype(np.int32)], 1)
        # Grown only around this face's eyes (a full-size dilation per face costs a group photo dear).
        lo = np.maximum(np.floor(face.points[:, :2].min(0)).astype(int) - width - 1, 0)
        hi = np.minimum(np.ceil(face.points[:, :2].max(0)).astype(int) + width + 2, (w, h))
        window = (slice(lo[1], hi[1]), slice(lo[0], hi[0]))
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
        grown = cv2.dilate(eyes[window], disk)
        near[window] |= grown
    ys, xs = np.nonzero(np.any(before != after, axis=2) & (near == 0))
    counts = [0] * len(faces)
    if len(xs):
        mids = np.array([(f.eye_centre(0) + f.eye_centre(1)) / 2 for f in faces])
        nearest = np.argmin(np.hypot(xs[:, None] - mids[None, :, 0], ys[:, None] - mids[None, :, 1]), axis=1)
        counts = np.bincount(nearest, minlength=len(faces)).astype(int).tolist()
    return counts


@dataclass
class Row:
    """One sample through one corrector."""

    sample: str
    kind: str
    corrector: str
    status: str
    ms: float
    before: list[EyeMeasure] | None
    after: list[EyeMeasure] | None
    truth: list[EyeMeasure] | None
    far_pixels: int
    output: np.ndarray = field(repr=False, default=None)


def fresh_landmarker() -> Landmarker:
    """Image mode: every measured image stands alone (no tracking from the input to the output);
    several faces, so `measure` can pick the one in its box."""
    return Landmarker(LandmarkerConfig(still_images=True, num_faces=4, max_input_width=2048))
