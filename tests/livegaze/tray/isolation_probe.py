"""Run only by test_isolation (given by name, so pytest collects it), under a "user" whose own
cache, config, home and tray socket are fake: these tests use everything that finds the user's
files, and the outer test checks that none of the user's places was touched."""
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_engine_cache_settings_and_calibration_stay_in_test_folders():
    from engines.cache import EngineCache, cache_dir
    from livegaze import calibration
    from livegaze.config import AppConfig
    from livegaze.tray import settings

    EngineCache().store({"probe": 1}, b"plan")
    settings.save(AppConfig())
    calibration.save(calibration.Calibration(camera=(0.01, 0.02)))
    print(f"CACHE {cache_dir().resolve()}")
    print(f"SETTINGS {settings.settings_path().resolve()}")


def test_toggle_finds_no_tray_and_the_folder_is_the_repository():
    assert os.getcwd() == str(ROOT)
    result = subprocess.run([sys.executable, "-m", "livegaze", "toggle"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "no livegaze tray is running" in result.stderr, result.stderr
