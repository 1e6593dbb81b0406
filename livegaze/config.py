"""AppConfig: everything the live app runs with, and where every default lives.

One field per stage of the live path (livegaze.stages: the field has the stage's name and holds
the stage's config dataclass), plus the pipeline's own settings and the live controls (the tray's
toggle and slider). Each default is written once, in the stage's dataclass. The command line's
flags are generated from the fields named in FLAGS (`add_flags`, `from_args`), and the tray
edits and saves the same object as TOML (`to_toml`, `from_toml`).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field

from engines.backends import FAMILIES
from livegaze.blend import BlendConfig
from livegaze.capture import CaptureConfig
from livegaze.correctors.base import CorrectConfig
from livegaze.errors import LivegazeError
from livegaze.gate import GateConfig
from livegaze.landmarks import LandmarkerConfig
from livegaze.pipeline import PipelineConfig
from livegaze.processor import LiveControls
from livegaze.sinks import SinkConfig
from livegaze.tracking import TrackerConfig


@dataclass
class AppConfig:
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    landmarks: LandmarkerConfig = field(default_factory=LandmarkerConfig)
    track: TrackerConfig = field(default_factory=TrackerConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    correct: CorrectConfig = field(default_factory=CorrectConfig)
    blend: BlendConfig = field(default_factory=BlendConfig)
    sink: SinkConfig = field(default_factory=SinkConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    live: LiveControls = field(default_factory=LiveControls)

    def check(self) -> None:
        """One-line errors (naming the flag) for values no stage can take."""
        for section in (f.name for f in dataclasses.fields(self)):
            problem = section_problem(self, section)
            if problem:
                raise LivegazeError(problem)


def _check_live(live: LiveControls) -> None:
    if not 0.0 <= live.strength <= 1.0:  # NaN fails this too
        raise ValueError(f"--strength {live.strength}: expected a number from 0 to 1")


def _check_pipeline(pipeline: PipelineConfig) -> None:
    if pipeline.max_frames < 0:
        raise ValueError(f"--max-frames {pipeline.max_frames}: expected 0 (until the end) or a positive number")


def _check_correct(correct: CorrectConfig) -> None:
    if correct.mode not in ("shift", "lock"):
        raise ValueError(f"--mode {correct.mode}: expected shift or lock")
    if correct.checkpoint and correct.engine:
        raise ValueError(f"--checkpoint {correct.checkpoint} and --engine {correct.engine}: give one model, "
                         "not both")


# Each section's own check (relations between values); its message names the command-line flags.
SECTION_CHECKS = {"capture": CaptureConfig.validate, "gate": GateConfig.check, "live": _check_live,
                  "pipeline": _check_pipeline, "correct": _check_correct}

# The numbers each stage can take, for the values no section check covers: (lowest, highest,
# what they count). A value outside stops a thread or silently disables correction (a zero
# buffer, no faces, a model input 0 px wide), so it is refused before anything opens.
RANGES: dict[str, tuple[float, float, str]] = {
    "capture.retry_interval_s": (0.05, 60, "seconds"),
    "capture.image_frames": (0, 1_000_000, "frames (0 = endless)"),
    "landmarks.num_faces": (1, 10, "faces"),
    "landmarks.min_detection_confidence": (0, 1, "(a score)"),
    "landmarks.min_presence_confidence": (0, 1, "(a score)"),
    "landmarks.min_tracking_confidence": (0, 1, "(a score)"),
    "landmarks.max_input_width": (64, 7680, "pixels"),
    "landmarks.model_every": (1, 30, "frames"),
    "track.measurement_noise": (1e-4, 1, "eye widths"),
    "track.process_noise": (1e-5, 1, "eye widths per frame^2"),
    "track.gate": (0.01, 10, "eye widths"),
    "track.max_missed": (0, 300, "frames"),
    "gate.min_openness": (0, 0.5, "(opening over width)"),
    "gate.blink_closed": (0.05, 1, "(a blink score)"),
    "gate.closing": (0, 0.99, "(of the eye's usual opening; 0 = off)"),
    "gate.lid_drop": (0, 0.49, "eye widths (0 = off)"),
    "correct.max_move": (0.01, 0.5, "eye widths"),
    "correct.faces_at_once": (0, 16, "(0 = one per core)"),
    "blend.feather": (0, 64, "pixels"),
    "pipeline.buffer": (1, 64, "frames"),
    "pipeline.stats_window": (2, 100_000, "frames"),
    "pipeline.landmark_workers": (1, 16, "threads"),
    "live.strength": (0, 1, ""),
}


NAMES = ("capture.source", "sink.output", "sink.device")  # texts that name something: never empty


def _name(path: str) -> str:
    """How a message names a setting: its flag when it has one (a settings file's reader gets
    the setting back from `in_settings_words`), else section.key."""
    flags = FLAGS[path][1] if path in FLAGS else ()
    return next((f for f in flags if f.startswith("--")), path)


def check_ranges(values, section: str) -> None:
    """Every number of one section finite and inside RANGES; text settings not empty."""
    for f in dataclasses.fields(values):
        value, path = getattr(values, f.name), f"{section}.{f.name}"
        if isinstance(value, str) and not value.strip() and path in NAMES:
            raise ValueError(f"{_name(path)} {value!r}: expected a name, not an empty text")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        low, high, unit = RANGES.get(path, (-math.inf, math.inf, ""))
        kind = "a whole number" if isinstance(value, int) else "a number"
        span = f" from {_number(low)} to {_number(high)} {unit}".rstrip() if path in RANGES else ""
        if not math.isfinite(value):
            raise ValueError(f"{_name(path)} {value}: expected a finite number{span}")
        if not low <= value <= high:
            raise ValueError(f"{_name(path)} {_number(value)}: expected {kind}{span}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def section_problem(config: AppConfig, section: str) -> str | None:
    """What is wrong with one section of `config` (None: nothing)."""
    values = getattr(config, section)
    try:
        if section in SECTION_CHECKS:  # first: its messages name related flags together
            SECTION_CHECKS[section](values)
        check_ranges(values, section)
    except (LivegazeError, ValueError) as exc:
        return str(exc)
    return None


# The command line: (AppConfig path, flags, help). Type and default come from the dataclass; help
# says what the option does and its unit, add_flags appends "[default: X]".
FLAGS: dict[str, tuple[str, tuple[str, ...], str]] = {key: (key, flags, text) for key, flags, text in (
    ("capture.source", ("--input", "-i"), "camera index (0, 1, ...), device (/dev/video2), video or image file"),
    ("capture.width", ("--width",), "capture width, pixels, even; 0 = the source's own"),
    ("capture.height", ("--height",), "capture height, pixels, even; 0 = the source's own"),
    ("capture.fps", ("--fps",), "camera frame rate, or the pace of --paced, frames per second (1-240)"),
    ("capture.paced", ("--paced",), "play a file at --fps as a live camera would (frames may drop)"),
    ("capture.loop", ("--loop",), "restart a file source at its end"),
    ("landmarks.model_path", ("--face-model",), "MediaPipe face_landmarker.task to use"),
    ("landmarks.model_every", ("--model-every",), "run the face model at least every N frames and follow the "
                                                  "face by optical flow between (sooner when the eyes move "
                                                  "or blink); 1 = every frame; higher saves CPU"),
    ("correct.name", ("--corrector",), "warp = your own eye moved, no model needed; geometric = the iris "
                                       "repainted; gazegan = a trained model (needs --checkpoint or --engine)"),
    ("correct.checkpoint", ("--checkpoint",), "GazeGAN training checkpoint (.pt); selects the gazegan corrector"),
    ("correct.engine", ("--engine",), "prebuilt engine (.plan or .onnx); selects the gazegan corrector"),
    ("correct.runner", ("--runner",), f"model backend: auto = the fastest here, or one of {', '.join(FAMILIES)}"),
    ("correct.max_move", ("--max-move",), "warp: the largest iris move, eye widths (above 0, at most 0.5; "
                                          "larger looks forced)"),
    ("correct.faces_at_once", ("--faces-at-once",), "a model on the CPU: frames corrected in parallel, one "
                                                    "core each; 0 = one per core, at most 2"),
    ("correct.mode", ("--mode",), "warp: shift = move your eyes by your calibrated screen-to-camera offset "
                                  "(your own eye movements stay); lock = put the gaze on the camera"),
    ("gate.gaze_full", ("--gaze-full",), "full correction while the gaze is within this angle of the "
                                         "camera, degrees"),
    ("gate.gaze_none", ("--gaze-none",), "no correction past this gaze angle, degrees"),
    ("gate.head_full", ("--head-full",), "full correction while the head's yaw and pitch are within this, "
                                         "degrees"),
    ("gate.head_none", ("--head-none",), "no correction past this head yaw or pitch, degrees"),
    ("gate.hysteresis", ("--gate-hysteresis",), "an angle must turn back this far before the strength "
                                                "follows, degrees"),
    ("gate.ease_frames", ("--ease-frames",), "fade correction in or out over this many frames"),
    ("sink.output", ("--output", "-o"), "write the corrected video to this file (.mp4 or .avi)"),
    ("sink.virtual_camera", ("--virtual-camera",), "send to the virtual camera"),
    ("sink.device", ("--device",), "virtual camera device, e.g. /dev/video10"),
    ("sink.preview", ("--preview",), "show the output in a window"),
    ("pipeline.max_frames", ("--max-frames",), "stop after this many frames; 0 = at the end of the input"),
    ("live.strength", ("--strength",), "correction strength, 0 (off) to 1 (full)"),
)}

# How a default that is not a plain value reads in --help.
DEFAULT_WORDS = {"landmarks.model_path": "the packaged copy", "correct.max_move": "0.2",
                 "correct.checkpoint": "none", "correct.engine": "none", "sink.output": "none",
                 "sink.device": "the first free one", "sink.virtual_camera": "on unless --output or --preview"}
METAVARS = {"capture.source": "SOURCE", "capture.width": "PX", "capture.height": "PX", "capture.fps": "FPS",
            "landmarks.model_path": "FILE", "correct.name": "NAME", "correct.checkpoint": "FILE",
            "correct.engine": "FILE", "correct.runner": "NAME", "correct.max_move": "WIDTHS",
            "correct.faces_at_once": "N", "sink.output": "FILE", "sink.device": "DEVICE",
            "pipeline.max_frames": "N", "landmarks.model_every": "N", "live.strength": "S", "gate.ease_frames": "N",
            **{f"gate.{name}": "DEG" for name in ("gaze_full", "gaze_none", "head_full", "head_none", "hysteresis")}}


def _get(config, path: str):
    section, name = path.split(".")
    return getattr(getattr(config, section), name)


def _field_type(path: str) -> type:
    """The flag's value type, from the dataclass annotation (X | None -> X)."""
    section, name = path.split(".")
    owner = typing.get_type_hints(type(getattr(AppConfig(), section)))[name]
    if isinstance(owner, types.UnionType) or typing.get_origin(owner) is typing.Union:
        owner = next(t for t in typing.get_args(owner) if t is not type(None))
    return owner


