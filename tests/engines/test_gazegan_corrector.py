import numpy as np
import pytest

from livegaze.app import RunOptions, build_pipeline, run_until_done
from livegaze.capture import CaptureConfig
from livegaze.correctors import create
from livegaze.errors import LivegazeError
from livegaze.sinks import NullSink


@pytest.mark.parametrize("kind", ["checkpoint", "engine"])
def test_gazegan_corrector_in_the_live_pipeline(averted_clip, tiny_checkpoint, exported, kind):
    options = {"checkpoint": tiny_checkpoint} if kind == "checkpoint" else {"engine": str(exported["gx"])}
    sink = NullSink(keep=True)
    originals = []
    pipeline = build_pipeline(RunOptions(capture=CaptureConfig(source=averted_clip[0]), corrector="gazegan",
                                         corrector_options=options, virtual_camera=False, max_frames=6),
                              extra_sink=sink, on_frame=lambda f: originals.append(f))
    stats = run_until_done(pipeline)
    assert stats.statuses.get("corrected", 0) >= 5
    frame = originals[-1]
    changed = np.any(frame.image != frame.original, axis=2)
    assert changed.any() and changed.mean() < 0.1  # only the eye regions


def test_strength_uses_animation_when_available(tiny_checkpoint, exported):
    with_gy = create("gazegan", checkpoint=tiny_checkpoint)
    assert with_gy.handles_strength
    engine_only = create("gazegan", engine=str(exported["gx"]))
    assert not engine_only.handles_strength


def test_per_frame_path_allocates_no_image_buffers(tiny_checkpoint):
    """After the first face, correcting allocates no image-sized arrays: it converts into buffers
    made once per thread and returns the same output buffer each time."""
    import tracemalloc

    from livegaze.align import Aligner, AlignConfig

    corrector = create("gazegan", checkpoint=tiny_checkpoint)
    aligner = Aligner(AlignConfig(size=corrector.size))
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 255, (240, 320, 3), np.uint8)
    face = aligner.align(frame, np.array([[130.0, 110.0], [190.0, 110.0]]), None)
    first = corrector.correct(face, 1.0).copy()
    tracemalloc.start()
    try:
        outs = [corrector.correct(face, 1.0) for _ in range(4)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert all(o is outs[0] for o in outs) and np.array_equal(outs[0], first)
    image_bytes = corrector.size * corrector.size * 3
    assert peak < image_bytes, peak  # not even one uint8 face was allocated


def test_bad_model_file_is_one_line_error(tmp_path):
    with pytest.raises(LivegazeError, match="gazegan"):
        create("gazegan", engine=str(tmp_path / "missing.onnx"))
