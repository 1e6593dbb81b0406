import os
import time

import pytest


@pytest.fixture(scope="session")
def qapp():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtWidgets import QApplication
    return QApplication.instance() or QApplication([])


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEGAZE_CONFIG", str(tmp_path / "config"))
    return tmp_path / "config"


def wait_until(qapp, condition, timeout=120.0):
    """Process Qt events until `condition()` holds (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        qapp.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return condition()