def add_flags(parser, paths: list[str] | tuple[str, ...]) -> None:
    """Add the flags of these AppConfig paths to a parser or argument group (generated: type,
    default and help from AppConfig)."""
    defaults = AppConfig()
    for path in paths:
        _, flags, text = FLAGS[path]
        kind, default = _field_type(path), _get(defaults, path)
        dest = path.replace(".", "__")
        shown = DEFAULT_WORDS.get(path)
        if shown is None:
            shown = ("on" if default else "off") if kind is bool else default
        text += f" [default: {shown}]"
        if kind is bool:
            parser.add_argument(*flags, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=text)
            continue
        choices = ("shift", "lock") if path == "correct.mode" else None
        parser.add_argument(*flags, dest=dest, type=kind, default=None, help=text, choices=choices,
                            metavar=None if choices else METAVARS.get(path, flags[0].lstrip("-").upper()))


def from_args(args: argparse.Namespace, base: AppConfig | None = None) -> AppConfig:
    """`base` (default: AppConfig()) with every flag the user gave; a model file picks the
    corrector that runs models, unless --corrector names one."""
    from livegaze.correctors import model_corrector

    config = base or AppConfig()
    given: dict[str, dict] = {}
    for path in FLAGS:
        value = getattr(args, path.replace(".", "__"), None)
        if value is not None:
            section, name = path.split(".")
            given.setdefault(section, {})[name] = value
    if getattr(args, "correct__name", None) is None and ("checkpoint" in given.get("correct", {})
                                                         or "engine" in given.get("correct", {})):
        given["correct"]["name"] = model_corrector()
    for section, values in given.items():  # some stage configs are frozen: replaced, not changed
        setattr(config, section, dataclasses.replace(getattr(config, section), **values))
    return config


