"""Writing pictures for people: side-by-side videos and contact sheets (atomic writes)."""
from __future__ import annotations

import math
import os

import cv2
import numpy as np

from livegaze.errors import LivegazeError
from training.atomic import write_bytes


def label(image: np.ndarray, text: str) -> np.ndarray:
    """A copy with `text` in its top-left corner, made smaller where it would run off the edge."""
    out = image.copy()
    size = 0.8
    width = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, 2)[0][0]
    if width > out.shape[1] - 20:
        size = max(0.35, size * (out.shape[1] - 20) / width)
    cv2.putText(out, text, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(out, text, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, size, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.hstack([label(before, "before"), label(after, "after")])


def write_image(path: str, image: np.ndarray) -> None:
    """Encode then rename into place, so a failed write leaves nothing behind."""
    ext = os.path.splitext(path)[1] or ".png"
    ok, data = cv2.imencode(ext, image)
    if not ok:
        raise LivegazeError(f"{path}: cannot encode image as {ext}")
    write_file(path, data.tobytes())


def write_file(path: str, data: bytes) -> None:
    """Replace `path` with `data` (training.atomic); a full disk or a folder that cannot be
    written is one line naming the file, and the old file stays."""
    try:
        write_bytes(path, data)
    except OSError as exc:
        raise LivegazeError(f"{path}: cannot write ({exc.strerror or exc}); "
                            f"{'the existing file is unchanged' if os.path.exists(path) else 'nothing was written'}"
                            ) from exc


def eye_zoom(image: np.ndarray, centres: np.ndarray, scale: int = 4) -> np.ndarray:
    """A strip around both eyes, enlarged, for judging the correction up close; turned so the
    eyes sit level (a tilted head keeps both in view). Past the image's edge it is black."""
    c = np.asarray(centres, np.float64)
    span = float(np.linalg.norm(c[1] - c[0]))
    mid = c.mean(0)
    angle = math.degrees(math.atan2(c[1, 1] - c[0, 1], c[1, 0] - c[0, 0]))
    if abs(angle) > 90:  # the eyes in either order: the strip is never turned upside down
        angle -= math.copysign(180, angle)
    out_w, out_h = max(1, int(round(2 * span * 0.95 * scale))), max(1, int(round(2 * span * 0.32 * scale)))
    m = cv2.getRotationMatrix2D((float(mid[0]), float(mid[1])), angle, float(scale))
    m[:, 2] += (out_w / 2 - mid[0], out_h / 2 - mid[1])
    return cv2.warpAffine(image, m, (out_w, out_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT)


def contact_sheet(pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]], width: int = 960,
                  captions: list[str] | None = None) -> np.ndarray:
    """Rows of (before | after) with an eye close-up under each; pairs hold (before, after, eye
    centres); each row's caption, if given, is written in a band above it."""
    rows = []
    for k, (before, after, centres) in enumerate(pairs):
        if captions:
            rows.append(caption_band(captions[k], width))
        row = side_by_side(before, after)
        row = cv2.resize(row, (width, int(row.shape[0] * width / row.shape[1])))
        rows.append(row)
        if centres is not None:
            zoom = np.hstack([eye_zoom(before, centres), eye_zoom(after, centres)])
            rows.append(cv2.resize(zoom, (width, int(zoom.shape[0] * width / zoom.shape[1]))))
        rows.append(np.full((6, width, 3), 255, np.uint8))
    return np.vstack(rows)


def caption_band(text: str, width: int) -> np.ndarray:
    """Dark text on a white band, one line per line of `text`."""
    lines = text.split("\n")
    band = np.full((12 + 24 * len(lines), width, 3), 255, np.uint8)
    for k, line in enumerate(lines):
        cv2.putText(band, line, (10, 28 + 24 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (20, 20, 20), 1, cv2.LINE_AA)
    return band


def save_figure(fig, path: str) -> str:
    """A matplotlib figure as a PNG, written atomically; the figure is closed."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_file(path, buffer.getvalue())
    return path
