"""livegaze.tray.settings: the tray saves the live app's AppConfig as TOML; an unusable file gives
the defaults and a message naming what was ignored, never a crash."""
import pytest

from livegaze.capture import CaptureConfig
from livegaze.config import AppConfig
from livegaze.correctors import CorrectConfig
from livegaze.gate import GateConfig
from livegaze.processor import LiveControls
from livegaze.tray import settings as store
from tests.livegaze.tray.test_tray import saved


def test_settings_unknown_key_and_folder_are_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEGAZE_CONFIG", str(tmp_path))
    (tmp_path / "settings.toml").write_text("[live]\nstrenght = 0.5\n")
    loaded, message = store.load()
    assert "ignored unknown setting live.strenght (live has enabled, strength)" in message
    assert loaded.live.strength == 1.0
    (tmp_path / "settings.toml").unlink()
    (tmp_path / "settings.toml").mkdir()
    loaded, message = store.load()
    assert "is a folder, not a settings file" in message


def test_tray_settings_size_errors_are_worded_as_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEGAZE_CONFIG", str(tmp_path))
    (tmp_path / "settings.toml").write_text("[capture]\nwidth = -640\nheight = 480\n")
    loaded, message = store.load()
    assert "ignored capture (capture.width -640: expected an even number of pixels" in message
    assert "--width" not in message
    assert (loaded.capture.width, loaded.capture.height) == (0, 0)


def test_settings_round_trip(config_dir):
    s = AppConfig(capture=CaptureConfig(source="/dev/video2", width=640, height=480),
                  correct=CorrectConfig(name="gazegan", engine="/models/g x.onnx"),
                  gate=GateConfig(gaze_full=12.5, ease_frames=7), live=LiveControls(enabled=False, strength=0.35))
    path = store.save(s)
    assert path.parent == config_dir
    loaded, message = store.load()
    assert message is None and loaded == s


def test_the_tray_saves_the_live_apps_config(config_dir, tmp_path):
    """One object: the file the tray saves is what `livegaze run --config` reads, and a fresh
    tray takes the camera's own size, as the command line does."""
    from livegaze.config import read_file

    assert store.load()[0].capture.width == 0 and store.load()[0].capture.height == 0
    path = store.save(saved("clip.mp4", 1280, 720))
    assert read_file(str(path)).capture == CaptureConfig(source="clip.mp4", width=1280, height=720)


@pytest.mark.parametrize("content", ["[live]\nstrength = = 2\n", "[live]\nstrength = 7.0\n[capture]\nwidth = \"wide\"\n", "\xff\xfe"])
def test_corrupt_settings_fall_back_to_defaults_with_message(config_dir, content):
    config_dir.mkdir(parents=True)
    (config_dir / "settings.toml").write_bytes(content.encode("latin-1"))
    loaded, message = store.load()
    assert message and "settings.toml" in message
    assert loaded.live.strength == 1.0 and loaded.capture.width == 0


def test_tray_gate_settings_round_trip_and_bad_ones_fall_back(tmp_path, monkeypatch):
    from livegaze.config import AppConfig
    from livegaze.gate import GateConfig
    monkeypatch.setenv("LIVEGAZE_CONFIG", str(tmp_path))
    store.save(AppConfig(gate=GateConfig(gaze_full=15.0, gaze_none=28.0, head_none=30.0, ease_frames=6)))
    loaded, message = store.load()
    assert message is None and (loaded.gate.gaze_full, loaded.gate.gaze_none, loaded.gate.head_none,
                                loaded.gate.ease_frames) == (15.0, 28.0, 30.0, 6)
    (tmp_path / "settings.toml").write_text("[gate]\nhead_full = 40.0\nhead_none = 20.0\n")
    loaded, message = store.load()
    assert "gate (gate.head_full 40 / gate.head_none 20: expected" in message and (loaded.gate.head_full, loaded.gate.head_none) == (15.0, 25.0)


def test_an_old_flat_settings_file_is_read_into_the_config(config_dir):
    """Settings saved before the tray kept the AppConfig (one flat table) keep working."""
    config_dir.mkdir(parents=True)
    (config_dir / "settings.toml").write_text(
        'camera = "/dev/video2"\nwidth = 640\nheight = 480\ncorrector = "gazegan"\nmodel_path = "/m/g.onnx"\n'
        'strength = 0.35\nenabled = false\nvirtual_device = ""\ngaze_full = 12.0\nease_frames = 6\n')
    loaded, message = store.load()
    assert "old flat format" in message and "ignored" not in message
    assert loaded.capture == CaptureConfig(source="/dev/video2", width=640, height=480)
    assert (loaded.correct.name, loaded.correct.engine, loaded.correct.checkpoint) == ("gazegan", "/m/g.onnx", None)
    assert loaded.live == LiveControls(enabled=False, strength=0.35)
    assert (loaded.gate.gaze_full, loaded.gate.ease_frames, loaded.sink.device) == (12.0, 6, None)