# -- TOML: the tray saves the whole AppConfig, one table per section --------------------------

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_toml(config: AppConfig) -> str:
    """Every section and value (None values are left out: absent means the default)."""
    lines = []
    for section in dataclasses.fields(config):
        values = getattr(config, section.name)
        lines.append(f"[{section.name}]")
        for f in dataclasses.fields(values):
            value = getattr(values, f.name)
            if value is not None and not dataclasses.is_dataclass(value):
                lines.append(f"{f.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def from_toml(text: str) -> tuple[AppConfig, list[str]]:
    """(config, problems): values of the wrong type and unknown keys are ignored and listed;
    a section whose values fail its checks takes its defaults again (listed too)."""
    return from_dict(tomllib.loads(text))


def from_dict(data: dict) -> tuple[AppConfig, list[str]]:
    """`from_toml` on TOML already parsed: {section: {name: value}}."""
    config, problems = AppConfig(), []
    sections = [f.name for f in dataclasses.fields(AppConfig)]
    for key in data:
        if key not in sections or not isinstance(data[key], dict):
            problems.append(f"unknown setting {key} (the sections are {', '.join(sections)})")
    for section in dataclasses.fields(AppConfig):
        given = data.get(section.name)
        if not isinstance(given, dict):
            continue
        values = getattr(config, section.name)
        hints = typing.get_type_hints(type(values))
        known = {f.name: f for f in dataclasses.fields(values)}
        for name, value in given.items():
            if name not in known:
                problems.append(f"unknown setting {section.name}.{name} ({section.name} has {', '.join(known)})")
                continue
            default = getattr(values, name)
            if isinstance(value, int) and not isinstance(value, bool) and (
                    isinstance(default, float) or hints[name] in (float, float | None)):
                value = float(value)
            if isinstance(value, list) and isinstance(default, tuple):
                value = tuple(value)
            expected = type(default) if default is not None else _field_type(f"{section.name}.{name}")
            if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
                problems.append(f"{section.name}.{name}")
                continue
            setattr(config, section.name, dataclasses.replace(getattr(config, section.name), **{name: value}))
            values = getattr(config, section.name)
    for section in sections:
        problem = section_problem(config, section)
        if problem:
            setattr(config, section, type(getattr(config, section))())
            problems.append(f"{section} ({in_settings_words(problem)})")
    return config, problems


def in_settings_words(message: str) -> str:
    """A check's message with its flags as the settings they set (--width -> capture.width): a
    settings file's reader never typed those flags."""
    names = {flag: path for path, flags, _ in FLAGS.values() for flag in flags if flag.startswith("--")}
    return re.sub(r"--[a-z][a-z-]*", lambda m: names.get(m.group(0), m.group(0)), message)


def read_file(path: str) -> AppConfig:
    """A saved config (the tray's settings.toml, say) for `--config`: any problem is a one-line
    error naming the file, since the user asked for exactly this file."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise LivegazeError(f"--config {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})")
    try:
        config, problems = from_toml(text)
    except tomllib.TOMLDecodeError as exc:
        raise LivegazeError(f"--config {path}: not a TOML file ({exc})")
    if problems:
        raise LivegazeError(f"--config {path}: bad settings: {', '.join(problems)}")
    return config

