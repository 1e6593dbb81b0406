"""livegaze.processor: the stage steps on one frame: which stages run and are timed, where a
frame's processing ends, and the steps after the gate that photos use."""
import numpy as np

from livegaze.correctors import create
from livegaze.frames import Frame, Outcome
from livegaze.landmarks import Landmarker
from livegaze.processor import FrameProcessor, LiveControls
from livegaze.stages import Threads
from tests.livegaze.conftest import averted


def _face(image):
    with Landmarker() as lm:
        return lm.detect(image, 0)


def test_the_steps_after_the_gate_run_in_the_correctors_own_space():
    """An aligned-space corrector (geometric) goes through align, correct and blend, each timed;
    a frame-space one (warp) needs only correct. Both change the eyes of the frame in place."""
    image = averted("astronaut")
    face = _face(image)
    for name, stages in (("geometric", ["align", "correct", "blend"]), ("warp", ["correct"])):
        with FrameProcessor(None, create(name)) as processor:
            processor.keep_original = False
            frame = Frame(0, 0.0, image.copy(), face=face)
            pixels = frame.image
            processor.correct_face(frame)
            assert frame.outcome is Outcome.CORRECTED, name
            assert sorted(frame.timings) == sorted(stages), name
            assert frame.image is pixels and not np.array_equal(frame.image, image), name


def test_a_frame_without_a_face_ends_at_the_gate_and_goes_out_untouched():
    image = averted("astronaut")
    blank = np.full_like(image, 128)
    with FrameProcessor(Landmarker(), create("warp")) as processor:
        frame = Frame(0, 0.0, blank.copy(), original=blank)
        processor.process(frame)
        assert frame.outcome is Outcome.NO_FACE
        assert "correct" not in frame.timings and "landmarks" in frame.timings
        assert np.array_equal(frame.image, blank)


def test_the_slider_at_zero_passes_frames_through_as_disabled():
    image = averted("astronaut")
    with FrameProcessor(Landmarker(), create("warp"), live=LiveControls(strength=0.0)) as processor:
        frame = processor.process(Frame(0, 0.0, image.copy(), original=image))
        assert frame.outcome is Outcome.DISABLED and np.array_equal(frame.image, image)
        # With the slider up the same frames are corrected once the gate has eased in.
        processor.live.strength = 1.0
        for seq in range(1, 6):
            frame = processor.run(Threads.PER_WORKER, Frame(seq, seq / 30, image.copy(), original=image), 0)
            processor.run(Threads.IN_ORDER, frame)
            processor.run(Threads.CONCURRENT, frame)
        assert frame.outcome is Outcome.CORRECTED and not np.array_equal(frame.image, image)


def test_the_gate_and_the_warp_fit_each_iris_once_per_frame(monkeypatch):
    """The gate judges the gaze from the image-checked irises and the warp moves them: the same
    fit, made once per eye and frame."""
    from livegaze.irisfit import IrisFinder

    calls = []
    real_fit = IrisFinder.fit
    monkeypatch.setattr(IrisFinder, "fit", lambda self, *a: calls.append(1) or real_fit(self, *a))
    image = averted("astronaut")
    with FrameProcessor(Landmarker(), create("warp")) as processor:
        processor.keep_original = False
        frame = processor.process(Frame(0, 0.0, image.copy()))
    assert frame.outcome is Outcome.CORRECTED
    assert len(calls) == 2  # one per eye; without the sharing the warp would fit both again
