import numpy as np
import pytest

from livegaze.app import build_pipeline, run_until_done
from livegaze.config import AppConfig
from livegaze.correctors import CorrectConfig
from livegaze.pipeline import PipelineConfig
from livegaze.sinks import SinkConfig
from livegaze.capture import CaptureConfig
from livegaze.correctors import create
from livegaze.errors import LivegazeError
from livegaze.sinks import NullSink


@pytest.mark.parametrize("kind", ["checkpoint", "engine"])
def test_gazegan_corrector_in_the_live_pipeline(averted_clip, tiny_checkpoint, exported, kind):
    correct = CorrectConfig(name="gazegan", **({"checkpoint": tiny_checkpoint} if kind == "checkpoint"
                                                else {"engine": str(exported["gx"])}))
    sink = NullSink(keep=True)
    originals = []
    pipeline = build_pipeline(AppConfig(capture=CaptureConfig(source=averted_clip[0]), correct=correct,
                                        sink=SinkConfig(virtual_camera=False), pipeline=PipelineConfig(max_frames=6)),
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

    from livegaze.align import Aligner

    corrector = create("gazegan", checkpoint=tiny_checkpoint)
    aligner = Aligner(corrector.geometry)
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


def test_the_live_app_aligns_with_the_models_own_geometry(tiny_checkpoint, exported):
    """The tiny test model was trained with 64 px faces and 16x10 eye boxes, not the live
    defaults: from a checkpoint or from its ONNX file, the align stage cuts its boxes."""
    from engines.runners import onnx_meta
    from livegaze.align import EyeGeometry
    from livegaze.processor import FrameProcessor

    recorded = onnx_meta(str(exported["gx"]))
    assert (recorded["size"], recorded["box_w"], recorded["box_h"]) == (64, 16, 10)
    default = EyeGeometry()
    assert (default.size, default.box_w, default.box_h) != (64, 16, 10)
    frame = np.random.default_rng(2).integers(0, 255, (240, 320, 3), np.uint8)
    for options in ({"checkpoint": tiny_checkpoint}, {"engine": str(exported["gx"])}):
        with FrameProcessor(None, create("gazegan", **options)) as processor:
            aligned = processor.aligner.align(frame, np.array([[130.0, 110.0], [190.0, 110.0]]))
            assert aligned.image.shape[:2] == (64, 64)
            assert [list(b) for b in aligned.boxes] == recorded["boxes"]
            assert all((x1 - x0, y1 - y0) == (16, 10) for x0, y0, x1, y1 in aligned.boxes)
