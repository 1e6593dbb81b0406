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


def test_a_settings_file_gets_the_same_ranges_as_the_flags(tmp_path):
    """A value outside its range in a settings file is refused like the flag, named as the
    setting with its range and unit; at the ends of the range it is taken."""
    from livegaze.config import from_toml

    config, problems = from_toml("[pipeline]\nbuffer = 1\n[landmarks]\nmax_input_width = 7680\n"
                                 "[track]\ngate = 0.01\n[live]\nstrength = 0.0\n")
    assert problems == [] and config.pipeline.buffer == 1 and config.landmarks.max_input_width == 7680
    assert config.track.gate == 0.01 and config.live.strength == 0.0
    _, problems = from_toml("[pipeline]\nbuffer = 0\n")
    assert problems == ["pipeline (pipeline.buffer 0: expected a whole number from 1 to 64 frames)"]
    _, problems = from_toml("[track]\ngate = 10.5\n")
    assert problems == ["track (track.gate 10.5: expected a number from 0.01 to 10 eye widths)"]
    _, problems = from_toml("[track]\nprocess_noise = nan\n")
    assert problems == ["track (track.process_noise nan: expected a finite number from 1e-05 to 1 "
                        "eye widths per frame^2)"]
    _, problems = from_toml("[live]\nstrength = 1.5\n")
    assert problems == ["live (live.strength 1.5: expected a number from 0 to 1)"]
    _, problems = from_toml('[sink]\noutput = "  "\n')
    assert problems == ["sink (sink.output '  ': expected a name, not an empty text)"]


def test_values_of_the_wrong_type_are_listed_and_near_types_converted():
    """An int where a float is expected is that float; a bool is not a number and a number not
    a bool."""
    from livegaze.config import AppConfig, from_toml

    config, problems = from_toml("[gate]\ngaze_full = 12\n")
    assert problems == [] and config.gate.gaze_full == 12.0 and isinstance(config.gate.gaze_full, float)
    config, problems = from_toml("[pipeline]\nbuffer = true\n[sink]\nvirtual_camera = 1\n[gate]\nnope = 1\n")
    assert problems[0].startswith("unknown setting gate.nope (gate has gaze_full, gaze_none, ")
    assert problems[1:] == ["sink.virtual_camera", "pipeline.buffer"]  # in the sections' order
    assert config.pipeline == AppConfig().pipeline and config.sink == AppConfig().sink


def test_texts_round_trip_through_toml_with_quotes_and_backslashes():
    from livegaze.config import AppConfig, from_toml, to_toml

    config = AppConfig()
    config.sink.output = 'C:\\videos\\"call".mp4'
    config.sink.virtual_camera = False
    text = to_toml(config)
    assert 'output = "C:\\\\videos\\\\\\"call\\".mp4"' in text and "virtual_camera = false" in text
    again, problems = from_toml(text)
    assert problems == [] and again == config


def test_a_bad_config_checked_as_a_whole_names_the_flag():
    import pytest

    from livegaze.config import AppConfig
    from livegaze.errors import LivegazeError

    AppConfig().check()
    config = AppConfig()
    config.pipeline.max_frames = -1
    with pytest.raises(LivegazeError, match=r"^--max-frames -1: expected 0"):
        config.check()
    config = AppConfig()
    config.correct.checkpoint, config.correct.engine = "m.pt", "m.plan"
    with pytest.raises(LivegazeError, match=r"^--checkpoint m.pt and --engine m.plan: give one model"):
        config.check()
    config = AppConfig()
    config.track.max_missed = 301
    with pytest.raises(LivegazeError, match=r"^track.max_missed 301: expected a whole number from 0 to 300"):
        config.check()


def test_a_settings_file_given_with_config_is_read_whole_or_refused_in_one_line(tmp_path):
    import pytest

    from livegaze.config import AppConfig, read_file, to_toml
    from livegaze.errors import LivegazeError

    good = tmp_path / "settings.toml"
    config = AppConfig()
    config.live.strength = 0.5
    good.write_text(to_toml(config))
    assert read_file(str(good)) == config
    for text, words in (("[live\n", "not a TOML file"), ("[live]\nstrength = 2.0\n", "bad settings: live (")):
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(LivegazeError) as info:
            read_file(str(bad))
        assert str(info.value).startswith(f"--config {bad}: {words}") and "\n" not in str(info.value)
    with pytest.raises(LivegazeError, match=r"--config .*missing.toml: cannot read it \(No such file"):
        read_file(str(tmp_path / "missing.toml"))
    (tmp_path / "latin1.toml").write_bytes(b"[live]\n# caf\xe9\n")
    with pytest.raises(LivegazeError, match="cannot read it"):
        read_file(str(tmp_path / "latin1.toml"))


def test_the_help_shows_each_default_and_the_choices():
    from livegaze.config import FLAGS, add_flags

    parser = argparse.ArgumentParser()
    add_flags(parser, tuple(FLAGS))
    text = " ".join(parser.format_help().split())
    assert "--paced, --no-paced" in text and "[default: off]" in text
    assert "--virtual-camera, --no-virtual-camera send to the virtual camera [default: on unless" in text
    assert "{shift,lock}" in text
    args = parser.parse_args([])
    assert all(value is None for value in vars(args).values())  # unset flags leave the config alone


