"""The tray's saved settings: the live app's own AppConfig (livegaze.config), as TOML in the
user's config directory. The tray edits that one object; `livegaze run --config FILE` runs with it.

A missing file gives the defaults; an unusable one gives the defaults plus a message saying so, and
bad values or unknown keys fall back to their defaults and are named (the app never crashes on it).
Writes go to a temporary name and are renamed into place.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

import platformdirs

from livegaze.config import AppConfig, from_dict, to_toml
from training.atomic import write_text


def settings_path() -> Path:
    """LIVEGAZE_CONFIG (a folder) moves it; empty counts as unset, not as the current folder."""
    own = os.environ.get("LIVEGAZE_CONFIG")
    return (Path(own).expanduser().absolute() if own else Path(platformdirs.user_config_dir("livegaze"))) / "settings.toml"


def load(path: Path | None = None) -> tuple[AppConfig, str | None]:
    """(config, message): message is None unless something in the file was unusable."""
    path = path or settings_path()
    if path.is_dir():
        return AppConfig(), f"{path}: is a folder, not a settings file; using defaults (remove it to save settings)"
    if not path.is_file():
        return AppConfig(), None
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return AppConfig(), f"{path}: unreadable settings ({exc}); using defaults"
    notes = []
    if any(key in FLAT for key in data):
        data = from_flat(data)
        notes.append("read in the old flat format (it is saved in sections from now on)")
    config, problems = from_dict(data)
    if problems:
        notes.append(f"ignored {', '.join(problems)}; using the defaults for those")
    return config, (f"{path}: " + "; ".join(notes)) if notes else None


# Settings files written before the tray saved the AppConfig: one flat table, these names.
FLAT = {"camera": ("capture", "source"), "width": ("capture", "width"), "height": ("capture", "height"),
        "corrector": ("correct", "name"), "strength": ("live", "strength"), "enabled": ("live", "enabled"),
        "virtual_device": ("sink", "device"), "gaze_full": ("gate", "gaze_full"),
        "gaze_none": ("gate", "gaze_none"), "head_full": ("gate", "head_full"),
        "head_none": ("gate", "head_none"), "gate_hysteresis": ("gate", "hysteresis"),
        "ease_frames": ("gate", "ease_frames")}


def from_flat(data: dict) -> dict:
    """An old flat settings table as AppConfig sections (its model_path goes to the checkpoint
    or engine by its extension; an empty virtual_device is the default)."""
    out: dict = {key: value for key, value in data.items() if isinstance(value, dict)}
    for key, value in data.items():
        if key in FLAT:
            if not (key == "virtual_device" and value == ""):
                section, name = FLAT[key]
                out.setdefault(section, {})[name] = value
        elif key == "model_path":
            if isinstance(value, str) and value:
                out.setdefault("correct", {})["engine" if value.endswith((".onnx", ".plan")) else "checkpoint"] = value
        elif not isinstance(value, dict):
            out[key] = value  # unknown: from_dict names it
    return out


def save(config: AppConfig, path: Path | None = None) -> Path:
    return write_text(path or settings_path(), to_toml(config))
