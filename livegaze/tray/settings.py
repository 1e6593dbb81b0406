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

from livegaze.config import AppConfig, from_toml, to_toml
from training.atomic import write_text


def settings_path() -> Path:
    return Path(os.environ.get("LIVEGAZE_CONFIG", platformdirs.user_config_dir("livegaze"))) / "settings.toml"


def load(path: Path | None = None) -> tuple[AppConfig, str | None]:
    """(config, message): message is None unless something in the file was unusable."""
    path = path or settings_path()
    if path.is_dir():
        return AppConfig(), f"{path}: is a folder, not a settings file; using defaults (remove it to save settings)"
    if not path.is_file():
        return AppConfig(), None
    try:
        config, problems = from_toml(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return AppConfig(), f"{path}: unreadable settings ({exc}); using defaults"
    if not problems:
        return config, None
    return config, f"{path}: ignored {', '.join(problems)}; using the defaults for those"


def save(config: AppConfig, path: Path | None = None) -> Path:
    return write_text(path or settings_path(), to_toml(config))
