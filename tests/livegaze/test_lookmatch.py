"""The calibration's image match (livegaze.lookmatch) on real faces with known truth: looks down
made by livegaze.evaluation.lookdown (the iris moved as an eyeball layer, the lids by a mesh warp:
nothing shared with the warp that the match uses), head motion, sensor noise and a blink."""
import math
import os

import cv2
import numpy as np
import pytest

from livegaze.calibration import Calibrator, calibration_path, load
from livegaze.cli import main
from livegaze.errors import LivegazeError
from livegaze.evaluation.clips import head_box, photo
from livegaze.evaluation.lookdown import EYEBALL, ClipPlan, FacingFace, clip_frames, look_down
from livegaze.evaluation.quality import shared_media_dir
from livegaze.lookmatch import LookAverage, LookRecorder, matched_move
from livegaze.stills import still_landmarker

SETTLE, COUNT = 21, 30  # `livegaze calibrate --seconds 1` at 30 fps: 0.7 s to settle, 1 s per look


@pytest.fixture(scope="module")
def faces():
    """Camera-facing faces cropped to head and shoulders: the packaged photos, and two of the
    shared media when they are beside this checkout."""
    pictures = [(name, photo(name)) for name in ("astronaut", "grace_hopper")]
    shared = shared_media_dir()
    for file in ("biden.jpg", "obama.jpg") if shared else ():
        pictures.append((file[:-4], cv2.imread(os.path.join(shared, file))))
    out = []
    with still_landmarker() as lm:
        for name, image in pictures:
            face = lm.detect(image)
            x0, y0, x1, y1 = head_box(face, image.shape)
            crop = np.ascontiguousarray(image[y0:y1, x0:x1])
            out.append(FacingFace(name, crop, lm.detect(crop)))
    return out


def calibration_video(path, person, first, second, seed, blink=True):
    """A `livegaze calibrate` video: the settle and the look at `first` degrees down, then at
    `second` (a blink of 3 frames in the middle of the second look)."""
    looks = [first] * (SETTLE + COUNT) + [second] * (SETTLE + COUNT)
    if blink:
        middle = 2 * SETTLE + COUNT + COUNT // 2
        looks[middle - 1:middle + 2] = [None] * 3
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for frame, _, _ in clip_frames(person, ClipPlan(looks, seed=seed, noise=3.0, wander=0.5)):
        writer.write(frame)
    writer.release()
    return str(path)


def test_calibrate_recovers_a_screen_below_the_camera(faces, tmp_path, capsys):
    """Screens 8-20 degrees below the camera: the saved lift is within 0.02 eye widths of the
    true 0.4 x sin(angle), median over the faces, and never off by more than 0.045 (a narrow
    eye's warp stops short of a 20-degree lift)."""
    errors = []
    for k, person in enumerate(faces):
        angle = (8.0, 20.0, 14.0, 14.0)[k]
        video = calibration_video(tmp_path / f"{person.name}.avi", person, 0.0, angle, seed=k)
        assert main(["calibrate", "--input", video, "--seconds", "1"]) == 0, capsys.readouterr().err
        shift = load().shift
        errors.append(abs(-shift[1] - EYEBALL * math.sin(math.radians(angle))))
        assert abs(shift[0]) < 0.03, (person.name, shift)  # straight down: nothing across
    assert np.median(errors) <= 0.02, errors
    assert max(errors) <= 0.045, errors


def test_a_user_who_kept_reading_the_screen_is_refused_and_nothing_is_saved(faces, tmp_path, capsys):
    """Both looks at the screen, 14 degrees down (the user never looked into the lens): one line
    that says so, exit 2, no calibration file."""
    video = calibration_video(tmp_path / "same.avi", faces[0], 14.0, 14.0, seed=5)
    assert main(["calibrate", "--input", video, "--seconds", "1"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("livegaze")]
    assert len(err) == 1 and err[0].startswith("livegaze: error: calibration: your eyes moved only 0.0"), err
    assert "(need 0.02)" in err[0]
    assert load() is None and not os.path.exists(calibration_path())


def test_the_blink_is_left_out_of_the_look(faces):
    """The three shut frames in the middle of the screen look are not averaged in: the kept frames
    are the look's own 30 less those 3 (the gate's closed-eye rule, with its usual opening)."""
    from livegaze.landmarks import Landmarker

    person = faces[0]
    looks = [0.0] * COUNT + [14.0] * 12 + [None] * 3 + [14.0] * 15
    recorder = LookRecorder()
    with Landmarker() as lm:
        clip = clip_frames(person, ClipPlan(looks, seed=2, noise=3.0, wander=0.5))
        for i, (frame, _, _) in enumerate(clip):
            face = lm.detect(frame, 33 * (i + 1), everyone=True)
            recorder.add("camera" if i < COUNT else "screen", frame, face)
    assert recorder.frames("camera") == COUNT
    assert recorder.frames("screen") == COUNT - 3
    assert recorder.offered == {"camera": COUNT, "screen": COUNT}


def test_registration_finds_a_known_head_motion(faces):
    """Frames moved by known sub-pixel amounts (the same noisy frame shifted) are put back: the
    average of the moved frames matches the unmoved one to well under a grey level's noise."""
    from livegaze.landmarks import Landmarker

    person = faces[1]
    frame = next(iter(clip_frames(person, ClipPlan([0.0], seed=1, noise=0.0, wander=0.0))))[0]
    moves = [(0.0, 0.0), (2.5, -1.25), (-3.75, 0.5), (1.0, 3.0)]
    recorder = LookRecorder()
    with Landmarker() as lm:
        for i, (dx, dy) in enumerate(moves):
            moved = cv2.warpAffine(frame, np.float64([[1, 0, dx], [0, 1, dy]]), frame.shape[1::-1],
                                   flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
            assert recorder.add("camera", moved, lm.detect(moved, 33 * (i + 1), everyone=True))
            shift = recorder._register(moved, lm.detect(moved, 33 * (i + 10), everyone=True))
            assert np.allclose(shift, (dx, dy), atol=0.15), (shift, dx, dy)


@pytest.mark.parametrize("index", [0, 1])
def test_the_match_finds_a_look_down_on_a_still_photo(faces, index):
    """One full-size photo looking into the camera and the same photo looking 16 degrees down
    (lids following): the matched lift is most of 0.4 x sin(16 degrees) and never past it (the
    warp's stretch below a lifted iris costs a little, so the match leans short, never up past
    the camera); the photo against itself matches at no lift."""
    with still_landmarker() as lm:
        person = faces[index]
        down = look_down(person.image, person.face, 16.0)
        camera = LookAverage(person.image, person.face, 1)
        screen = LookAverage(down, lm.detect(down), 1)
    truth = EYEBALL * math.sin(math.radians(16.0))
    across, lift = matched_move(camera, screen)
    assert 0.6 * truth <= lift <= 1.05 * truth, (lift, truth)
    assert abs(across) <= 0.02, across  # straight down
    assert np.allclose(matched_move(camera, camera), 0.0, atol=0.005)


def test_frames_that_cannot_be_matched_are_one_clear_error():
    """Frames given with their images but none usable (no face in any): the error says how many
    of how many, and what to do."""
    calibrator = Calibrator(min_frames=5)
    image = np.zeros((120, 160, 3), np.uint8)
    for phase in ("camera", "screen"):
        calibrator.begin(phase)
        for _ in range(6):
            calibrator.add((0.0, 0.01 if phase == "camera" else -0.05), image, None)
    why = r"only 0 frames of the camera look could be used \(of 6; need 5\)"
    with pytest.raises(LivegazeError, match=why):
        calibrator.result()
