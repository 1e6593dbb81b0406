"""Following a face between runs of the face model, so the model runs on a fraction of the frames.

The face model (MediaPipe FaceLandmarker) is most of what a live frame costs the CPU. Between
two frames a face mostly moves as a whole: a few well-textured points (eye corners, brows, the
nose) are tracked with pyramidal Lucas-Kanade optical flow from the last model frame, a
similarity transform (shift, turn, scale) is fitted to them, and the model's landmarks are moved
by it. The model runs again when that would be wrong:

- the eyes moved on their own: an iris or a lid point is off the face's motion by more than
  `OWN_MOTION` eye widths, or its patch no longer looks like it did (a blink, a gaze shift);
  then the model also runs on the next `every - 1` frames, while the blink or look goes on;
- the flow is unsure: too few points tracked, or the fit leaves them scattered;
- the head turns or nods: the face is squeezed more one way than the other (`MAX_SQUEEZE`),
  which a shift, turn and scale cannot follow and the gate must see;
- the face moved far from where the model saw it (more than `MAX_TRAVEL` eye widths);
- `every` frames have passed (the model's blink and pose scores are refreshed at least that often).

With no face in view for `IDLE_AFTER` frames (an empty room, not a missed detection), the model
looks again every `every` frames (an idle rate), not every frame.
Everything here works on a grey copy of the region around the eyes, scaled so an eye is about
`EYE_PX` pixels wide: the cost is the same for a 480p and a 1080p frame.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from livegaze.landmarks import FaceLandmarks

# Points that move with the skull: eye corners, brows, nose bridge and wings (MediaPipe indices).
RIGID = (33, 133, 362, 263, 70, 105, 107, 300, 334, 336, 168, 6, 197, 1, 98, 327)
# Points that move on their own when the eyes do: iris centres, then the lids at mid-eye.
IRISES = (468, 473)
LIDS = (159, 145, 386, 374)

EYE_PX = 32.0  # eye width in the working image: enough for the flow's 1/10-pixel precision
OWN_MOTION = 0.05  # eye widths an iris or lid may move apart from the face before the model runs
MAX_TRAVEL = 0.6  # eye widths the face may travel from where the model saw it
MIN_RIGID = 8  # tracked skull points needed for a trustworthy fit
# A face narrower (or shorter) by this share against its other direction: a frontal head turned
# or nodded about 10 degrees (1 - cos), an already turned one by less.
MAX_SQUEEZE = 0.015
PATCH_CHANGE = 2.5  # an eye point's patch error over the skull points' (a blink or a new gaze)
FIT_STILL = 0.02  # eye widths: an iris this close to the face's motion keeps the model frame's fit
PATCH_FLOOR = 6.0  # grey levels: below this a patch error is sensor noise, whatever the ratio
IDLE_AFTER = 15  # frames without a face before the idle rate: a face missed for a frame or two is
                 # looked for again at once, or its correction would fade for nothing
_LK = dict(winSize=(15, 15), maxLevel=2, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))


@dataclass
class _Key:
    """What the model saw last: its face, the working region and its grey image and points."""

    face: FaceLandmarks
    origin: np.ndarray  # top-left of the region in frame pixels
    scale: float  # working pixels per frame pixel
    size: tuple[int, int]  # region (width, height) in frame pixels
    grey: np.ndarray
    points: np.ndarray  # RIGID + IRISES + LIDS in working pixels
    eye_width: float  # in working pixels
    last: np.ndarray  # the points where the flow last found them (its next starting guess)


class FaceFollower:
    """`follow(image)` returns the face moved into this frame, or None when the model must run
    (then `keyframe(image, face)` with what it found). One stream, frames in order."""

    def __init__(self, every: int):
        self.every = max(1, int(every))
        self._key: _Key | None = None
        self._since = 0  # frames since the model last ran
        self._ran_once = False
        self._empty = 0  # model runs in a row that found no face
        # Frames left on which the model runs because the eyes were moving on their own: a blink
        # or a look lasts several frames, and the model may misjudge its first one (then every
        # frame followed from that one would carry the mistake).
        self._eyes_busy = 0
        self.eyes_moving = False  # the model must run because the eyes are moving on their own

    def reset(self) -> None:
        self._key, self._since, self._ran_once, self._empty, self._eyes_busy = None, 0, False, 0, 0

    def follow(self, image: np.ndarray) -> tuple[bool, FaceLandmarks | None]:
        """(followed, face): followed is False when the model must run on this frame; with no
        face in view, (True, None) on the frames the idle rate skips."""
        self.eyes_moving = self._eyes_busy > 0
        if self._eyes_busy > 0:
            self._eyes_busy -= 1
            return False, None
        if self._since + 1 >= self.every or not self._ran_once:
            return False, None
        if self._key is None:
            if self._empty < IDLE_AFTER:  # a face just lost: look for it on every frame
                return False, None
            self._since += 1  # nobody in view: look again every `every` frames
            return True, None
        face = self._moved(image)
        if face is None:
            return False, None
        self._since += 1
        return True, face

    def keyframe(self, image: np.ndarray, face: FaceLandmarks | None) -> None:
        """What the model found on this frame (None: no face): the next frames follow from it."""
        self._since, self._ran_once = 0, True
        self._empty = self._empty + 1 if face is None else 0
        self._key = None if face is None else self._make_key(image, face)

    def _make_key(self, image: np.ndarray, face: FaceLandmarks) -> _Key | None:
        width = max(face.eye_size(0)[0], face.eye_size(1)[0], 1.0)
        pts = face.points[list(RIGID + IRISES + LIDS), :2].astype(np.float64)
        margin = width * (MAX_TRAVEL + 0.5)  # room for the travel allowed plus the flow's window
        h, w = image.shape[:2]
        # A whole-number shrink (1/2, 1/3, ...): an area resize by one is ten times cheaper than by
        # any other factor, and the eye's width in the working image stays within 1.5x of EYE_PX.
        factor = max(1, round(width / EYE_PX))
        x0, y0 = np.maximum(np.floor(pts.min(0) - margin), 0).astype(int)
        x1, y1 = np.minimum(np.ceil(pts.max(0) + margin), (w, h)).astype(int)
        x1, y1 = x0 + (x1 - x0) // factor * factor, y0 + (y1 - y0) // factor * factor
        if x1 - x0 < 8 * factor or y1 - y0 < 8 * factor:
            return None
        scale = 1.0 / factor
        grey = self._grey(image, (x0, y0), (x1 - x0, y1 - y0), scale)
        work = ((pts - (x0, y0)) * scale).astype(np.float32)
        return _Key(face, np.array([x0, y0], np.float64), scale, (x1 - x0, y1 - y0), grey, work,
                    width * scale, work.copy())

    @staticmethod
    def _grey(image: np.ndarray, origin, size, scale: float) -> np.ndarray:
        x0, y0 = origin
        crop = image[y0:y0 + size[1], x0:x0 + size[0]]
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, (round(size[0] * scale), round(size[1] * scale)), interpolation=cv2.INTER_AREA)
        return grey

    def _moved(self, image: np.ndarray) -> FaceLandmarks | None:
        key = self._key
        grey = self._grey(image, key.origin.astype(int), key.size, key.scale)
        if grey.shape != key.grey.shape:
            return None
        found, status, err = cv2.calcOpticalFlowPyrLK(key.grey, grey, key.points, key.last.copy(),
                                                      flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **_LK)
        ok = status.ravel() == 1
        err = err.ravel()
        n = len(RIGID)
        rigid = np.flatnonzero(ok[:n])
        if not ok[n:].all():  # an iris or lid gone from view: most likely a blink
            self._eyes_busy, self.eyes_moving = self.every - 1, True
            return None
        if len(rigid) < MIN_RIGID:
            return None
        fit, inliers = cv2.estimateAffinePartial2D(key.points[rigid], found[rigid], method=cv2.RANSAC,
                                                   ransacReprojThreshold=0.1 * key.eye_width)
        if fit is None or int(inliers.sum()) < MIN_RIGID:
            return None
        full, _ = cv2.estimateAffine2D(key.points[rigid], found[rigid], method=cv2.RANSAC,
                                       ransacReprojThreshold=0.1 * key.eye_width)
        if full is None:
            return None
        stretch = np.linalg.svd(full[:, :2], compute_uv=False)
        if stretch[0] / stretch[1] - 1 > MAX_SQUEEZE:
            return None
        travel = np.abs(fit[:, 2] + (fit[:, :2] - np.eye(2)) @ key.points[:n].mean(0))
        if travel.max() > MAX_TRAVEL * key.eye_width:
            return None
        # The eyes' own motion: where the flow found each iris and lid point against where the
        # face's motion alone would put it. Lid points slide along the lid's edge freely (the
        # flow cannot see that), so only their height counts.
        eyes = key.points[n:]
        own = found[n:] - (eyes @ fit[:, :2].T + fit[:, 2])
        own[len(IRISES):, 0] = 0.0
        noise = float(np.median(err[rigid[inliers.ravel() == 1]]))
        if (np.hypot(own[:, 0], own[:, 1]).max() > OWN_MOTION * key.eye_width
                or err[n:].max() > max(PATCH_FLOOR, PATCH_CHANGE * noise)):
            self._eyes_busy, self.eyes_moving = self.every - 1, True
            return None
        key.last = found
        still = np.hypot(own[:2, 0], own[:2, 1]) <= FIT_STILL * key.eye_width
        return self._apply(key, fit, image, (bool(still[0]), bool(still[1])))

    @staticmethod
    def _apply(key: _Key, fit: np.ndarray, image: np.ndarray, still: tuple[bool, bool]) -> FaceLandmarks:
        """The model's landmarks moved by a working-space similarity, in frame pixels; the irises
        the image showed on the model frame move with them where the eye kept still."""
        s, o = key.scale, key.origin
        a = fit[:, :2]
        frame_fit = np.hstack([a, (fit[:, 2] / s + o - a @ o)[:, None]])  # the same motion, frame pixels
        pts = key.face.points.copy()
        pts[:, :2] = pts[:, :2].astype(np.float64) @ a.T + frame_fit[:, 2]
        size = float(np.sqrt(abs(np.linalg.det(a))))
        pts[:, 2] *= size  # depth scales with the face
        face = FaceLandmarks(pts, dict(key.face.blendshapes), key.face.pose)
        face.iris_fits = MovedFits(key.face.iris_fits, image, frame_fit, size, still)
        return face


class MovedFits(dict):
    """A followed face's image-checked irises (livegaze.irisfit.IrisFinder.fit_eye's cache): the
    model frame's fits moved with the face, for an eye that kept still against it (within
    FIT_STILL eye widths) and whose iris the model frame showed whole, instead of fitting the
    iris again. Looked up when first asked for, by
    which time the model frame's own fits are made (its gate ran first: stages keep frame order)."""

    def __init__(self, source: dict, image: np.ndarray, motion: np.ndarray, size: float, still: tuple[bool, bool]):
        super().__init__()
        self._source, self._image, self._motion, self._size, self._still = source, image, motion, size, still

    def __contains__(self, key) -> bool:
        if dict.__contains__(self, key):
            return True
        eye, image_id, config = key
        if image_id != id(self._image) or not self._still[eye]:
            return False
        for (e, _, c), (_, fit) in list(self._source.items()):
            # An iris the model frame showed only in part (no fit, or one edge) is fitted again:
            # this frame's noise and light may show it whole.
            if e == eye and c == config and fit is not None and fit.sides == 2:
                centre = (self._motion[:, :2] @ fit.centre + self._motion[:, 2]).astype(np.float32)
                self[key] = (self._image, dataclasses.replace(fit, centre=centre, radius=fit.radius * self._size))
                return True
        return False
