"""livegaze.blend: only the eye boxes change, in proportion to the strength."""
import cv2
import numpy as np

from livegaze.align import Aligner
from livegaze.blend import BlendConfig, Blender, feathered_alpha


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


# A hand-made alignment: the aligned face is the frame shifted by whole pixels, so every
# expected output pixel below is worked out from the input images with plain arithmetic.
SHIFT = (90, 60)  # frame pixel = aligned pixel + SHIFT
BOXES = [(20, 40, 60, 70), (70, 40, 110, 70)]  # (x0, y0, x1, y1) in aligned pixels, x1/y1 excluded
SIZE = 128


def textured_frame(h=240, w=320):
    """Smooth, varied skin-like values in 60..200 per channel (no two channels alike)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    planes = [130 + 70 * np.sin(x / 17 + c) * np.cos(y / 23 - c) for c in range(3)]
    return np.clip(np.stack(planes, axis=2), 60, 200).astype(np.uint8)


def shifted_face(frame, shift=SHIFT):
    """AlignedFace whose aligned image is frame[sy:sy+SIZE, sx:sx+SIZE] (zeros off the frame)."""
    from livegaze.align import AlignedFace

    sx, sy = shift
    matrix = np.array([[1, 0, -sx], [0, 1, -sy]], np.float64)
    inverse = np.array([[1, 0, sx], [0, 1, sy]], np.float64)
    image = cv2.warpAffine(frame, matrix, (SIZE, SIZE), flags=cv2.INTER_NEAREST)
    centres = np.array([[(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] for b in BOXES], np.float32)
    return AlignedFace(image=image, matrix=matrix, inverse=inverse, eye_centres=centres, boxes=list(BOXES))


def in_frame(box, shift=SHIFT):
    x0, y0, x1, y1 = box
    return slice(y0 + shift[1], y1 + shift[1]), slice(x0 + shift[0], x1 + shift[0])


def inner(box, margin, shift=SHIFT):
    """The frame slices of the box shrunk by `margin` pixels on every side."""
    x0, y0, x1, y1 = box
    return in_frame((x0 + margin, y0 + margin, x1 - margin, y1 - margin), shift)


def test_a_changed_box_is_pasted_whole_inside_and_ramped_over_the_feather():
    """Inside a box, past the feather, the output is the corrected pixel; over the feather the
    weight rises from about 1/feather at the box's edge to 1; an unchanged box and everything
    outside the changed box keep the input bytes."""
    frame = textured_frame()
    face = shifted_face(frame)
    colour = np.array([200, 30, 90], np.uint8)
    corrected = face.image.copy()
    x0, y0, x1, y1 = BOXES[0]
    corrected[y0:y1, x0:x1] = colour
    feather = 6
    out = Blender(BlendConfig(feather=feather, colour_match=False)).blend(frame, face, corrected)

    assert (out[inner(BOXES[0], feather + 1)] == colour).all()
    outside = np.ones(frame.shape[:2], bool)
    outside[in_frame(BOXES[0])] = False
    assert np.array_equal(out[outside], frame[outside])  # the other box too: it did not change
    # The ramp along the middle of the top edge: weight (k+1)/feather, k pixels in from the edge.
    column = (x0 + x1) // 2 + SHIFT[0]
    for k in range(feather - 1):
        row = y0 + k + SHIFT[1]
        before, after = frame[row, column].astype(float), out[row, column].astype(float)
        weight = (after - before) / (colour - before)
        assert np.allclose(weight, (k + 1) / feather, atol=0.06), (k, weight)


def test_half_opacity_is_half_way_and_above_one_is_full():
    """opacity 0.5 moves each changed pixel half way from the input to the corrected value (to
    the nearest level); an opacity above 1 is full strength, below 0 is none."""
    frame = textured_frame()
    face = shifted_face(frame)
    corrected = face.image.copy()
    for x0, y0, x1, y1 in BOXES:
        corrected[y0:y1, x0:x1] = (20, 240, 128)
    blender = Blender(BlendConfig(colour_match=False))
    half = blender.blend(frame, face, corrected, opacity=0.5)
    for box in BOXES:
        before = frame[inner(box, 8)].astype(float)
        expected = before + 0.5 * (np.array([20, 240, 128]) - before)
        assert np.abs(half[inner(box, 8)] - expected).max() <= 0.5 + 1e-6
    assert np.array_equal(blender.blend(frame, face, corrected, opacity=1.5),
                          blender.blend(frame, face, corrected, opacity=1.0))
    assert np.array_equal(blender.blend(frame, face, corrected, opacity=-0.5), frame)


def band_and_core(box, width):
    """Bool masks (aligned pixels) of the box's outer `width` pixels and of the rest."""
    x0, y0, x1, y1 = box
    band = np.zeros((SIZE, SIZE), bool)
    band[y0:y1, x0:x1] = True
    core = np.zeros_like(band)
    core[y0 + width:y1 - width, x0 + width:x1 - width] = True
    return band & ~core, core


