"""Moving an iris inside its eye opening: the pixel operation behind the geometric corrector.

The iris and pupil are lifted out of the eye (their lid-covered part filled in from the visible
part), the hole left behind is filled with the eye's own sclera colour, and the iris is put back
at its new centre, clipped by the user's own eyelids.
"""
from __future__ import annotations

import cv2
import numpy as np


def _disk(shape: tuple[int, int], centre: np.ndarray, radius: float, soft: float = 0.0) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    dist = np.sqrt((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2)
    if soft <= 0:
        return (dist <= radius).astype(np.float32)
    return np.clip((radius + soft / 2 - dist) / soft, 0.0, 1.0)


def move_iris(image: np.ndarray, contour: np.ndarray, centre: np.ndarray, radius: float,
              new_centre: np.ndarray, feather: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """Return `image` with the iris at `centre` moved to `new_centre`, written into `out` (which
    may be `image` itself) or into a copy.

    contour: eyelid polygon (N, 2); centre/new_centre: (x, y); radius: iris radius; all in the
    image's pixel coordinates. Only pixels inside the eye opening change.
    """
    if out is None:
        out = image.copy()
    contour = np.asarray(contour, np.float32)
    centre = np.asarray(centre, np.float32)
    new_centre = np.asarray(new_centre, np.float32)
    radius = float(max(radius, 1.5))
    pad = int(np.ceil(radius * 1.4)) + 3
    lo = np.floor(np.minimum(contour.min(0), np.minimum(centre, new_centre) - radius)).astype(int) - pad
    hi = np.ceil(np.maximum(contour.max(0), np.maximum(centre, new_centre) + radius)).astype(int) + pad
    h, w = image.shape[:2]
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], w), min(hi[1], h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return out
    roi = image[y0:y1, x0:x1].astype(np.float32)
    origin = np.array([x0, y0], np.float32)
    c, nc = centre - origin, new_centre - origin
    shape = roi.shape[:2]

    opening_u8 = np.zeros(shape, np.uint8)
    cv2.fillPoly(opening_u8, [np.round((contour - origin) * 4).astype(np.int32)], 1, cv2.LINE_AA, shift=2)
    opening = opening_u8.astype(bool)
    if opening.sum() < 6:
        return out
    iris_hard = _disk(shape, c, radius * 1.08) > 0
    visible_iris = iris_hard & opening
    sclera = opening & ~iris_hard
    # The sclera's own colour (its brighter half, to skip lashes and shadow) fills the old iris.
    if sclera.sum() >= 4:
        px = roi[sclera]
        lum = px.mean(1)
        sclera_colour = px[lum >= np.median(lum)].mean(0)
    else:
        sclera_colour = roi[opening].max(0) * 0.85
    filler = roi.copy()
    filler[~opening] = sclera_colour
    filler[iris_hard] = sclera_colour
    background = cv2.inpaint(np.clip(filler, 0, 255).astype(np.uint8),
                             (iris_hard & opening).astype(np.uint8), 2, cv2.INPAINT_TELEA).astype(np.float32)
    background = np.where(opening[..., None], background, roi)

    # Complete the iris where the lids hid it, from its visible pixels.
    iris_tex = roi.copy()
    if visible_iris.sum() >= 4:
        iris_tex[~visible_iris] = roi[visible_iris].mean(0)
        hidden = (iris_hard & ~opening).astype(np.uint8)
        if hidden.any():
            iris_tex = cv2.inpaint(np.clip(iris_tex, 0, 255).astype(np.uint8), hidden, 2,
                                   cv2.INPAINT_TELEA).astype(np.float32)
    shift = np.float32([[1, 0, nc[0] - c[0]], [0, 1, nc[1] - c[1]]])
    moved = cv2.warpAffine(iris_tex, shift, (shape[1], shape[0]), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    alpha = _disk(shape, nc, radius * 1.04, soft=feather)
    alpha *= cv2.GaussianBlur(opening.astype(np.float32), (3, 3), 0.6) * opening
    composed = background * (1 - alpha[..., None]) + moved * alpha[..., None]
    result = np.where(opening[..., None], composed, roi)
    out[y0:y1, x0:x1] = np.clip(np.rint(result), 0, 255).astype(np.uint8)
    return out
