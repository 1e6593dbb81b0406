"""`livegaze photo` writes what came in: 16-bit stays 16-bit, grey stays grey, alpha is kept
untouched; only the eyes change (real CLI in a subprocess, on a real face photo)."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.livegaze.conftest import averted


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formats")
    face = averted("astronaut")
    h, w = face.shape[:2]
    alpha = np.tile(np.linspace(30, 255, w).astype(np.uint8), (h, 1))  # a gradient: any change shows
    inputs = {
        "deep.png": face.astype(np.uint16) * 256 + 77,  # low bits that an 8-bit round trip would lose
        "grey.png": cv2.cvtColor(face, cv2.COLOR_BGR2GRAY),
        "cutout.png": np.dstack([face, alpha]),
    }
    for name, image in inputs.items():
        assert cv2.imwrite(str(folder / name), image)
    out = folder / "out"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-m", "livegaze", "photo", *(str(folder / n) for n in inputs),
                           "-o", str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return inputs, out, done.stdout


@pytest.mark.parametrize("name", ["deep.png", "grey.png", "cutout.png"])
def test_a_photo_keeps_its_depth_channels_and_alpha(results, name):
    inputs, out, stdout = results
    original = inputs[name]
    written = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
    assert f"{name}: face 1 corrected" in stdout
    assert written.dtype == original.dtype and written.shape == original.shape
    if name == "cutout.png":
        assert np.array_equal(written[..., 3], original[..., 3])
    changed = np.any((written != original).reshape(original.shape[0], original.shape[1], -1), axis=2)
    assert changed.sum() > 50  # the eyes moved
    rows = np.nonzero(changed.any(axis=1))[0]
    h = original.shape[0]
    assert rows.max() - rows.min() < h * 0.1 and rows.min() > h * 0.1  # and only the eyes' band did


def test_a_16_bit_photo_keeps_its_fine_steps_away_from_the_eyes(results):
    inputs, out, _ = results
    written = cv2.imread(str(out / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(written[:40], inputs["deep.png"][:40])
    assert np.all(written[:40] % 256 == 77)
