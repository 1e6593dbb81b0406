import numpy as np
import torch

from training.geometry import eye_boxes
from training.irisscore import iris_centres, iris_errors
from training.syntheticset import EYE_SEMI_AXES, draw_eye

EYES = np.array([[88.0, 120.0], [168.0, 120.0]])
OPENING = tuple(a * 1.1 for a in EYE_SEMI_AXES)


def _face(gaze, colour=(60, 90, 40)):
    image = np.full((256, 256, 3), (190, 150, 130), np.uint8)
    for c in EYES:
        draw_eye(image, c, gaze, colour)
    return torch.from_numpy(image).permute(2, 0, 1).float().unsqueeze(0) / 127.5 - 1


BOXES = torch.from_numpy(eye_boxes(EYES, 40, 60, 256)).unsqueeze(0)


def test_iris_centre_follows_the_drawn_gaze():
    xs = [float(iris_centres(_face((gx, 0.0)), BOXES, OPENING)[0][0, :, 0].mean()) for gx in (-0.7, 0.0, 0.7)]
    ys = [float(iris_centres(_face((0.0, gy)), BOXES, OPENING)[0][0, :, 1].mean()) for gy in (-0.7, 0.0, 0.7)]
    assert xs[0] < xs[1] < xs[2] and ys[0] < ys[1] < ys[2], (xs, ys)
    assert abs(xs[1] - 0.5) < 0.03 and abs(ys[1] - 0.5) < 0.05  # looking ahead: the box centre
    # An iris drawn 0.7 of the semi-axis to the side sits about that far off in box widths.
    expected = 0.7 * EYE_SEMI_AXES[0] * 0.75 / 60
    assert 0.4 * expected < xs[2] - xs[1] < 1.3 * expected, (xs, expected)


def test_errors_reward_the_truth_and_not_a_blank_fill():
    averted, facing = _face((0.6, 0.3)), _face((0.0, 0.0))
    perfect = iris_errors(averted, facing, facing, BOXES, OPENING)
    assert float(perfect["after"].max()) < 1e-6 and float(perfect["before"].min()) > 0.05
    assert abs(float(perfect["contrast"].mean()) - 1) < 1e-4
    blank = facing.clone()
    for x0, y0, x1, y1 in BOXES[0].tolist():
        blank[..., y0:y1, x0:x1] = blank[..., y0:y1, x0:x1].mean((2, 3), keepdim=True)
    assert float(iris_errors(averted, blank, facing, BOXES, OPENING)["contrast"].max()) < 0.1
