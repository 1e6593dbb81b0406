"""Following the face between face-model runs (livegaze.facefollow), on real MediaPipe landmarks of
real photos moved by known transforms: the followed landmarks are checked against the clip's own
motion, and the model must run again when the eyes blink or look elsewhere."""
import cv2
import numpy as np
import pytest

from livegaze.correctors import CorrectConfig, from_config
from livegaze.evaluation.clips import ClipSpec, iter_frames
from livegaze.evaluation.temporal import shut_eyes
from livegaze.frames import Frame, Outcome
from livegaze.landmarks import Landmarker, LandmarkerConfig
from livegaze.processor import FrameProcessor


def stream(images, every=3, whole=False):
    """Each image through the landmark stage (`whole`: through every stage, the warp corrector's)."""
    processor = FrameProcessor([Landmarker(LandmarkerConfig(model_every=every))], from_config(CorrectConfig()))
    out = []
    with processor:
        for i, image in enumerate(images):
            frame = Frame(seq=i + 1, t_capture=i / 30, image=image, original=image)
            if whole:
                processor.process(frame)
            else:
                processor.step_landmarks(frame)
            out.append(frame)
    return out


def as_3x3(m):
    return np.vstack([m, [0, 0, 1]])


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_a_face_panning_4px_a_frame_is_followed_without_lag(photo):
    """Between model runs the landmarks move with the face: the points of the last model frame,
    moved by the clip's known transform from that frame to this one, within a third of a pixel
    (a frame of lag would be 4 px off). The model runs on at most every third frame."""
    spec = ClipSpec(width=1280, height=720, frames=30, photos=(photo,), motion="pan", velocity=(4.0, 0.0),
                    noise=2.0)
    frames = list(iter_frames(spec))
    done = stream([f[0] for f in frames])
    followed = [i for i, f in enumerate(done) if f.followed]
    assert len(followed) == 20, [f.followed for f in done]
    key = None
    worst = 0.0
    for i, frame in enumerate(done):
        if not frame.followed:
            key = i
            continue
        motion = as_3x3(frames[i][2]) @ np.linalg.inv(as_3x3(frames[key][2]))
        expected = done[key].face.points[:, :2] @ motion[:2, :2].T + motion[:2, 2]
        worst = max(worst, float(np.abs(frame.face.points[:, :2] - expected).max()))
    assert worst < 0.34, worst


def test_a_blink_between_model_runs_makes_the_model_run_and_the_frame_pass_through():
    """Eyes shut on frames that would have been followed: the first shut frame already runs the
    model (the eye patches changed), and so do the next two (the model may misjudge a blink's
    first frame); no shut frame is corrected, and the model sees the eyes open again at once."""
    spec = ClipSpec(frames=24, photos=("astronaut",), motion="wander", gaze=(0.1, 0.1), noise=2.0, seed=2)
    images = [f[0] for f in iter_frames(spec)]
    shut = range(10, 14)  # frame 10 is the second after the model frame 9 (every 3rd from 0)
    with Landmarker() as lm:
        for i in shut:
            images[i] = shut_eyes(images[i], lm.detect(images[i], i * 33))
    done = stream(images, whole=True)
    assert [done[i].followed for i in (7, 8)] == [True, True]  # followed up to the blink
    assert [done[i].followed for i in (10, 11, 12)] == [False, False, False]
    assert not done[14].followed  # open again: the eyes moved on their own
    assert [i for i in shut if not np.array_equal(done[i].image, images[i])] == []
    assert all(done[i].outcome is Outcome.EYES_CLOSED for i in shut), [done[i].outcome for i in shut]


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_a_look_elsewhere_between_model_runs_makes_the_model_run(photo):
    """The irises move (0.12 eye widths sideways, the clip's own iris move) while the face stays:
    the frame they move on is not followed, so the corrector sees the new gaze at once, and
    neither are the next two (a look goes on for a few frames); then following resumes."""
    still = dict(frames=12, photos=(photo,), motion="still", noise=2.0)
    before = [f[0] for f in iter_frames(ClipSpec(gaze=(0.0, 0.0), **still))]
    after = [f[0] for f in iter_frames(ClipSpec(gaze=(0.12, 0.0), seed=1, **still))]
    images = before[:7] + after[7:]  # frame 7 follows the model frame 6
    done = stream(images)
    assert [f.followed for f in done[:7]] == [False, True, True, False, True, True, False]
    assert [f.followed for f in done[7:]] == [False, False, False, True, True]


