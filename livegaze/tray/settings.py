"""Tray settings, persisted as a small TOML file in the user's config directory.

A missing file gives the defaults; a corrupt one gives the defaults plus a message saying so
(the app never crashes on it). Writes go to a temporary name and are renamed into place.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import platformdirs


@dataclass
class TraySettings:
    camera: str = "0"
    width: int = 1280
    height: int = 720
    corrector: str = "warp"  # a name in livegaze.correctors.REGISTRY
    model_path: str = ""  # checkpoint (.pt) or engine (.onnx/.plan), for a corrector that runs a model
    strength: float = 1.0
    enabled: bool = True
    virtual_device: str = ""  # e.g. /dev/video10; empty = first free
    # Look-away gating (degrees): full correction up to *_full, none past *_none.
    gaze_full: float = 20.0
    gaze_none: float = 30.0
    head_full: float = 15.0
    head_none: float = 25.0
    gate_hysteresis: float = 3.0
    ease_frames: int = 4


def settings_path() -> Path:
    return Path(os.environ.get("LIVEGAZE_CONFIG", platformdirs.user_config_dir("livegaze"))) / "settings.toml"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def load(path: Path | None = None) -> tuple[TraySettings, str | None]:
    """(settings, message): message is None unless the file was unusable and defaults were taken."""
    path = path or settings_path()
    if path.is_dir():
        return TraySettings(), f"{path}: is a folder, not a settings file; using defaults (remove it to save settings)"
    if not path.is_file():
        return TraySettings(), None
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return TraySettings(), f"{path}: unreadable settings ({exc}); using defaults"
    settings = TraySettings()
    problems = []
    known = {f.name for f in dataclasses.fields(TraySettings)}
    unknown = sorted(set(data) - known)
    for field in dataclasses.fields(TraySettings):
        if field.name not in data:
            continue
        value, default = data[field.name], getattr(settings, field.name)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(default):
            problems.append(field.name)
            continue
        setattr(settings, field.name, value)
    if not 0.0 <= settings.strength <= 1.0:
        settings.strength, problems = 1.0, problems + ["strength"]
    # Checked here, in the file's own words: a bad size would otherwise reach the camera and come
    # back as an error about command-line flags the user never typed.
    if not (32 <= settings.width <= 7680 and 32 <= settings.height <= 4320
            and settings.width % 2 == 0 and settings.height % 2 == 0):
        settings.width, settings.height = TraySettings().width, TraySettings().height
        problems.append("width/height")
    for name in ("gaze", "head"):
        full, none = getattr(settings, f"{name}_full"), getattr(settings, f"{name}_none")
        if not 0 <= full < none <= 90:
            default = TraySettings()
            setattr(settings, f"{name}_full", getattr(default, f"{name}_full"))
            setattr(settings, f"{name}_none", getattr(default, f"{name}_none"))
            problems.append(f"{name}_full/{name}_none")
    if not (0 <= settings.gate_hysteresis < 20 and 1 <= settings.ease_frames <= 60):
        settings.gate_hysteresis, settings.ease_frames = TraySettings().gate_hysteresis, TraySettings().ease_frames
        problems.append("gate_hysteresis/ease_frames")
    notes = []
    if problems:
        notes.append(f"ignored bad values for {', '.join(problems)}")
    if unknown:
        notes.append(f"ignored unknown settings {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return settings, (f"{path}: " + "; ".join(notes)) if notes else None


def save(settings: TraySettings, path: Path | None = None) -> Path:
    from engines.cache import atomic_write

    path = path or settings_path()
    text = "".join(f"{f.name} = {_toml_value(getattr(settings, f.name))}\n" for f in dataclasses.fields(settings))
    atomic_write(path, text.encode())
    return path
