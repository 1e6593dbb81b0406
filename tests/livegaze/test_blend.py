"""livegaze.blend: only the eye boxes change, in proportion to the strength."""
import numpy as np

from livegaze.align import Aligner
from livegaze.blend import Blender


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