def test_colour_match_shifts_by_the_mean_difference_on_the_feather_band():
    """With colour_match the corrected eyes are shifted, per channel, by the original's mean minus
    the corrected mean measured on the feather band only (the box's outer `feather` pixels, where
    the weight is between 0 and 1); without it they are pasted as they are."""
    frame = textured_frame()
    face = shifted_face(frame)
    feather = 6
    corrected = face.image.astype(int)
    for box in BOXES:
        band, core = band_and_core(box, feather)
        corrected[band] += (40, 20, 30)
        corrected[core] += 10
    corrected = corrected.astype(np.uint8)
    core_pixels = [inner(box, feather + 2) for box in BOXES]

    matched = Blender(BlendConfig(feather=feather)).blend(frame, face, corrected)
    plain = Blender(BlendConfig(feather=feather, colour_match=False)).blend(frame, face, corrected)
    for where in core_pixels:
        assert np.array_equal(matched[where].astype(int), frame[where].astype(int) + (-30, -10, -20))
        assert np.array_equal(plain[where].astype(int), frame[where].astype(int) + 10)


def test_a_colour_shift_past_black_or_white_stops_there():
    """Colour matching can push a corrected value past 0 or 255: the output is clipped, not
    wrapped round."""
    frame = np.full((240, 320, 3), (20, 240, 128), np.uint8)
    face = shifted_face(frame)
    corrected = face.image.astype(int)
    band, core = band_and_core(BOXES[0], 6)
    corrected[band] += (60, -60, 0)
    corrected[core] += (1, -1, 1)  # the core changed too, by a level
    out = Blender(BlendConfig(feather=6)).blend(frame, face, corrected.astype(np.uint8))
    assert (out[inner(BOXES[0], 8)] == (0, 255, 129)).all()


def test_the_touched_region_is_the_boxes_mapped_back_plus_two_pixels_clipped_to_the_frame():
    """frame_region: the bounding box, in the frame, of both boxes' corners mapped back, 2 pixels
    wider each side, clipped to the frame; None when that is empty. A face past any edge leaves
    the frame as it was."""
    frame = textured_frame()
    blender = Blender()
    (x0, y0, _, _), (_, _, x1, y1) = BOXES
    assert blender.frame_region(shifted_face(frame), frame.shape) == (
        x0 + SHIFT[0] - 2, y0 + SHIFT[1] - 2, x1 + SHIFT[0] + 2, y1 + SHIFT[1] + 2)
    # Past the top-left corner: clipped at 0, and the pixels at column 0 and row 0 are pasted.
    shift = (-30, -50)
    face = shifted_face(frame, shift)
    assert blender.frame_region(face, frame.shape) == (0, 0, x1 + shift[0] + 2, y1 + shift[1] + 2)
    corrected = face.image.copy()
    corrected[BOXES[0][1]:BOXES[0][3], BOXES[0][0]:BOXES[0][2]] = (200, 30, 90)
    out = Blender(BlendConfig(colour_match=False)).blend(frame, face, corrected)
    assert (out[0:12, 0:22] == (200, 30, 90)).all()
    # Off the frame on one side only, and exactly at the right and bottom edges: nothing to do.
    h, w = frame.shape[:2]
    for shift in [(w + 10, 60), (90, h + 10), (w + 2 - x0, 60), (90, h + 2 - y0), (-300, 60)]:
        face = shifted_face(frame, shift)
        assert blender.frame_region(face, frame.shape) is None, shift
        corrected = np.zeros_like(face.image)
        assert np.array_equal(blender.blend(frame, face, corrected), frame)


def test_the_eye_region_mask_is_each_box_mapped_back_grown_by_two_pixels():
    """eye_region_mask: each box's corners mapped back and filled (corners included), then
    grown by 2 pixels each way."""
    frame = textured_frame()
    expected = np.zeros(frame.shape[:2], bool)
    for x0, y0, x1, y1 in BOXES:
        expected[y0 + SHIFT[1] - 2:y1 + SHIFT[1] + 3, x0 + SHIFT[0] - 2:x1 + SHIFT[0] + 3] = True
    mask = Blender().eye_region_mask(shifted_face(frame), frame.shape)
    assert mask.dtype == bool and np.array_equal(mask, expected)


def test_feathered_alpha_is_zero_outside_and_one_past_the_feather():
    """feathered_alpha: 0 outside the boxes, 1 more than `feather` pixels in, strictly between
    over the edge; feather 0 is a hard edge."""
    alpha = feathered_alpha(SIZE, tuple(BOXES), 6)
    inside = np.zeros((SIZE, SIZE), bool)
    for x0, y0, x1, y1 in BOXES:
        inside[y0:y1, x0:x1] = True
    assert (alpha[~inside] == 0).all()
    for x0, y0, x1, y1 in BOXES:
        assert (alpha[y0 + 7:y1 - 7, x0 + 7:x1 - 7] == 1).all()
        assert ((alpha[y0, x0 + 7:x1 - 7] > 0) & (alpha[y0, x0 + 7:x1 - 7] < 0.2)).all()
    hard = feathered_alpha(SIZE, tuple(BOXES), 0)
    assert np.array_equal(hard, inside.astype(np.float32))
