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

from livegaze.calibration import DEFAULT_SHIFT
from livegaze.errors import LivegazeError
from livegaze.correctors.rims import RimFinder
from livegaze.correctors.warpfield import FieldShape, displacement_jacobian, eye_field
from livegaze.gazetarget import TURN_GAIN, WARP_NEUTRAL, camera_facing_target
from livegaze.irisfit import IrisFinder, IrisFit, IrisFitConfig, eye_frame
from livegaze.landmarks import EYE_CORNERS, FaceLandmarks
from livegaze.smoothing import OneEuro


# MediaPipe's iris point follows only part of a vertical move of the iris, and the fit keeps its
# vertical (livegaze.irisfit): on six camera-facing photos with the irises moved down by 0.06 and
# 0.10 eye widths it read 22-46% of the move (median about 40%), the same whether the lids stayed
# where they were (a cut and paste) or followed the iris (the warp itself, run downwards). So a
# measured lift (the eyes on a screen below the camera, the common case) is scaled up by this
# much: 2, not 2.5, so that a face whose move is read at up to half is not lifted past the
# camera. A measured drop is not: a camera below the screen is rare, and a doubled error there
# (MediaPipe's vertical can be wrong, not only short, as behind Grace Hopper's glasses) would
# turn a face's eyes down, away from the viewer.
VERTICAL_GAIN = 2.0


@dataclass
class WarpConfig:
    """offset: extra (dx, dy) of the target in eye widths (a manual nudge); turn_gain: the target's
    shift per unit sine of the head's yaw (see camera_facing_target; 0 turns it off); neutral:
    where a camera-facing iris sits from the corners' midpoint (x temporal, y down, eye widths);
    vertical_gain: how much more than measured the iris is lifted (see VERTICAL_GAIN);
    max_shift: the largest move, in eye widths; min_openness: eyes more closed than this are not
    measured; grid: field samples per eye width; rim_check: keep the field off long straight
    edges (glasses rims) in the region it moves, so they do not bend."""

    offset: tuple[float, float] = (0.0, 0.0)
    turn_gain: float = TURN_GAIN
    neutral: tuple[float, float] = WARP_NEUTRAL
    vertical_gain: float = VERTICAL_GAIN
    max_shift: float = 0.2
    min_openness: float = 0.15
    grid: int = 40
    rim_check: bool = True
    rim_refresh: int = 3  # in a stream, look for rims every this many frames (carried between)
    mode: str = "lock"  # lock: the gaze onto the camera; shift: move by `shift` (see calibration)
    shift: tuple[float, float] = DEFAULT_SHIFT  # shift mode: the screen-to-camera move, eye widths
    bias: tuple[float, float] = (0.0, 0.0)  # lock mode: the measured move while looking at the camera
    smooth_cutoff: float = 1.0  # One Euro filter on the move: Hz for a still face (0 = off)
    smooth_beta: float = 2.0  # how fast the cutoff rises when the move changes (per eye width/s)
    hold_frames: int = 6  # frames the last move is kept when the iris is briefly not found
    fade: float = 0.3  # in a stream, seconds the move takes to ease out after those, and back in
    cap_rise: float = 0.12  # in a stream, how fast a capped move may grow back (eye widths per second)
    follow_settle: float = 0.5  # seconds a lower lid that took a larger share takes to return to its usual one
    hold_margin: float = 0.1  # in a stream, a move made in full is kept down to this much below the fold limit
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
    made: np.ndarray | None = None  # the move the field made at the iris, eye widths (None: not warped)


