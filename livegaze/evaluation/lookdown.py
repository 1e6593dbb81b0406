"""Screen-reading looks made from camera-facing photos, with the lids following the eyes.

A person reading a screen below the camera turns the eyes down; the upper lid follows the iris
(most of the way) and the lower lid a little. This module makes that look from a camera-facing
photo, so the photo itself is the truth, by a method that shares nothing with the warp
corrector's displacement field (livegaze.correctors.warpfield):

- the eyeball layer: the iris (found from MediaPipe's point, its radius checked on the limbus)
  is cut out, the opening behind it filled with sclera by inpainting, and the iris pasted back
  lower by the eyeball's turn: 0.4 x sin(angle) eye widths (DESIGN.md: the eyeball's radius is
  about 0.4 of the corner-to-corner width);
- the lid layer: a piecewise-affine mesh warp (one affine map per triangle of a mesh on the lid
  contour, rings of skin around it, and a fixed outer ring) that lowers the upper lid by
  `upper` of the iris's move and the lower lid by `lower`, pinned at the corners;
- the new opening shows the eyeball layer, everything else the lid layer, with a one-pixel
  feathered edge.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import cv2
import numpy as np

from livegaze.landmarks import EYE_CORNERS, FaceLandmarks

EYEBALL = 0.4  # eyeball radius over the eye's corner-to-corner width
UPPER_FOLLOW = 1.0  # the upper lid's drop over the iris's: about one to one in life (livegaze.lids)
LOWER_FOLLOW = 0.25  # the lower lid's (0.2-0.3)


@dataclass(frozen=True)
class EyeAxes:
    """An eye's corners-based frame: origin at the corners' midpoint, `across` from corner to
    corner, `down` perpendicular to it (towards the chin), `width` in pixels."""

    origin: np.ndarray
    across: np.ndarray
    down: np.ndarray
    width: float

    @staticmethod
    def of(face: FaceLandmarks, eye: int) -> EyeAxes:
        a, b = (face.points[i, :2].astype(np.float64) for i in EYE_CORNERS[eye])
        span = b - a
        width = float(np.hypot(*span))
        across = span / width
        down = np.array([-across[1], across[0]])
        if down[1] < 0:
            down = -down
        return EyeAxes((a + b) / 2, across, down, width)

    def along(self, points: np.ndarray) -> np.ndarray:
        """Position from one corner (0) to the other (1) of each point."""
        t = (np.asarray(points, np.float64) - self.origin) @ self.across / self.width + 0.5
        return np.clip(t, 0.0, 1.0)


def lid_moves(face: FaceLandmarks, eye: int, drop: float, upper: float = UPPER_FOLLOW,
              lower: float = LOWER_FOLLOW) -> tuple[np.ndarray, np.ndarray]:
    """(contour, its move in pixels): each lid point lowered by its lid's share of `drop`
    (pixels), most at mid-lid and none at the corners (they are tied to the skull)."""
    axes = EyeAxes.of(face, eye)
    contour = face.eye_contour(eye).astype(np.float64)
    profile = np.sin(np.pi * axes.along(contour)) ** 0.8
    share = np.where(np.arange(len(contour)) < 9, upper, lower)  # points 1-7 upper lid, 9-15 lower
    share[[0, 8]] = 0.0  # the corners
    return contour, (drop * share * profile)[:, None] * axes.down[None, :]


def _mesh(face: FaceLandmarks, eye: int, contour: np.ndarray, moves: np.ndarray):
    """Mesh points (source), their moves, for one eye: the lid contour, rings of skin above and
    below moving less the further they are from the lid margin, and a fixed outer ring."""
    axes = EyeAxes.of(face, eye)
    w = axes.width
    points, shifts = [contour], [moves]
    upper = np.arange(1, 8)
    lower = np.arange(9, 16)
    # The upper lid's skin (tarsal plate, then the fold) moves with the margin, fading upwards;
    # the cheek below the lower lid barely moves.
    for rows, away, keep in ((upper, -0.12, 0.8), (upper, -0.3, 0.35), (lower, 0.1, 0.45), (lower, 0.25, 0.1)):
        points.append(contour[rows] + away * w * axes.down)
        shifts.append(moves[rows] * keep)
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    reach = np.where(np.sin(angles) < 0, 0.65, 0.5)  # up (negative `down`) further than down
    ring = axes.origin + (np.cos(angles)[:, None] * 0.85 * w * axes.across
                          + (np.sin(angles) * reach)[:, None] * w * axes.down)
    points.append(ring)
    shifts.append(np.zeros_like(ring))
    return np.vstack(points), np.vstack(shifts)


def _triangles(points: np.ndarray) -> np.ndarray:
    from scipy.spatial import Delaunay

    return Delaunay(points).simplices


def piecewise_affine(image: np.ndarray, src: np.ndarray, dst: np.ndarray, box) -> np.ndarray:
    """The box of `image` warped so that mesh point src[i] lands on dst[i]: every pixel in a
    triangle of the moved mesh is sampled through that triangle's own affine map back to the
    source (pixels outside the mesh stay)."""
    x0, y0, x1, y1 = box
    roi = image[y0:y1, x0:x1]
    h, w = roi.shape[:2]
    tris = _triangles(dst)
    index = np.full((h, w), -1, np.int32)
    maps = np.zeros((len(tris), 2, 3), np.float64)
    offset = np.array([x0, y0], np.float64)
    for k, tri in enumerate(tris):
        d = (dst[tri] - offset).astype(np.float32)
        s = (src[tri] - offset).astype(np.float32)
        maps[k] = cv2.getAffineTransform(d, s)
        cv2.fillConvexPoly(index, np.round(d * 16).astype(np.int32), int(k), lineType=cv2.LINE_8, shift=4)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    inside = index >= 0
    m = maps[np.maximum(index, 0)]
    map_x = np.where(inside, m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2], xs).astype(np.float32)
    map_y = np.where(inside, m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2], ys).astype(np.float32)
    return cv2.remap(roi, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _fill(roi: np.ndarray, keep: np.ndarray, radius: float = 3.0) -> np.ndarray:
    """`roi` with every pixel outside `keep` inpainted from the kept ones (Telea)."""
    return cv2.inpaint(roi, (~keep).astype(np.uint8), radius, cv2.INPAINT_TELEA)


def limbus_radius(gray: np.ndarray, centre: np.ndarray, width: float, guess: float) -> float:
    """The iris radius where the grey level rises most steeply to the sides of the centre
    (the limbus, dark iris to bright sclera), searched within about a tenth of MediaPipe's `guess` (catchlights and lashes
    make false edges further off)."""
    angles = np.radians(np.r_[np.linspace(-35, 35, 8), np.linspace(145, 215, 8)])
    radii = np.arange(0.88 * guess, 1.15 * guess + 0.25, 0.25)
    if len(radii) < 3:
        return guess
    xs = centre[0] + np.cos(angles)[None, :] * radii[:, None]
    ys = centre[1] + np.sin(angles)[None, :] * radii[:, None]
    ring = cv2.remap(gray.astype(np.float32), xs.astype(np.float32), ys.astype(np.float32), cv2.INTER_LINEAR)
    profile = np.median(ring, axis=1)
    rise = np.gradient(profile)
    best = int(np.argmax(rise))
    return float(radii[best]) if rise[best] > 2.0 else guess


def look_down(image: np.ndarray, face: FaceLandmarks, degrees: float, upper: float = UPPER_FOLLOW,
              lower: float = LOWER_FOLLOW, aside: float = 0.0) -> np.ndarray:
    """The photo with both eyes turned `degrees` down (and `aside` eye widths towards the image's
    right), the upper lid lowered by `upper` of the iris's move and the lower lid by `lower`."""
    out = image.copy()
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    for eye in range(2):
        axes = EyeAxes.of(face, eye)
        w = axes.width
        drop = EYEBALL * math.sin(math.radians(degrees)) * w
        move = drop * axes.down + aside * w * axes.across
        contour, moves = lid_moves(face, eye, drop, upper, lower)
        src, shifts = _mesh(face, eye, contour, moves)
        dst = src + shifts
        lo = np.floor(np.minimum(src.min(0), dst.min(0))).astype(int) - 2
        hi = np.ceil(np.maximum(src.max(0), dst.max(0))).astype(int) + 3
        x0, y0 = np.maximum(lo, 0)
        x1, y1 = np.minimum(hi, (image.shape[1], image.shape[0]))
        box = (int(x0), int(y0), int(x1), int(y1))
        lids = piecewise_affine(out, src, dst, box)
        eyeball = _eyeball(out[y0:y1, x0:x1], gray[y0:y1, x0:x1], face, eye, move, (x0, y0), w)
        opening = _soft_polygon((contour + moves) - (x0, y0), lids.shape[:2])[..., None]
        out[y0:y1, x0:x1] = np.clip(eyeball * opening + lids * (1 - opening) + 0.5, 0, 255).astype(np.uint8)
    return out