def test_a_model_file_picks_the_model_corrector_unless_one_is_named():
    """--checkpoint or --engine alone: the corrector that runs models; with --corrector, that
    one; neither: the config's own. A parser that has only some of the flags works too."""
    from livegaze.config import FLAGS, AppConfig, add_flags, from_args
    from livegaze.correctors import model_corrector

    parser = argparse.ArgumentParser()
    add_flags(parser, tuple(FLAGS))
    assert from_args(parser.parse_args(["--engine", "m.plan"])).correct.name == model_corrector()
    assert from_args(parser.parse_args(["--checkpoint", "m.pt"])).correct.name == model_corrector()
    named = from_args(parser.parse_args(["--engine", "m.plan", "--corrector", "warp"]))
    assert (named.correct.name, named.correct.engine) == ("warp", "m.plan")
    assert from_args(parser.parse_args(["--strength", "0.5"])).correct.name == AppConfig().correct.name
    some = argparse.ArgumentParser()
    add_flags(some, ("live.strength",))
    config = from_args(some.parse_args(["--strength", "0.25"]))
    assert config.live.strength == 0.25 and config.correct == AppConfig().correct


def test_the_correction_modes_and_one_model_at_a_time():
    import pytest

    from livegaze.config import AppConfig
    from livegaze.errors import LivegazeError

    for mode in ("shift", "lock"):
        config = AppConfig()
        config.correct.mode = mode
        config.check()
    config = AppConfig()
    config.correct.mode = "Lock"
    with pytest.raises(LivegazeError, match=r"^--mode Lock: expected shift or lock"):
        config.check()
    for checkpoint, engine in (("m.pt", None), (None, "m.plan")):
        config = AppConfig()
        config.correct.checkpoint, config.correct.engine = checkpoint, engine
        config.check()


def test_range_messages_name_the_flag_and_spell_whole_numbers():
    """A value out of range, checked as a whole: named by its flag where it has one (else as
    section.key, even after a text setting in its section), its range's ends written as
    typed (1000000, not 1e+06); a count that is not finite is refused with no range."""
    import math

    import pytest

    from livegaze.config import AppConfig
    from livegaze.errors import LivegazeError

    cases = (("correct", "max_move", 0.9, "--max-move 0.9: expected a number from 0.01 to 0.5 eye widths"),
             ("landmarks", "num_faces", 0, "landmarks.num_faces 0: expected a whole number from 1 to 10 faces"),
             ("capture", "image_frames", -1,
              "capture.image_frames -1: expected a whole number from 0 to 1000000 frames (0 = endless)"),
             ("pipeline", "max_frames", math.inf, "--max-frames inf: expected a finite number"))
    for section, name, value, message in cases:
        config = AppConfig()
        setattr(getattr(config, section), name, value)
        with pytest.raises(LivegazeError) as info:
            config.check()
        assert str(info.value) == message


def test_a_settings_file_is_read_on_past_an_unknown_or_mistyped_setting():
    """Each bad line is listed and skipped; the settings after it in the same section are
    still taken."""
    from livegaze.config import from_toml

    config, problems = from_toml('[live]\nnope = 1\nstrength = 0.5\n[gate]\ngaze_full = "x"\ngaze_none = 40.0\n')
    assert config.live.strength == 0.5 and config.gate.gaze_none == 40.0
    assert problems[0] == "gate.gaze_full" and problems[1].startswith("unknown setting live.nope (live has ")
    assert len(problems) == 2  # in the sections' order


def test_a_whole_number_for_an_optional_number_is_that_number():
    """correct.max_move (a number, unset by default) given as 1: read as 1.0, then refused for
    its range, not for its type."""
    from livegaze.config import from_toml

    _, problems = from_toml("[correct]\nmax_move = 1\n")
    assert problems == ["correct (correct.max_move 1: expected a number from 0.01 to 0.5 eye widths)"]


def test_a_double_dash_in_a_file_name_is_left_as_written():
    """A settings file's message names settings, not flags: --checkpoint becomes
    correct.checkpoint, but '--b' inside a file name is no flag and stays."""
    from livegaze.config import from_toml

    _, problems = from_toml('[correct]\ncheckpoint = "a--b.pt"\nengine = "c.onnx"\n')
    assert problems == ["correct (correct.checkpoint a--b.pt and correct.engine c.onnx: give one model, not both)"]


def test_the_help_names_each_value_by_what_it_is():
    """--max-move WIDTHS, --gaze-full DEG, --input SOURCE, --model-every N: the value's kind, not
    the option's name in capitals."""
    from livegaze.config import FLAGS, add_flags

    parser = argparse.ArgumentParser()
    add_flags(parser, tuple(FLAGS))
    text = " ".join(parser.format_help().split())
    for shown in ("--max-move WIDTHS", "--gaze-full DEG", "--input SOURCE, -i SOURCE", "--model-every N",
                  "--width PX"):
        assert shown in text, shown


def test_a_settings_file_is_read_as_utf8_whatever_the_locale(tmp_path):
    """The tray writes UTF-8; a user whose locale is ASCII (LC_ALL=C, not coerced to UTF-8)
    still reads a file name with an accent in it."""
    import os
    import subprocess
    import sys

    from livegaze.config import read_file

    path = tmp_path / "settings.toml"
    path.write_text('[sink]\noutput = "café.mp4"\n', encoding="utf-8")
    assert read_file(str(path)).sink.output == "café.mp4"
    env = dict(os.environ, LC_ALL="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0")
    code = "import sys; from livegaze.config import read_file; print(ascii(read_file(sys.argv[1]).sink.output))"
    run = subprocess.run([sys.executable, "-X", "utf8=0", "-c", code, str(path)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.stdout.strip() == ascii("café.mp4"), run.stderr
