"""livegaze.config: flags generated from AppConfig, and its TOML form."""
import argparse


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