def _soft_polygon(polygon: np.ndarray, shape) -> np.ndarray:
    """A polygon's coverage (0..1) with an anti-aliased, about one-pixel edge."""
    scale = 4
    big = np.zeros((shape[0] * scale, shape[1] * scale), np.uint8)
    cv2.fillPoly(big, [np.round((polygon + 0.5) * scale - 0.5).astype(np.int32)], 255)
    small = cv2.resize(big, (shape[1], shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    return cv2.GaussianBlur(small, (3, 3), 0.5)


def _eyeball(roi: np.ndarray, gray: np.ndarray, face: FaceLandmarks, eye: int, move: np.ndarray,
             origin, width: float) -> np.ndarray:
    """What the opening shows once the eye has turned (float32 BGR over the box): the sclera
    with the iris cut out and inpainted, the iris pasted back moved by `move` pixels."""
    h, w = roi.shape[:2]
    contour = face.eye_contour(eye).astype(np.float64) - origin
    centre, guess = face.iris(eye)
    centre = centre.astype(np.float64) - origin
    radius = limbus_radius(gray, centre, width, guess)
    opening = np.zeros((h, w), np.uint8)
    cv2.fillPoly(opening, [np.round(contour).astype(np.int32)], 1)
    seen = cv2.erode(opening, np.ones((3, 3), np.uint8)) > 0  # off the lid margin and lashes
    yy, xx = np.mgrid[0:h, 0:w]
    dist = np.hypot(xx - centre[0], yy - centre[1])
    iris_disk = dist <= radius * 1.05
    # Catchlights (reflections of lights on the cornea) barely follow a turn of the eye: where a
    # light reflects depends on the cornea's curvature, whose centre lies about half-way between
    # the eye's centre of rotation and the pupil. So they are lifted off the iris and moved by
    # half its move.
    levels = gray.astype(np.float32)
    sclera_level = float(np.median(levels[seen & ~iris_disk])) if (seen & ~iris_disk).sum() > 5 else 255.0
    iris_level = float(np.median(levels[seen & iris_disk])) if (seen & iris_disk).sum() > 5 else 0.0
    glint = seen & (dist <= radius * 0.95) & (levels > iris_level + 0.6 * max(sclera_level - iris_level, 20.0))
    glint = cv2.dilate(glint.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & iris_disk
    # The sclera: the opening without the iris (and its limbal shadow), filled outwards too, so the
    # strip the lower lid uncovers is eyeball, not skin.
    sclera = _fill(roi, seen & (dist > radius * 1.15), radius=max(2.0, 0.06 * width))
    # The iris: what the lids show, less the catchlights; a part the lids hide is taken from its
    # mirror image across the iris's horizontal diameter (an iris is about symmetric, and the
    # pupil stays in line), and what neither shows is inpainted from the iris's own pixels.
    known = seen & iris_disk & ~glint
    clean = _fill(roi, known, radius=max(2.0, 0.05 * width))
    mirror_y = (2 * centre[1] - yy).astype(np.float32)
    mirrored = cv2.remap(clean, xx.astype(np.float32), mirror_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mirror_known = cv2.remap(known.astype(np.uint8), xx.astype(np.float32), mirror_y, cv2.INTER_NEAREST,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    iris = np.where((known | ~mirror_known)[..., None], clean, mirrored)
    shifted = _translate(iris, move)
    moved = np.hypot(xx - centre[0] - move[0], yy - centre[1] - move[1])
    alpha = np.clip(radius * 1.05 - moved + 0.5, 0.0, 1.0)[..., None]  # a one-pixel soft limbus
    out = shifted.astype(np.float32) * alpha + sclera.astype(np.float32) * (1 - alpha)
    if glint.any():
        shine = _translate(np.where(glint[..., None], roi, 0), 0.5 * move).astype(np.float32)
        weight = _translate(glint.astype(np.float32), 0.5 * move)[..., None] * alpha
        out = out * (1 - weight) + shine * weight
    return out


def _translate(image: np.ndarray, move: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.warpAffine(image, np.float32([[1, 0, move[0]], [0, 1, move[1]]]), (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


# -- the faces, and clips of them ---------------------------------------------------------------


@dataclass
class FacingFace:
    """A camera-facing face cropped to head and shoulders, with its landmarks in the crop."""

    name: str
    image: np.ndarray
    face: FaceLandmarks


def facing_faces(landmarker, shared: str | None) -> list[FacingFace]:
    """Every camera-facing face of the test media: the packaged photos, and those of the
    shared media (livegaze.evaluation.quality.FACING) when the folder is there."""
    from livegaze.evaluation.clips import PHOTOS, head_box, photo
    from livegaze.evaluation.quality import FACING

    pictures = [(name, photo(name)) for name in PHOTOS]
    for file in FACING if shared else ():
        image = cv2.imread(os.path.join(shared, file))
        if image is not None:
            pictures.append((os.path.splitext(file)[0], image))
    out = []
    for name, image in pictures:
        face = landmarker.detect(image)
        if face is None:
            continue
        x0, y0, x1, y1 = head_box(face, image.shape)
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        found = landmarker.detect(crop)  # the crop's own landmarks (as the look is built on them)
        if found is not None:
            out.append(FacingFace(name, crop, found))
    return out


@dataclass
class ClipPlan:
    """A generated clip: per frame the look-down angle (degrees; None: eyes shut, a blink)."""

    angles: list
    seed: int = 0
    noise: float = 3.0
    wander: float = 1.0  # head motion: the scale of the smooth random drift (pixels per frame)
    size: tuple[int, int] = (640, 480)
    face_height: float = 0.9


def frame_transform(src_shape, plan: ClipPlan, path: np.ndarray, i: int) -> np.ndarray:
    """Photo -> frame: the crop scaled to `face_height` of the frame, centred, drifted by the path."""
    w, h = plan.size
    scale = plan.face_height * h / src_shape[0]
    cx, cy = w / 2 + path[i, 0], h / 2 + path[i, 1]
    return np.array([[scale, 0, cx - scale * src_shape[1] / 2], [0, scale, cy - scale * src_shape[0] / 2]])


def clip_frames(person: FacingFace, plan: ClipPlan, looks: dict | None = None):
    """Yield (input frame, truth frame, transform) for each frame of the plan: the same head
    motion, lighting and sensor noise on both; the truth looks into the camera. looks caches
    the look-down photos by angle (they cost tens of ms each at full size)."""
    from livegaze.evaluation.temporal import shut_eyes

    looks = {} if looks is None else looks
    rng = np.random.default_rng(plan.seed)
    n = len(plan.angles)
    path = np.cumsum(rng.normal(0, plan.wander, size=(n, 2)), axis=0)
    if n > 9:
        path = cv2.GaussianBlur(path.astype(np.float32), (1, 9), 3).reshape(-1, 2)
    w, h = plan.size
    ramp = np.linspace(70, 130, w, dtype=np.float32)[None, :, None] * np.linspace(0.85, 1.1, h)[:, None, None]
    background = np.clip(ramp * np.array([1.0, 0.95, 0.9]), 0, 255).astype(np.uint8)
    scale = plan.face_height * h / person.image.shape[0]
    size = (max(1, round(person.image.shape[1] * scale)), max(1, round(person.image.shape[0] * scale)))
    resize = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    truth = cv2.resize(person.image, size, interpolation=resize)
    for i, angle in enumerate(plan.angles):
        key = "shut" if angle is None else round(float(angle), 3)
        if key not in looks:
            look = shut_eyes(person.image, person.face) if angle is None else \
                (person.image if angle == 0 else look_down(person.image, person.face, float(angle)))
            looks[key] = cv2.resize(look, size, interpolation=resize)
        m = frame_transform(person.image.shape, plan, path, i)
        shift = np.float64([[1, 0, m[0, 2]], [0, 1, m[1, 2]]])
        m[:, 2] += 0.5 * scale - 0.5  # resize's pixel centres, then the move
        pair = []
        noise = rng.normal(0, plan.noise, (h, w, 3)) if plan.noise else 0.0
        for src in (looks[key], truth):
            frame = cv2.warpAffine(src, shift, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT,
                                   dst=background.copy())
            pair.append(np.clip(frame + noise, 0, 255).astype(np.uint8))
        yield pair[0], pair[1], m
