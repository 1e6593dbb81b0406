"""The command line's conventions: --version, -v/-q anywhere, every option described with its
default, one-line errors for bad arguments, and commands that need a camera failing first."""
import argparse
import re
import subprocess
import sys
from importlib import metadata

import pytest

from livegaze.cliargs import build_parser


def livegaze(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "livegaze", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def _subcommands(parser):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_version_is_the_installed_distributions():
    result = livegaze("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"livegaze {metadata.version('livegaze')}"


@pytest.mark.parametrize("argv,verbose,quiet", [
    (["devices"], 0, False),
    (["-v", "devices"], 1, False),
    (["devices", "-v"], 1, False),
    (["devices", "-vv"], 2, False),
    (["-v", "run", "-q"], 1, True),
    (["photo", "x.jpg", "-o", "out", "--quiet"], 0, True),
])
def test_verbosity_flags_are_taken_before_or_after_the_command(argv, verbose, quiet):
    args = build_parser().parse_args(argv)
    assert (args.verbose, args.quiet) == (verbose, quiet)


def test_every_command_has_a_description_and_an_example():
    commands = _subcommands(build_parser())
    assert len(commands) >= 12
    for name, parser in commands.items():
        assert parser.description and len(parser.description) > 20, name
        assert parser.epilog and f"livegaze {name}" in parser.epilog, name


def test_every_option_says_its_default_once_in_one_format():
    for name, parser in _subcommands(build_parser()).items():
        for action in parser._actions:
            if not action.option_strings or action.help in (None, argparse.SUPPRESS):
                continue
            if action.dest in ("help", "verbose", "quiet"):
                continue
            text = action.help
            assert text.count("[default:") + text.count("(required)") == 1, f"{name} {action.option_strings}: {text}"
            assert "(default" not in text, f"{name} {action.option_strings}: {text}"
            if action.required:
                assert "(required)" in text


def test_run_groups_its_options():
    run = _subcommands(build_parser())["run"]
    groups = {g.title: {a.option_strings[0] for a in g._group_actions} for g in run._action_groups}
    assert "--input" in groups["input"] and "--fps" in groups["input"]
    assert {"--corrector", "--mode", "--strength", "--max-move"} <= groups["correction"]
    assert {"--gaze-full", "--head-none"} <= next(v for k, v in groups.items() if k.startswith("gate"))
    assert {"--output", "--virtual-camera", "--preview"} <= groups["output"]
    assert {"--checkpoint", "--engine", "--runner"} <= next(v for k, v in groups.items() if k.startswith("model"))


def _one_error_line(result, *words):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("livegaze: error:"), result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.mark.parametrize("args,words", [
    (["bench", "--sizes", "abc"], ["--sizes", "WIDTHxHEIGHT"]),
    (["bench", "--sizes", ","], ["--sizes"]),
    (["run", "--input", "99999999999999999999", "--output", "{d}/x.avi"], ["--input", "camera index"]),
    (["run", "--input", "{d}/a.png", "--output", ""], ["--output", "empty"]),
    (["run", "--input", "{d}/a.png", "--checkpoint", "a.pt", "--engine", "b.onnx", "--output", "{d}/y.avi"],
     ["--checkpoint", "--engine", "one model"]),
    (["photo", "{d}/a.png", "-o", ""], ["--output-dir", "empty"]),
    (["eval", "{d}/a.png", "--report", "{d}/afile"], ["--report", "is a file"]),
    (["demo", "--output-dir", "{d}/afile", "--frames", "2"], ["--output-dir", "is a file"]),
    (["frobnicate"], ["frobnicate"]),
])
def test_bad_arguments_are_one_line_and_write_nothing(tmp_path, args, words):
    (tmp_path / "afile").write_text("keep me")
    (tmp_path / "a.png").write_bytes(b"not really a png")
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    _one_error_line(livegaze(*[a.format(d=tmp_path) for a in args], cwd=tmp_path), *words)
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_calibrate_without_a_camera_says_so_before_any_prompt(tmp_path):
    result = livegaze("calibrate", "--input", "/dev/video97", cwd=tmp_path)
    _one_error_line(result, "camera /dev/video97 cannot be opened")
    assert "Look into" not in result.stdout + result.stderr
    assert "lit" not in result.stderr
    assert list(tmp_path.rglob("*")) == []


@pytest.mark.parametrize("args", [(), ("--no-virtual-camera", "--preview")])
def test_run_to_the_virtual_camera_without_a_camera_says_so_at_once(tmp_path, args):
    """Not a stream of "camera lost" frames to a call app: the missing camera, in one line."""
    _one_error_line(livegaze("run", "--input", "/dev/video97", *args, cwd=tmp_path),
                    "camera /dev/video97 cannot be opened")


def test_calibrate_tells_a_missing_face_from_a_dim_one():
    from livegaze.calibration import Calibrator
    from livegaze.errors import LivegazeError

    calibrator = Calibrator(min_frames=3)
    calibrator.begin("camera")
    for _ in range(10):
        calibrator.saw_face(False)
    with pytest.raises(LivegazeError, match=r"only 0 usable frames .*\(of 10; need 3\); no face was found"):
        calibrator.result()
    calibrator = Calibrator(min_frames=3)
    calibrator.begin("camera")
    for _ in range(10):
        calibrator.saw_face(True)
    with pytest.raises(LivegazeError, match="irises were not clear"):
        calibrator.result()


def test_help_of_every_command_renders(tmp_path):
    for name in _subcommands(build_parser()):
        result = livegaze(name, "--help", cwd=tmp_path)
        assert result.returncode == 0, name
        assert re.search(r"^examples:$", result.stdout, re.M), name


def test_output_piped_into_a_reader_that_leaves_is_not_a_traceback():
    """`livegaze devices | head -1`: the reader is gone before livegaze writes."""
    proc = subprocess.Popen([sys.executable, "-m", "livegaze", "devices"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_a_file_the_system_refuses_is_one_line(tmp_path, monkeypatch):
    """An OSError from a write no command wraps itself (a read-only config folder, say)."""
    from livegaze import cli

    def refuse(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "calibration.toml"))

    monkeypatch.setitem(cli.COMMANDS, "devices", refuse)
    import io
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert cli.main(["devices"]) == 2
    assert err.getvalue() == f"livegaze: error: {tmp_path / 'calibration.toml'}: Permission denied\n"


def test_a_line_for_the_user_survives_a_native_start_up_on_another_thread():
    """A native start-up (the face model's first frame) points descriptor 2 at /dev/null for a
    moment; Ctrl-C's "stopping" line written in that moment reached nobody. Lines written to
    livegaze.quiet.terminal() and log lines go through a copy of descriptor 2 and still arrive;
    what the native code writes to descriptor 2 itself does not."""
    script = "\n".join([
        "import logging, os, sys, threading",
        "from livegaze.quiet import keep_log_lines_visible, native_output_silenced, terminal",
        "logging.basicConfig(format='%(message)s')",
        "keep_log_lines_visible()",
        "inside, done = threading.Event(), threading.Event()",
        "def native():",
        "    with native_output_silenced():",
        "        os.write(2, b'native noise\\n')",
        "        inside.set()",
        "        done.wait(60)",
        "t = threading.Thread(target=native); t.start(); inside.wait(60)",
        "print('livegaze: stopping', file=terminal(), flush=True)",
        "logging.warning('livegaze: a warning')",
        "done.set(); t.join()",
    ])
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["livegaze: stopping", "livegaze: a warning"]
