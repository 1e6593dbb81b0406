"""Writing pictures for people: side-by-side videos and contact sheets (atomic writes)."""
from __future__ import annotations

import logging
import os
import tempfile

import cv2
import numpy as np

from livegaze.errors import LivegazeError

log = logging.getLogger(__name__)


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(out, text, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.hstack([label(before, "before"), label(after, "after")])


def write_image(path: str, image: np.ndarray) -> None:
    """Encode then rename into place, so a failed write leaves nothing behind."""
    ext = os.path.splitext(path)[1] or ".png"
    ok, data = cv2.imencode(ext, image)
    if not ok:
        raise LivegazeError(f"{path}: cannot encode image as {ext}")
    write_bytes(path, data.tobytes())


TEMP_PREFIX = ".livegaze-"


def temp_beside(path: str) -> tuple[int, str]:
    """(fd, name) of a new hidden file beside `path`, named with this process's id so a later
    run can tell a dead run's leftovers from a live one's; stale ones there are removed first."""
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temps(folder)
    return tempfile.mkstemp(dir=folder, prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=os.path.splitext(path)[1])


def remove_stale_temps(folder: str) -> list[str]:
    """Remove hidden temp files in `folder` that provably belong to a dead livegaze run: our
    prefix with a process id that no longer exists, owned by this user. Returns what went."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(TEMP_PREFIX):
            continue
        pid = name[len(TEMP_PREFIX):].split("-", 1)[0]
        path = os.path.join(folder, name)
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that process is alive: its file is in use
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # alive, someone else's
        try:
            if os.stat(path).st_uid == os.getuid():
                os.unlink(path)
                removed.append(path)
                log.info("removed %s, left by an interrupted run (process %s)", path, pid)
        except OSError:
            pass
    return removed


def write_bytes(path: str, data: bytes) -> None:
    """Write to a hidden temporary file beside `path`, then rename it into place. The file gets
    the mode the user's umask gives a new file (mkstemp alone would leave it 0600)."""
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def umask_mode(path: str) -> None:
    """Give a file made by mkstemp (0600) the mode the user's umask gives a new file."""
    os.chmod(path, 0o666 & ~_umask())


def eye_zoom(image: np.ndarray, centres: np.ndarray, scale: int = 4) -> np.ndarray:
    """A strip around both eyes, enlarged, for judging the correction up close."""
    c = np.asarray(centres, np.float32)
    span = float(np.linalg.norm(c[1] - c[0]))
    mid = c.mean(0)
    half_w, half_h = span * 0.95, span * 0.32
    x0, y0 = int(max(mid[0] - half_w, 0)), int(max(mid[1] - half_h, 0))
    x1 = int(min(mid[0] + half_w, image.shape[1]))
    y1 = int(min(mid[1] + half_h, image.shape[0]))
    crop = image[y0:y1, x0:x1]
    return cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)


def contact_sheet(pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]], width: int = 960) -> np.ndarray:
    """Rows of (before | after) with an eye close-up under each; pairs hold (before, after, eye centres)."""
    rows = []
    for before, after, centres in pairs:
        row = side_by_side(before, after)
        row = cv2.resize(row, (width, int(row.shape[0] * width / row.shape[1])))
        rows.append(row)
        if centres is not None:
            zoom = np.hstack([eye_zoom(before, centres), eye_zoom(after, centres)])
            rows.append(cv2.resize(zoom, (width, int(zoom.shape[0] * width / zoom.shape[1]))))
        rows.append(np.full((6, width, 3), 255, np.uint8))
    return np.vstack(rows)


def save_figure(fig, path: str) -> str:
    """A matplotlib figure as a PNG, written atomically; the figure is closed."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_bytes(path, buffer.getvalue())
    return path
