import numpy as np
import pytest

from livegaze.align import Aligner
from training.geometry import EyeGeometry, apply_affine, invert_affine, similarity_from_eyes
from livegaze.blend import Blender
from livegaze.landmarks import Landmarker
from livegaze.synthetic import ClipSpec, iter_frames


def test_similarity_maps_eyes_exactly_and_inverts():
    src = np.array([[100.0, 200.0], [180.0, 190.0]])
    dst = EyeGeometry().eye_points().astype(np.float64)
    m = similarity_from_eyes(src, dst)
    assert np.allclose(apply_affine(m, src), dst, atol=1e-4)
    pts = np.random.default_rng(0).uniform(0, 500, (20, 2))
    assert np.allclose(apply_affine(invert_affine(m), apply_affine(m, pts)), pts, atol=1e-3)


@pytest.fixture(scope="module")
def aligned_inputs():
    out = []
    with Landmarker() as lm:
        for size in [(640, 480), (1280, 720), (322, 242)]:
            frame = next(iter_frames(ClipSpec(width=size[0], height=size[1], frames=1, gaze=(0, 0.2))))[0]
            out.append((frame, lm.detect(frame)))
    return out


def test_mask_and_crops_match_gazegan_inputs(aligned_inputs):
    frame, face = aligned_inputs[0]
    config = EyeGeometry(box_h=40, box_w=60)
    aligned = Aligner(config).align(frame, np.stack([face.eye_centre(0), face.eye_centre(1)]), face)
    assert aligned.image.shape == (256, 256, 3)
    mask = aligned.mask()
    assert mask.sum() == 2 * 40 * 60
    crops = aligned.crops(64)
    assert crops.shape == (2, 64, 64, 3)
    # landmarks mapped into aligned space land their eye centres on the fixed positions
    assert np.allclose(apply_affine(aligned.matrix, np.stack([face.eye_centre(0), face.eye_centre(1)])),
                       config.eye_points(), atol=1e-3)


def test_configurable_box_size():
    aligner = Aligner(EyeGeometry(box_h=30, box_w=50))
    assert all((x1 - x0, y1 - y0) == (50, 30) for x0, y0, x1, y1 in aligner.boxes)


def test_pixels_outside_eye_regions_are_bit_identical(aligned_inputs):
    rng = np.random.default_rng(0)
    for frame, face in aligned_inputs:
        aligned = Aligner().align(frame, np.stack([face.eye_centre(0), face.eye_centre(1)]), face)
        corrected = aligned.image.copy()
        for x0, y0, x1, y1 in aligned.boxes:  # change every pixel of both boxes
            corrected[y0:y1, x0:x1] = rng.integers(0, 256, (y1 - y0, x1 - x0, 3), dtype=np.uint8)
        blender = Blender()
        out = blender.blend(frame, aligned, corrected)
        region = blender.eye_region_mask(aligned, frame.shape)
        assert np.array_equal(out[~region], frame[~region]), frame.shape
        assert (out[region] != frame[region]).any()
        assert region.mean() < 0.1


def test_strength_zero_changes_nothing_and_half_is_between(aligned_inputs):
    frame, face = aligned_inputs[0]
    aligned = Aligner().align(frame, np.stack([face.eye_centre(0), face.eye_centre(1)]), face)
    corrected = np.zeros_like(aligned.image)
    blender = Blender()
    assert np.array_equal(blender.blend(frame, aligned, corrected, opacity=0.0), frame)
    full = blender.blend(frame, aligned, corrected, opacity=1.0).astype(int)
    half = blender.blend(frame, aligned, corrected, opacity=0.5).astype(int)
    changed = full != frame
    assert ((half[changed] >= np.minimum(full, frame)[changed]) &
            (half[changed] <= np.maximum(full, frame)[changed])).all()
