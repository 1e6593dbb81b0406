"""Pictures for people: the eye close-ups of contact sheets and eval sheets."""
import cv2
import numpy as np

from livegaze.evaluation.clips import photo, photo_landmarks
from livegaze.media import eye_zoom


def test_eye_zoom_of_a_tilted_head_shows_the_eyes_level():
    image = photo("grace_hopper")
    face = photo_landmarks("grace_hopper")
    centres = np.stack([face.eye_centre(0), face.eye_centre(1)])
    # The same photo turned 25 degrees about the eyes' midpoint, the eye centres with it.
    turn = cv2.getRotationMatrix2D(tuple(float(v) for v in centres.mean(0)), 25, 1.0)
    tilted = cv2.warpAffine(image, turn, (image.shape[1], image.shape[0]), flags=cv2.INTER_CUBIC)
    tilted_centres = centres @ turn[:, :2].T + turn[:, 2]
    level, turned = eye_zoom(image, centres, 3), eye_zoom(tilted, tilted_centres, 3)
    assert level.shape == turned.shape and level.shape[1] > 2.5 * level.shape[0]
    # The strip of the tilted head is the level one (resampling aside), not a slanted crop.
    difference = np.abs(level.astype(np.float32) - turned).mean()
    slanted = np.abs(level.astype(np.float32) - np.roll(turned, level.shape[0] // 6, axis=0)).mean()
    assert difference < 6 and slanted > 2 * difference
