"""livegaze.align: faces into the model's square space with its own eye boxes, and back."""
import numpy as np

from livegaze.align import Aligner
from training.geometry import EyeGeometry, apply_affine, invert_affine, similarity_from_eyes


def test_similarity_maps_eyes_exactly_and_inverts():
    src = np.array([[100.0, 200.0], [180.0, 190.0]])
    dst = EyeGeometry().eye_points().astype(np.float64)
    m = similarity_from_eyes(src, dst)
    assert np.allclose(apply_affine(m, src), dst, atol=1e-4)
    pts = np.random.default_rng(0).uniform(0, 500, (20, 2))
    assert np.allclose(apply_affine(invert_affine(m), apply_affine(m, pts)), pts, atol=1e-3)


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
