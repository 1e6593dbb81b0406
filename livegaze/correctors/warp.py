"""The default corrector: the user's own eye, warped so the gaze meets the camera.

Per frame: find each iris in the image (livegaze.irisfit), work out how far it is from the
camera-facing position, and move it there with one smooth displacement field per eye
(livegaze.correctors.warpfield) applied by a single remap of the frame's own pixels. Nothing is
painted: the iris texture, catchlights, lashes and skin are the user's, only moved. Both eyes get
the same move (eyes rotate together), from the confidence-weighted mean of what each needs, so
one unclear eye still follows the clear one; with no clear iris nothing moves. Works on the frame
itself, not the aligned face, so a large portrait keeps its full resolution.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from livegaze.correctors.base import register
from livegaze.correctors.geometric import gaze_to_camera_offset, opening_centre
from livegaze.correctors.warpfield import FieldShape, eye_field
from livegaze.irisfit import IrisFinder, IrisFit, IrisFitConfig, eye_frame
from livegaze.landmarks import EYE_CORNERS, FaceLandmarks


@dataclass
class WarpConfig:
    """offset: extra (dx, dy) of the target in eye widths (per-user calibration); pose_gain:
    eyeball radius over eye width (iris travel per radian of gaze) for head-pose compensation,
    off by default: MediaPipe's pose on photos and off-centre faces is off by up to 15 degrees,
    which moved camera-facing test eyes by up to 0.1 eye widths; neutral: where a camera-facing
    iris sits from the opening's centroid (x temporal, y down; measured on 14 camera-facing
    eyes: the inner corner pulls the centroid nasally); max_shift: the largest move,
    in eye widths; min_openness: eyes more closed than this are left alone; grid: field samples
    per eye width; rim_check: leave the eyes alone when a long straight edge (a glasses rim)
    runs through the pixels the field moves (it would bend)."""

    offset: tuple[float, float] = (0.0, 0.0)
    pose_gain: float = 0.0
    neutral: tuple[float, float] = (0.04, -0.012)
    max_shift: float = 0.2
    min_openness: float = 0.15
    grid: int = 40
    rim_check: bool = True
    shape: FieldShape = field(default_factory=FieldShape)
    iris: IrisFitConfig = field(default_factory=IrisFitConfig)


@dataclass
class EyePlan:
    """What the corrector found and decided for one eye (the eval report reads these)."""

    fit: IrisFit | None
    target: np.ndarray  # camera-facing iris centre, frame pixels
    need: np.ndarray  # move to the target, eye widths, eye-local axes
    to_local: np.ndarray  # 2x3 frame -> eye-local
    width: float


class WarpCorrector:
    """Moves both irises toward the camera-facing position by warping the frame."""

    name = "warp"
    handles_strength = True
    space = "frame"  # works on the frame itself (see Corrector)

    def __init__(self, config: WarpConfig | None = None, **options):
        self.config = config or WarpConfig(**options)
        self.finder = IrisFinder(self.config.iris)
        self.last_plans: list[EyePlan | None] = []
        self.last_move = np.zeros(2)
        self.last_refusal = ""  # why the last frame was left alone, when it was

    def plan(self, image: np.ndarray, face: FaceLandmarks) -> list[EyePlan | None]:
        """Per eye: the refined iris and the move it needs (None for a closed eye)."""
        cfg = self.config
        gaze = gaze_to_camera_offset(face)
        plans: list[EyePlan | None] = []
        for eye in range(2):
            corners = face.points[list(EYE_CORNERS[eye]), :2]
            to_local, width = eye_frame(corners)
            if width < 6 or face.openness(eye) < cfg.min_openness:
                plans.append(None)
                continue
            contour = face.eye_contour(eye)
            prior, radius = face.iris(eye)
            fit = self.finder.fit(image, contour, corners, prior, radius)
            temporal = -1.0 if eye == 0 else 1.0  # eye 0 is the subject's right, on the image's left
            to_frame = cv2.invertAffineTransform(to_local)[:, :2]  # eye widths -> frame pixels
            neutral = to_frame @ np.array([temporal * cfg.neutral[0], cfg.neutral[1]])
            target = opening_centre(face.points, eye) + neutral + \
                (cfg.pose_gain * gaze + np.asarray(cfg.offset)) * width
            need = np.zeros(2)
            if fit is not None:
                need = (to_local[:, :2] @ (target - fit.centre)).astype(np.float64)
            plans.append(EyePlan(fit, target.astype(np.float32), need, to_local, width))
        return plans

    def correct_frame(self, image: np.ndarray, face: FaceLandmarks, strength: float,
                      out: np.ndarray | None = None) -> bool:
        """Warp the eyes of `image` into `out` (default: in place). True when anything moved."""
        out = image if out is None else out
        self.last_plans, self.last_move, self.last_refusal = [], np.zeros(2), ""
        if strength <= 0 or face is None:
            return False
        plans = self.plan(image, face)
        self.last_plans = plans
        found = [p for p in plans if p is not None and p.fit is not None]
        if any(p is None for p in plans):
            self.last_refusal = "eye_closed"  # a closed or blinking eye: leave both alone
            return False
        if not found:
            self.last_refusal = "iris_not_found"
            return False
        weights = np.array([p.fit.confidence for p in found])
        move = np.sum([p.need * c for p, c in zip(found, weights)], axis=0) / weights.sum()
        move = move * float(np.clip(strength, 0, 1))
        norm = float(np.hypot(*move))
        if norm > self.config.max_shift:
            move *= self.config.max_shift / norm
        if norm * min(p.width for p in plans) < 0.2:
            return False  # under a fifth of a pixel: nothing to see
        fields = [(self._eye_field(image, face, eye, p, move), face.eye_contour(eye), p.width)
                  for eye, p in enumerate(plans)]
        fields = [(f, contour, width) for f, contour, width in fields if f is not None]
        # A glasses rim through a moving region would bend: leave both eyes alone (one eye
        # corrected and the other not would look cross-eyed).
        if self.config.rim_check and any(self._rim_crosses(image, *f) for f in fields):
            self.last_refusal = "glasses_rim"
            return False
        for (box, dx, dy, moving), _, _ in fields:
            x0, y0, x1, y1 = box
            xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
            source = image[y0:y1, x0:x1].copy() if out is image else image[y0:y1, x0:x1]
            warped = cv2.remap(source, xs - x0 - dx, ys - y0 - dy, cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REFLECT)
            np.copyto(out[y0:y1, x0:x1], warped, where=moving[..., None])
        self.last_move = move
        return bool(fields)

    def _rim_crosses(self, image: np.ndarray, field, contour: np.ndarray, width: float) -> bool:
        """True when a long, strong straight edge (a glasses rim) runs through pixels the field
        moves by more than a third of a pixel, away from the lids (whose margins and creases are
        edges too, and move as a lid should)."""
        (x0, y0, x1, y1), dx, dy, _ = field
        strong = (dx * dx + dy * dy) > 0.1
        lids = np.zeros(strong.shape, np.uint8)
        cv2.fillPoly(lids, [np.round(contour - (x0, y0)).astype(np.int32)], 1)
        grow = max(3, int(round(0.14 * width)))
        lids = cv2.dilate(lids, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        strong &= lids == 0
        if not strong.any():
            return False
        gray = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
        edges = cv2.Canny(gray, 80, 200)
        edges[lids > 0] = 0
        # A rim is straight over most of the eye's width; brows and creases are curved or broken.
        length = max(int(0.85 * width), 10)
        lines = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=max(int(0.6 * length), 6),
                                minLineLength=length, maxLineGap=3)
        for xa, ya, xb, yb in ([] if lines is None else lines.reshape(-1, 4)):
            t = np.linspace(0, 1, 16)
            xs = np.clip(np.round(xa + t * (xb - xa)).astype(int), 0, strong.shape[1] - 1)
            ys = np.clip(np.round(ya + t * (yb - ya)).astype(int), 0, strong.shape[0] - 1)
            if strong[ys, xs].any():
                return True
        return False

    def _eye_field(self, image: np.ndarray, face: FaceLandmarks, eye: int, plan: EyePlan,
                   move: np.ndarray):
        """((x0, y0, x1, y1), dx, dy, moving): the frame-pixel displacement of one eye over its
        box, or None when nothing there moves."""
        cfg = self.config
        shape = cfg.shape
        to_local, width = plan.to_local, plan.width
        contour = face.eye_contour(eye) @ to_local[:, :2].T + to_local[:, 2]
        # An eye without a clear fit follows the other one from MediaPipe's iris (eyes turn together).
        iris_frame, radius = (plan.fit.centre, plan.fit.radius) if plan.fit is not None else face.iris(eye)
        radius /= width
        iris = to_local[:, :2] @ iris_frame + to_local[:, 2]
        # The field's support, eye-local: the opening plus the lid reaches, corners included.
        u0, u1 = contour[:, 0].min() - 0.05, contour[:, 0].max() + 0.05
        v0 = contour[:, 1].min() - shape.reach_up - 0.04
        v1 = contour[:, 1].max() + shape.reach_down + 0.04
        step = 1.0 / cfg.grid
        us = np.arange(u0, u1 + step, step, dtype=np.float32)
        vs = np.arange(v0, v1 + step, step, dtype=np.float32)
        u, v = np.meshgrid(us, vs)
        du, dv, _ = eye_field(u, v, contour, iris, radius, move, shape, step)
        if not (np.any(du) or np.any(dv)):
            return None
        # Frame box of the support.
        inv = cv2.invertAffineTransform(to_local)
        corners = np.array([[u0, v0], [u1, v0], [u0, v1], [u1, v1]]) @ inv[:, :2].T + inv[:, 2]
        h, w = image.shape[:2]
        x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + 1, (w, h))
        if x1 - x0 < 3 or y1 - y0 < 3:
            return None
        xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
        # Each frame pixel's place on the field grid, then the field there (bilinear).
        gu = ((to_local[0, 0] * xs + to_local[0, 1] * ys + to_local[0, 2] - u0) / step).astype(np.float32)
        gv = ((to_local[1, 0] * xs + to_local[1, 1] * ys + to_local[1, 2] - v0) / step).astype(np.float32)
        field = cv2.merge([du.astype(np.float32), dv.astype(np.float32)])
        local = cv2.remap(field, gu, gv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        # Eye-local displacement -> frame pixels (the frame's axes are the inverse's columns).
        dx = (inv[0, 0] * local[..., 0] + inv[0, 1] * local[..., 1])
        dy = (inv[1, 0] * local[..., 0] + inv[1, 1] * local[..., 1])
        moving = (np.abs(dx) > 1e-3) | (np.abs(dy) > 1e-3)
        if not moving.any():
            return None
        return (int(x0), int(y0), int(x1), int(y1)), dx.astype(np.float32), dy.astype(np.float32), moving

    def close(self) -> None:
        pass


register("warp", WarpCorrector)
