"""The default install has no model runners (they are the 'models' extra): the default path works
without them, and whatever needs them says, in one line, which extra to install."""
import cv2
import pytest

from tests.without_packages import run_without

MODELS = ("onnx", "onnxruntime", "openvino")
HINT = "pip install 'livegaze[models]'"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return tmp_path_factory.mktemp("site-without-models")


def _one_error_line(result):
    lines = [line for line in result.stderr.splitlines() if line.strip() and "%|" not in line]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("livegaze: error:"), result.stderr
    return lines[0]


def test_the_default_corrector_runs_without_the_model_runners(site, tmp_path):
    from livegaze.evaluation.clips import photo

    cv2.imwrite(str(tmp_path / "face.png"), photo("astronaut"))
    result = run_without(MODELS, site, "livegaze", "run", "--input", str(tmp_path / "face.png"),
                         "--max-frames", "3", "--output", str(tmp_path / "out.avi"))
    assert result.returncode == 0, result.stderr
    assert "'corrected': 3" in result.stdout
    assert int(cv2.VideoCapture(str(tmp_path / "out.avi")).get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_devices_lists_each_missing_runner_with_the_extra(site):
    result = run_without(MODELS, site, "livegaze", "devices")
    assert result.returncode == 0, result.stderr
    for runner in ("openvino-cpu", "onnxruntime-cpu"):
        assert f"runner {runner}: skipped: {runner.split('-')[0]} is not installed ({HINT})" in result.stdout


@pytest.mark.parametrize("args", [
    ("run", "--engine", "{d}/g.onnx", "--input", "{d}/face.png", "--output", "{d}/o.avi"),
    ("bench-engine",),
    ("build-engine", "{d}/ckpt.pt"),
])
def test_model_commands_name_the_extra_in_one_line(site, tmp_path, args):
    from livegaze.evaluation.clips import photo

    (tmp_path / "g.onnx").write_bytes(b"onnx")
    cv2.imwrite(str(tmp_path / "face.png"), photo("astronaut"))
    (tmp_path / "ckpt.pt").write_bytes(b"pt")
    result = run_without(MODELS, site, "livegaze", *[a.format(d=tmp_path) for a in args])
    assert HINT in _one_error_line(result)
    assert not (tmp_path / "o.avi").exists()
