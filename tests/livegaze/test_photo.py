"""`livegaze photo` through the real CLI entry point, on real face photos."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from livegaze.cli import main
from tests.livegaze.conftest import averted as _averted
from livegaze.landmarks import Landmarker


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    a, b = _averted("astronaut"), _averted("grace_hopper")
    h = min(a.shape[0], b.shape[0])
    group = np.hstack([a[:h], b[:h]])  # two people in one picture
    cv2.imwrite(str(folder / "group.png"), group)
    cv2.imwrite(str(folder / "wall.jpg"), np.full((300, 400, 3), 180, np.uint8))
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    # A phone photo stored sideways with EXIF orientation 6 (displayed rotated 90 degrees clockwise).
    upright = cv2.cvtColor(_averted("astronaut"), cv2.COLOR_BGR2RGB)
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1)))
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(folder / "phone.jpg", exif=exif, quality=95)
    return folder, group


def test_every_face_corrected_bad_file_reported_others_written(inputs, tmp_path, capsys):
    folder, group = inputs
    out = tmp_path / "out"
    names = ["group.png", "broken.jpg", "wall.jpg", "phone.jpg"]
    rc = main(["photo", *[str(folder / n) for n in names], "--output-dir", str(out)])
    text = capsys.readouterr().out
    assert rc == 1  # one bad file: nonzero, after the others were written
    assert sorted(os.listdir(out)) == ["group.png", "phone.jpg", "wall.jpg"]  # nothing hidden left behind
    assert "broken.jpg: not an image OpenCV can read" in text
    assert "1 of 4 files failed" in text
    # Both people in the group photo were corrected, each in their own half.
    result = cv2.imread(str(out / "group.png"))
    assert result.shape == group.shape
    changed = np.any(result != group, axis=2)
    half = group.shape[1] // 2 - 10
    assert changed[:, :half].sum() > 50 and changed[:, half + 20:].sum() > 50
    assert "face 1 corrected" in text and "face 2 corrected" in text
    # No face: the very same bytes, and said so.
    assert (out / "wall.jpg").read_bytes() == (folder / "wall.jpg").read_bytes()
    assert "wall.jpg: no face found, written unchanged" in text


def test_exif_orientation_is_honoured(inputs, tmp_path, capsys):
    folder, _ = inputs
    out = tmp_path / "out"
    assert main(["photo", str(folder / "phone.jpg"), "-o", str(out)]) == 0
    assert "face 1 corrected" in capsys.readouterr().out
    result = cv2.imread(str(out / "phone.jpg"))
    # Stored upright: as tall as the displayed picture, with the face found the right way up.
    displayed = cv2.imread(str(folder / "phone.jpg"))
    assert result.shape == displayed.shape and result.shape[0] > 0
    with Landmarker() as lm:
        face = lm.detect(result, 0)
    assert face is not None and abs(face.head_angles()[0]) < 20


def test_output_dir_equal_to_input_folder_is_refused(inputs, capsys):
    folder, _ = inputs
    before = (folder / "group.png").read_bytes()
    assert main(["photo", str(folder / "group.png"), "-o", str(folder)]) == 1
    assert "would replace the original" in capsys.readouterr().out
    assert (folder / "group.png").read_bytes() == before


def test_results_follow_the_umask(inputs, tmp_path):
    folder, _ = inputs
    old = os.umask(0o022)
    try:
        assert main(["photo", str(folder / "wall.jpg"), "-o", str(tmp_path / "out")]) == 0
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / "out" / "wall.jpg").st_mode & 0o777) == 0o644