def test_a_face_missed_briefly_is_looked_for_on_every_frame_an_empty_room_every_third():
    """The model looks on every frame for the first 15 without a face (a missed detection must
    not fade the correction for longer than it lasts), then on every third (the idle rate); a
    face walking in is found at the next look, at most two frames later."""
    spec = ClipSpec(frames=9, photos=("astronaut",), motion="still")
    faces = [f[0] for f in iter_frames(spec)]
    empty = [cv2.GaussianBlur(np.full_like(faces[0], 110), (3, 3), 0) for _ in range(25)]
    done = stream(faces[:3] + empty + faces)
    looks = [not f.followed for f in done[3:28]]
    assert looks == [True] * 15 + [False, False, True] * 3 + [False]
    assert all(f.face is None for f in done[3:28])
    found = next(i for i, f in enumerate(done[3:], 3) if f.face is not None)
    assert found == 29  # frame 28 is skipped by the idle rate (after the look at 26), 29 is the next


def test_model_every_1_runs_the_model_on_every_frame_and_several_workers_do_not_follow():
    spec = ClipSpec(frames=6, photos=("astronaut",), motion="still", noise=2.0)
    images = [f[0] for f in iter_frames(spec)]
    assert not any(f.followed for f in stream(images, every=1))
    with FrameProcessor([Landmarker(), Landmarker()], None) as processor:
        assert processor.follower is None  # frames reach two workers out of order


def test_model_every_is_a_flag_with_a_range(tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "livegaze", "run", "--input", "x.mp4", "--model-every", "0"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "livegaze: error: --model-every 0: expected a whole number from 1 to 30 frames"]


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_a_head_turning_between_model_runs_makes_the_model_run_but_a_zoom_is_followed(photo):
    """A head turning away foreshortens the face across (3% narrower, its height kept: about 14
    degrees of yaw from frontal): the gate must see the new pose, so the model runs. The same
    face 3% larger both ways (leaning in) is a plain similarity: followed."""
    spec = ClipSpec(width=1280, height=720, frames=6, photos=(photo,), motion="still", noise=2.0)
    images = [f[0] for f in iter_frames(spec)]
    centre = (640.0, 360.0)

    def scaled(image, sx, sy):
        m = np.array([[sx, 0, centre[0] * (1 - sx)], [0, sy, centre[1] * (1 - sy)]])
        return cv2.warpAffine(image, m, (1280, 720), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    turned = stream(images[:4] + [scaled(images[4], 0.97, 1.0)])
    zoomed = stream(images[:4] + [scaled(images[4], 1.03, 1.03)])
    assert [f.followed for f in turned] == [False, True, True, False, False]
    assert [f.followed for f in zoomed] == [False, True, True, False, True]


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_a_followed_frame_keeps_the_model_frames_irises_moved_with_the_face(photo, monkeypatch):
    """The irises the gate and the warp fitted on the model frame are moved with the face (by the
    clip's known transform) instead of being fitted again: two fits per model frame (one per
    eye); on a followed frame, none for an iris the model frame showed whole (both edges), and
    each moved fit where the clip's motion puts it; an iris seen in part is fitted again."""
    from livegaze.irisfit import IrisFinder

    fits = []
    real_fit = IrisFinder.fit
    monkeypatch.setattr(IrisFinder, "fit", lambda self, *a: fits.append(1) or real_fit(self, *a))
    spec = ClipSpec(width=1280, height=720, frames=12, photos=(photo,), motion="pan", velocity=(4.0, 0.0),
                    noise=2.0, gaze=(0.1, 0.1))
    frames = list(iter_frames(spec))
    done = stream([f[0] for f in frames], whole=True)
    model = [i for i, f in enumerate(done) if not f.followed]
    assert model == [0, 3, 6, 9]

    def fitted(frame):
        return {k[0]: v[1] for k, v in dict.items(frame.face.iris_fits)}

    whole = {i: [eye for eye, fit in fitted(done[i]).items() if fit is not None and fit.sides == 2] for i in model}
    followed = set(range(12)) - set(model)
    partial = sum(2 - len(whole[max(k for k in model if k < i)]) for i in followed)
    assert len(fits) == 2 * len(model) + partial
    assert sum(map(len, whole.values())) >= len(model)  # some irises are moved, not fitted again
    for i in followed:
        key = max(k for k in model if k < i)
        motion = as_3x3(frames[i][2]) @ np.linalg.inv(as_3x3(frames[key][2]))
        for eye in whole[key]:
            fit, moved = fitted(done[key])[eye], fitted(done[i])[eye]
            assert np.abs(moved.centre - (motion[:2, :2] @ fit.centre + motion[:2, 2])).max() < 0.35
            assert moved.radius == pytest.approx(fit.radius, rel=0.01)
