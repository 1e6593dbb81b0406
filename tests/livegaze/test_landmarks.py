import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from livegaze.landmarks import Landmarker, LandmarkerConfig
from livegaze.evaluation.clips import PHOTOS, photo


@pytest.fixture(scope="module")
def landmarker():
    with Landmarker() as lm:
        yield lm


@pytest.mark.parametrize("name", PHOTOS)
def test_real_model_on_real_photos(landmarker, name):
    image = photo(name)
    face = landmarker.detect(image)
    assert face is not None and face.points.shape == (478, 3)
    for eye in range(2):
        centre, radius = face.iris(eye)
        poly = face.eye_contour(eye).astype(np.float32)
        assert cv2.pointPolygonTest(poly, tuple(map(float, centre)), False) >= 0  # iris inside the eyelids
        width, _ = face.eye_size(eye)
        assert 0.1 * width < radius < 0.45 * width
        assert 0.15 < face.openness(eye) < 0.6
    # eye 0 is on the image's left
    assert face.eye_centre(0)[0] < face.eye_centre(1)[0]
    assert {"eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft"} <= set(face.blendshapes)
    assert face.pose.shape == (4, 4)
    yaw, pitch = face.head_angles()
    assert abs(yaw) < 30 and abs(pitch) < 30


def test_no_face_gives_none(landmarker):
    assert landmarker.detect(np.full((240, 320, 3), 128, np.uint8)) is None


def test_largest_of_several_faces_wins():
    from livegaze.evaluation.clips import averted_photo
    big = cv2.resize(averted_photo("astronaut", (0.0, 0.0))[0], (380, 380))
    small = cv2.resize(averted_photo("grace_hopper", (0.0, 0.0))[0], (220, 220))
    canvas = np.full((480, 800, 3), 90, np.uint8)
    canvas[50:50 + big.shape[0], 350:350 + big.shape[1]] = big
    canvas[100:100 + small.shape[0], 40:40 + small.shape[1]] = small
    with Landmarker() as lm:
        face = lm.detect(canvas)
    assert face is not None and face.eye_centre(0)[0] > 350  # the astronaut, not the small face


def test_timestamps_need_not_increase(landmarker):
    image = photo("astronaut")
    assert landmarker.detect(image, 10) is not None
    assert landmarker.detect(image, 5) is not None  # bumped internally instead of failing


def _damaged_copies(folder):
    """The packaged model cut short, and a zip holding the right names with garbage inside."""
    import zipfile

    from livegaze.model_files import MODEL_PARTS, _packaged_model

    good = _packaged_model().read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cut.task").write_bytes(good[: len(good) // 3])
    with zipfile.ZipFile(folder / "garbage.task", "w") as bundle:
        for part in MODEL_PARTS:
            bundle.writestr(part, b"not a flatbuffer")
    return folder / "cut.task", folder / "garbage.task"


@pytest.mark.parametrize("kind", [0, 1])
def test_a_damaged_cached_model_falls_back_to_the_packaged_copy(tmp_path, kind):
    """The cache wins over the packaged copy: a damaged one used to break every command with a
    raw MediaPipe traceback ("Unable to open zip archive")."""
    damaged = _damaged_copies(tmp_path / "made")[kind]
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "face_landmarker.task").write_bytes(damaged.read_bytes())
    env = dict(os.environ, LIVEGAZE_CACHE=str(cache))
    result = subprocess.run([sys.executable, "-m", "livegaze", "photo", photo_file(tmp_path), "-o",
                             str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    cached = cache / "face_landmarker.task"
    assert len(warnings) == 1
    assert warnings[0].startswith(f"livegaze: warning: {cached}: damaged face landmark model (")
    assert warnings[0].endswith("using the packaged copy (run `livegaze download-model` to replace it)")


def photo_file(folder) -> str:
    path = folder / "face.png"
    cv2.imwrite(str(path), photo(PHOTOS[0]))
    return str(path)


def test_a_damaged_model_without_a_packaged_copy_says_to_download(tmp_path, monkeypatch):
    from livegaze import model_files
    from livegaze.errors import LivegazeError

    cut, _ = _damaged_copies(tmp_path / "made")
    monkeypatch.setenv("LIVEGAZE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "face_landmarker.task").write_bytes(cut.read_bytes())
    monkeypatch.setattr(model_files, "_packaged_model", lambda: None)
    with pytest.raises(LivegazeError) as info:
        model_files.find_face_landmarker()
    assert "damaged face landmark model (" in str(info.value)
    assert str(info.value).endswith("run `livegaze download-model` to replace it")


@pytest.mark.parametrize("kind", [0, 1])
def test_a_damaged_model_named_by_the_user_is_one_line(tmp_path, kind):
    """--face-model names exactly this file: no fallback, one line instead of MediaPipe's traceback."""
    from livegaze.errors import LivegazeError

    damaged = _damaged_copies(tmp_path)[kind]
    with pytest.raises(LivegazeError) as info:
        Landmarker(LandmarkerConfig(model_path=str(damaged)))
    assert str(info.value).startswith(f"--face-model {damaged}: not a usable face landmark model (")


def test_one_face_in_view_is_tracked_by_the_one_face_model_and_a_larger_one_still_wins():
    """A person alone at the camera: the full model on the first call, then the one-face model,
    with a look for every face every SCAN_EVERY calls (the full model's detector runs on every
    frame while it tracks fewer faces than asked for). A larger face coming into view (someone
    closer to the camera) is returned from the next look for every face on, by either model."""
    from livegaze.evaluation.clips import averted_photo
    from livegaze.landmarks import SCAN_EVERY

    small = cv2.resize(averted_photo("grace_hopper", (0.0, 0.0))[0], (200, 200))
    big = cv2.resize(averted_photo("astronaut", (0.0, 0.0))[0], (400, 400))
    alone = np.full((480, 800, 3), 90, np.uint8)
    alone[140:340, 40:240] = small
    both = alone.copy()
    both[40:440, 360:760] = big
    with Landmarker() as lm:
        first_faces, looks, found = [], [], []
        for i in range(SCAN_EVERY + 3):
            first_faces.append(lm.detect(alone, i * 33))
            looks.append(lm.looked_for_all)
        for i in range(SCAN_EVERY + 3, 2 * SCAN_EVERY + 3):
            found.append(lm.detect(both, i * 33))
            looks.append(lm.looked_for_all)
    assert all(face is not None and face.eye_centre(0)[0] < 240 for face in first_faces)
    assert looks[:SCAN_EVERY + 3] == [True] + [False] * (SCAN_EVERY - 1) + [True, False, False]
    first = looks.index(True, SCAN_EVERY + 3)
    assert first <= 2 * SCAN_EVERY  # the next scan at the latest (sooner if the one-face model lost its face)
    assert all(face.eye_centre(0)[0] > 360 for face in found[first - SCAN_EVERY - 3:])  # the astronaut
