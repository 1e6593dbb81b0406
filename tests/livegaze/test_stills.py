"""livegaze.stills: every face of a photo through the live path's gate and correction steps."""
import numpy as np

from tests.livegaze.conftest import averted as _averted


def _turned(face, yaw_degrees):
    """The same landmarks with the head-pose rotation replaced by a turn of `yaw_degrees`."""
    t = np.radians(yaw_degrees)
    pose = face.pose.copy()
    pose[:3, :3] = [[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]]
    return type(face)(face.points.copy(), dict(face.blendshapes), pose)


def test_the_gate_leaves_a_turned_head_alone_and_fades_in_between():
    """Photo mode goes through the live path's gate: full correction facing the camera, less at
    20 degrees of yaw, none at 35 (the landmarks are real, only the pose is set)."""
    from livegaze.correctors import create
    from livegaze.stills import StillCorrector

    image = _averted("astronaut")
    stills = StillCorrector(create("warp"))
    try:
        face = stills.faces(image)[0]
        assert abs(face.head_angles()[0]) < 5
        changes = {}
        for yaw in (0, 20, 35):
            out, results = stills.correct(image, 1.0, faces=[_turned(face, yaw)])
            changes[yaw] = np.abs(out.astype(int) - image.astype(int)).sum()
            if yaw == 35:
                assert results[0].status == "head_turned" and changes[yaw] == 0
            else:
                assert results[0].status == "corrected"
        assert 0 < changes[20] < changes[0]
    finally:
        stills.close()
