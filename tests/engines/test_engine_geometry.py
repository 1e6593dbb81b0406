"""An engine's recorded eye geometry is checked when it is opened: impossible numbers (a damaged
or hand-edited file) used to open fine and then fail every frame."""
import ast

import pytest

from engines.runners import OnnxRuntimeRunner


def with_geometry(exported, tmp_path, **changes) -> str:
    """A copy of the exported G_x whose recorded geometry has `changes`."""
    import onnx

    model = onnx.load(str(exported["gx"]))
    prop = next(p for p in model.metadata_props if p.key == "livegaze")
    meta = {**ast.literal_eval(prop.value), **changes}
    prop.value = repr(meta)
    path = tmp_path / "edited.onnx"
    onnx.save(model, str(path))
    return str(path)


def test_the_recorded_geometry_opens(exported, tmp_path):
    runner = OnnxRuntimeRunner(with_geometry(exported, tmp_path))
    assert runner.geometry.box_h > 0 and runner.geometry.eye_x[0] < runner.geometry.eye_x[1]


@pytest.mark.parametrize("changes,shown", [
    ({"box_h": -40}, "box_h = -40: expected a whole number of pixels from 1 to "),
    ({"box_w": 0}, "box_w = 0: expected a whole number of pixels from 1 to "),
    ({"crop": 100000}, "crop = 100000: expected a whole number of pixels from 1 to "),
    ({"eye_x": [0.7, 0.3]}, "eye_x = [0.7, 0.3]: expected two fractions of the size between 0 and 1, left "
                            "eye first"),
    ({"eye_y": 1.5}, "eye_y = 1.5: expected a fraction of the size between 0 and 1"),
])
def test_impossible_geometry_is_refused_when_the_engine_is_opened(exported, tmp_path, changes, shown):
    from livegaze.correctors import create
    from livegaze.errors import LivegazeError

    path = with_geometry(exported, tmp_path, **changes)
    with pytest.raises(LivegazeError) as info:
        create("gazegan", engine=path, runner="onnxruntime")
    text = str(info.value)
    assert text.startswith("--corrector gazegan: the model could not be opened: ") and "\n" not in text
    assert f"the model's recorded eye geometry is impossible ({shown}" in text
