"""The shape of the code: the dependency direction, the stage table, the config."""
import argparse
import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def imported_packages(package: str) -> set[str]:
    """Top-level packages imported anywhere in a package's source (lazy imports included)."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {(alias.name.split(".")[0], str(path)) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((node.module.split(".")[0], str(path)))
    return found


@pytest.mark.parametrize("package,never", [("engines", "livegaze"), ("training", "livegaze"),
                                           ("training", "engines")])
def test_dependencies_point_one_way(package, never):
    """livegaze -> engines -> training: no file of the lower packages imports a higher one."""
    offenders = sorted(path for name, path in imported_packages(package) if name == never)
    assert not offenders, offenders


def test_building_calibration_faces_needs_neither_mediapipe_nor_the_live_app():
    code = ("import sys; from engines.quantize import calibration_faces; faces = calibration_faces(64); "
            "assert faces.shape[1:] == (3, 64, 64), faces.shape; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('livegaze', 'mediapipe')]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_stage_table_is_the_path_in_order():
    from livegaze.stages import STAGES, Threads

    assert [s.name for s in STAGES] == ["capture", "landmarks", "track", "gate", "align", "correct",
                                        "blend", "sink"]
    kinds = [s.threads for s in STAGES]
    assert kinds == sorted(kinds, key=list(Threads).index)  # threads in path order, never back


def test_every_stage_config_is_an_appconfig_field_of_its_name():
    from livegaze.config import AppConfig
    from livegaze.stages import STAGES

    config = AppConfig()
    for stage in STAGES:
        if stage.config is not None:
            assert type(getattr(config, stage.name)) is stage.config


def test_flags_come_from_the_config_with_its_defaults():
    from livegaze.config import FLAGS, AppConfig, add_flags, from_args

    parser = argparse.ArgumentParser()
    add_flags(parser, tuple(FLAGS))
    text = parser.format_help()
    assert "[default: 20.0]" in text and "[default: shift]" in text  # gate.gaze_full, correct.mode
    args = parser.parse_args(["--gaze-full", "12", "--strength", "0.5", "--no-virtual-camera", "--checkpoint",
                              "m.pt"])
    config = from_args(args)
    assert config.gate.gaze_full == 12.0 and config.live.strength == 0.5
    assert config.sink.virtual_camera is False and config.correct.name == "gazegan"
    untouched = AppConfig()
    assert config.gate.gaze_none == untouched.gate.gaze_none and config.capture == untouched.capture


def test_the_config_round_trips_through_toml_and_bad_values_are_named():
    from livegaze.config import AppConfig, from_toml, to_toml

    config = AppConfig()
    config.live.strength = 0.25
    again, problems = from_toml(to_toml(config))
    assert again == config and problems == []
    broken, problems = from_toml('[live]\nstrength = "high"\n[gate]\ngaze_full = 50.0\n[nope]\nx = 1\n')
    assert broken.live.strength == 1.0 and broken.gate == AppConfig().gate
    assert "live.strength" in problems
    assert "gate (gate.gaze_full 50 / gate.gaze_none 30: expected 0 <= full < none <= 90 degrees)" in problems
    assert any(p.startswith("unknown setting nope (the sections are capture, ") for p in problems)