class WarpCorrector:
    """Moves both irises toward the camera-facing position by warping the frame."""

    name = "warp"
    handles_strength = True
    space = "frame"  # works on the frame itself (see Corrector)
    geometry = None  # nothing to align
    concurrency = 1  # one stream: the move is smoothed from frame to frame

    def __init__(self, config: WarpConfig | None = None, **options):
        self.config = config or WarpConfig(**options)
        if self.config.mode not in ("lock", "shift"):
            raise LivegazeError(f"--mode {self.config.mode}: expected lock or shift")
        self.finder = IrisFinder(self.config.iris)
        self.rims = RimFinder(self.config.rim_refresh)
        self.last_plans: list[EyePlan | None] = []
        self.last_move = np.zeros(2)
        self.last_refusal = ""  # why the last frame was left alone, when it was
        self.last_measured: np.ndarray | None = None  # the raw move measured on the last frame
        self._smooth = OneEuro(self.config.smooth_cutoff, self.config.smooth_beta)
        self._last_t: float | None = None
        self._held = 0  # frames since the iris was last found
        self._presence = 0.0  # share of the move given while the iris comes and goes (see _smoothed)
        self._last: np.ndarray | None = None  # the last measured move, smoothed
        self._calls = 0  # frames seen since the last reset
        self._rim_keeps: dict = {}  # (eye, box) -> this frame's rim attenuation (see _eye_field)
        self._leading_eye = 0  # the eye whose field is built first (see _same_move)
        # A stream's memory of the eye's limits (see _steady): the capped move's size, per axis,
        # and each lower lid's share of the lift, as the last frame made them.
        self._allowance: np.ndarray | None = None
        self._follow: list[float | None] = [None, None]
        self._made_full = False  # the last frame made the whole move it was asked
        self._dt = 1 / 30

    def plan(self, image: np.ndarray, face: FaceLandmarks) -> list[EyePlan | None]:
        """Per eye: the refined iris and the move it needs (None for an eye too small to work
        on; no fit for a closed one: nothing of the iris to measure)."""
        cfg = self.config
        plans: list[EyePlan | None] = []
        for eye in range(2):
            corners = face.points[list(EYE_CORNERS[eye]), :2]
            to_local, width = eye_frame(corners)
            if width < 6:
                plans.append(None)
                continue
            closed = face.openness(eye) < cfg.min_openness
            fit = None if closed else self.finder.fit_eye(image, face, eye)
            target = camera_facing_target(face, eye, cfg.neutral, np.asarray(cfg.offset), frame=(to_local, width),
                                          turn_gain=cfg.turn_gain)
            need = np.zeros(2)
            if fit is not None:
                need = (to_local[:, :2] @ (target - fit.centre)).astype(np.float64)
                if need[1] < 0:  # a lift (the camera above the screen): see VERTICAL_GAIN
                    need[1] *= cfg.vertical_gain
            plans.append(EyePlan(fit, target.astype(np.float32), need, to_local, width))
        return plans

    def reset(self) -> None:
        """Forget the stream's past (a new face, a new photo)."""
        self._smooth.reset()
        self.rims.reset()
        self._leading_eye = 0
        self._last_t = None
        self._held = 0
        self._presence = 0.0
        self._calls = 0
        self._last = None
        self._allowance = None
        self._follow = [None, None]
        self._made_full = False

    def _smoothed(self, move: np.ndarray | None, t: float | None) -> np.ndarray | None:
        """The move, smoothed over frames (t: capture time in seconds; None: 30 fps steps). With
        no measurement, the last smoothed move is held for a few frames, then eased out over
        `fade` seconds; after such a gap it eases back in. In a dim, noisy frame the iris is
        found on some frames only (obama3.jpg darkened: one frame in 60), and switching the
        whole move on and off with it made the eyes jump. The first frame after a reset (a
        photo, a new stream) gets the whole move at once."""
        cfg = self.config
        dt = 1 / 30 if t is None or self._last_t is None else max(t - self._last_t, 1e-3)
        self._last_t = t
        self._dt = dt
        first = self._calls == 0
        self._calls += 1
        step = dt / max(cfg.fade, 1e-3)
        if move is None:
            self._held += 1
            if self._last is None:
                return None
            if self._held > cfg.hold_frames:
                self._presence = max(self._presence - step, 0.0)
            return self._last * self._presence if self._presence > 0 else None
        self._held = 0
        self._presence = 1.0 if first else min(self._presence + step, 1.0)
        self._last = move if cfg.smooth_cutoff <= 0 else self._smooth(move, dt)
        return self._last * self._presence

    def correct_frame(self, image: np.ndarray, face: FaceLandmarks, strength: float,
                      out: np.ndarray | None = None, t: float | None = None) -> bool:
        """Warp the eyes of `image` into `out` (default: in place). True when anything moved.
        Successive calls are taken as one stream (the move is smoothed); `reset()` between
        unrelated images."""
        out = image if out is None else out
        self.last_plans, self.last_move, self.last_refusal = [], np.zeros(2), ""
        self.last_measured = None
        self._rim_keeps = {}
        if strength <= 0 or face is None:
            return False
        plans = self.plan(image, face)
        self.last_plans = plans
        if any(p is None for p in plans):
            self.last_refusal = "eye_too_small"
            return False
        closed = any(face.openness(eye) < self.config.min_openness for eye in range(2))
        # A closing eye is not measured: in a stream the last move is held while the gate eases
        # the strength out (no jump); with no history both eyes are left alone.
        found = [] if closed else [p for p in plans if p.fit is not None]
        if all(p.fit.sides == 1 for p in found):
            # One limbus edge and MediaPipe's radius: enough to weigh in beside a fully seen iris,
            # not to move the eyes alone (a shadowed sclera beside the iris reads as no sclera).
            found = []
        measured = None
        if found:
            weights = np.array([p.fit.confidence for p in found])
            measured = np.sum([p.need * c for p, c in zip(found, weights)], axis=0) / weights.sum()
        self.last_measured = measured  # what calibration collects
        wanted = None
        if measured is not None:
            cfg = self.config
            # shift: the user's own eye movements stay, offset by the screen-to-camera move;
            # lock: this frame's measurement, less what it reads while looking at the camera.
            wanted = np.asarray(cfg.shift, np.float64) if cfg.mode == "shift" else measured - np.asarray(cfg.bias)
        move = self._smoothed(wanted, t)
        if move is None:
            self.last_refusal = "eye_closed" if closed else "iris_not_found"
            return False
        move = move * min(max(float(strength), 0.0), 1.0)
        norm = float(np.hypot(*move))
        if norm > self.config.max_shift:
            move *= self.config.max_shift / norm
        if norm * min(p.width for p in plans) < 0.2:
            return False  # under a fifth of a pixel: nothing to see
        move, fields = self._steady(image, face, plans, move)
        for p, f in zip(plans, fields):
            p.made = np.zeros(2) if f is None else move * f[4]
        moved = remap_eyes(image, out, fields)
        self.last_move = move
        return moved

    def warp_by(self, image: np.ndarray, face: FaceLandmarks, move, out: np.ndarray | None = None) -> np.ndarray:
        """Warp both eyes of `image` into `out` (default: in place) by `move` (eye widths, eye-local
        x right, y down) as correct_frame warps by a move it has decided: nothing measured, the
        iris placed by its fit or else MediaPipe's point, the same limits. Returns the move made
        (less than asked where an eye cannot give it; zeros where nothing moved)."""
        out = image if out is None else out
        self._rim_keeps = {}
        plans = self.plan(image, face)
        move = np.asarray(move, np.float64)
        norm = float(np.hypot(*move))
        if any(p is None for p in plans) or norm * min(p.width for p in plans) < 0.2:
            return np.zeros(2)
        if norm > self.config.max_shift:
            move = move * (self.config.max_shift / norm)
        move, fields = self._steady(image, face, plans, move)
        return move if remap_eyes(image, out, fields) else np.zeros(2)

    def _steady(self, image: np.ndarray, face: FaceLandmarks, plans: list[EyePlan], move: np.ndarray):
        """`_same_move`, kept steady over a stream. The largest move an eye can give, and whether
        its lower lid must take a larger share, are decided afresh each frame from landmarks
        that jitter: at the limit the made lift jumped between 0.08 and 0.056 on 24 of 60 frames
        of a still, noisy face (obama_partial_face.jpg at 640 pixels; the fold measure's own
        frame-to-frame change there was up to 0.14). So the limit has hysteresis: a move made in
        full on the last frame is kept down to `hold_margin` below the fold limit (still well
        clear of a fold); a capped move grows back at `cap_rise` at most, on the full limit (it
        still drops at once); and a lower lid that took the larger share returns to its usual
        one over `follow_settle` seconds."""
        cfg = self.config
        usual = cfg.shape.lower_follow
        settle = (cfg.shape.lower_follow_low_iris - usual) * self._dt / max(cfg.follow_settle, 1e-3)
        follow = [None if f is None or f - settle <= usual else f - settle for f in self._follow]
        hold = cfg.shape.min_jacobian - cfg.hold_margin
        asked = move
        if self._allowance is None:
            move, fields = self._same_move(image, face, plans, move, follow, hold if self._made_full else None)
        else:
            # Growing back is judged on the full limit; if it cannot, what was held is kept on
            # the held one (else each failed try would drop the move a little further).
            held = np.clip(move, -self._allowance, self._allowance)
            grown = self._allowance + cfg.cap_rise * self._dt
            move, fields = self._same_move(image, face, plans, np.clip(move, -grown, grown), follow)
            if np.any(np.abs(move) < np.abs(held) - 1e-6):
                move, fields = self._same_move(image, face, plans, held, follow, hold)
        capped = bool(np.any(np.abs(move) < np.abs(asked) - 1e-6))
        self._allowance = np.abs(move) if capped else None
        self._made_full = not capped and any(f is not None for f in fields)
        self._follow = [None if f is None or f[5] is None or f[5] <= usual else f[5] for f in fields]
        return move, fields

    def _same_move(self, image: np.ndarray, face: FaceLandmarks, plans: list[EyePlan], move: np.ndarray,
                   follow=(None, None), least: float | None = None):
        """(move, per-eye fields) with both eyes making the same move. The eyes turn together:
        when one eye's field had to be scaled down (a move that eye cannot give, a rim it must
        keep still), both take the smaller move, or they would look two ways. An eye off the
        image has no field and does not hold the other back.

        Each field is built for the move it makes (a field scaled down afterwards would leave the
        iris's plateau where the larger move put it, and the iris would lag: a third of the
        move on obama.jpg). So one eye is built first, the other for what the first can give,
        and the first again only if the second gives less. The first is the eye that held the
        move back on the last frame: in a stream (a rim beside one eye, one narrower eye) the
        same eye usually does, and then two fields are built, not three. follow, least: each eye's
        lower-lid share to start from and the fold limit (see _steady; None: the shape's)."""
        first = self._leading_eye
        second = 1 - first
        whole = np.ones(2)
        asked = float(np.hypot(*move))
        fields: list = [None, None]
        fields[first] = self._eye_field(image, face, first, plans[first], move, follow[first], least)
        share = whole if fields[first] is None else fields[first][4]
        if np.hypot(*(move * share)) <= 0.05 * asked:
            return move * share, [None, None]
        fields[second] = self._eye_field(image, face, second, plans[second], move * share, follow[second], least)
        if fields[first] is not None:
            fields[first] = (*fields[first][:4], whole, fields[first][5])  # its share is now the common move
        move = move * share
        if fields[second] is None or fields[second][4].min() >= 0.97:
            return move, fields
        # The second eye gives less still: it sets the move, and the first is built again for it.
        share = fields[second][4]
        self._leading_eye = second
        if np.hypot(*(move * share)) <= 0.05 * asked:
            return move * share, [None, None]
        move = move * share
        fields[second] = (*fields[second][:4], whole, fields[second][5])
        if fields[first] is not None:
            fields[first] = self._eye_field(image, face, first, plans[first], move, follow[first], least)
        return move, fields

    def _eye_field(self, image: np.ndarray, face: FaceLandmarks, eye: int, plan: EyePlan,
                   move: np.ndarray, follow: float | None = None, least: float | None = None):
        """((x0, y0, x1, y1), dx, dy, moving, share, lower_follow): the frame-pixel displacement of
        one eye over its box, the share (x, y) of `move` it makes (below 1 where the eye cannot
        give it all; 0, with no displacement, where it can give none) and the lower lid's share
        of the lift it was built with (see eye_field), or None for an eye off the image."""
        cfg = self.config
        shape = cfg.shape
        to_local, width = plan.to_local, plan.width
        contour = face.eye_contour(eye) @ to_local[:, :2].T + to_local[:, 2]
        # An eye without a clear fit follows the other one from MediaPipe's iris (eyes turn together;
        # placing it by the other eye's need instead was tried: no closer on moved irises).
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
        u, v = us[None, :], vs[:, None]  # the grid, broadcast (the field's weights fill it out)
        # Frame box of the support.
        inv = cv2.invertAffineTransform(to_local)
        corners = np.array([[u0, v0], [u1, v0], [u0, v1], [u1, v1]]) @ inv[:, :2].T + inv[:, 2]
        h, w = image.shape[:2]
        x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + 1, (w, h))
        if x1 - x0 < 3 or y1 - y0 < 3:
            return None
        box = (int(x0), int(y0), int(x1), int(y1))
        du, dv, share, follow = eye_field(u, v, contour, iris, radius, move, shape, step, follow, least)
        if not (np.any(du) or np.any(dv)):
            return box, None, None, None, np.zeros(2), None
        # The field at each frame pixel of the box: box pixel -> field grid is affine, so one
        # warpAffine samples it (bilinear).
        to_grid = to_local / step
        to_grid[:, 2] += to_grid[:, :2] @ np.array([x0, y0], np.float64) - np.array([u0, v0]) / step
        field = cv2.merge([du.astype(np.float32), dv.astype(np.float32)])
        local = cv2.warpAffine(field, to_grid, (int(x1 - x0), int(y1 - y0)),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)
        # Eye-local displacement -> frame pixels (the frame's axes are the inverse's columns).
        dx = (inv[0, 0] * local[..., 0] + inv[0, 1] * local[..., 1])
        dy = (inv[1, 0] * local[..., 0] + inv[1, 1] * local[..., 1])
        if cfg.rim_check:
            # Once per eye and frame: a field rebuilt for a smaller move (see _same_move) keeps
            # off the same rims (and does not use up the frames the rims are carried for).
            key = (eye, box)
            if key not in self._rim_keeps:
                lids = face.eye_contour(eye)
                self._rim_keeps[key] = self.rims.keep_off(image, box, dx, dy, lids, width, eye, to_local)
            keep = self._rim_keeps[key]
            if keep is not None:
                dx, dy = dx * keep, dy * keep
                # The fade adds its own gradient: shrink the field until the map is fold-free
                # (in small steps, on this frame's limit: see _steady).
                least = cfg.shape.min_jacobian if least is None else least
                for _ in range(12):  # down to 0.85 ** 12 = 0.14 of the move; past that, none
                    if displacement_jacobian(dx, dy) >= least:
                        break
                    dx, dy, share = dx * 0.85, dy * 0.85, share * 0.85
                else:
                    dx, dy, share = dx * 0.0, dy * 0.0, share * 0.0
        moving = (np.abs(dx) > 1e-3) | (np.abs(dy) > 1e-3)
        if not moving.any():
            return box, None, None, None, np.zeros(2), None
        return box, dx.astype(np.float32), dy.astype(np.float32), moving, share, follow

    def close(self) -> None:
        pass


def remap_eyes(image: np.ndarray, out: np.ndarray, fields) -> bool:
    """Each eye's box of `out` from `image` through its field (as `WarpCorrector._eye_field` gives
    them); True when any eye moved."""
    fields = [f for f in fields if f is not None and f[4].any()]
    for box, dx, dy, moving, *_ in fields:
        x0, y0, x1, y1 = box
        source = image[y0:y1, x0:x1].copy() if out is image else image[y0:y1, x0:x1]
        map_x = np.arange(x1 - x0, dtype=np.float32)[None, :] - dx
        map_y = np.arange(y1 - y0, dtype=np.float32)[:, None] - dy
        warped = cv2.remap(source, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        np.copyto(out[y0:y1, x0:x1], warped, where=moving[..., None])
    return bool(fields)
