"""A real window on a real (virtual) X server: screenshots of the control window and preview."""
import contextlib
import os
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.xvfb


@contextlib.contextmanager
def xvfb(display: str, tmp_path):
    """A virtual X server on `display`; yields the environment for Qt programs drawing on it."""
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(f"/tmp/.X11-unix/X{display[1:]}"):
                break
            time.sleep(0.05)
        yield dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", LIVEGAZE_CONFIG=str(tmp_path / "cfg"))
    finally:
        server.terminate()
        server.wait()


@pytest.mark.skipif(shutil.which("Xvfb") is None,
                    reason="Xvfb not installed (apt install xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1)")
def test_windows_render_under_xvfb(averted_clip, tmp_path):
    from PyQt6.QtGui import QImage
    out = os.environ.get("LIVEGAZE_ARTIFACTS", str(tmp_path))
    os.makedirs(out, exist_ok=True)
    with xvfb(":97", tmp_path) as env:
        result = subprocess.run([sys.executable, "-m", "tests.livegaze.tray.screenshot_app", out, averted_clip[0]],
                                env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("control_window", "preview_window"):
        image = QImage(os.path.join(out, f"{name}.png"))
        assert not image.isNull() and image.width() > 200
        colours = {image.pixelColor(x, y).name() for x in range(0, image.width(), 17)
                   for y in range(0, image.height(), 17)}
        assert len(colours) > 20  # a drawn window with text and video, not a blank rectangle


@pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("trayer") is None,
                    reason="Xvfb and trayer not installed (apt install xvfb trayer)")
def test_system_tray_icon_and_menu_under_xvfb_with_trayer(averted_clip, tmp_path):
    out = os.environ.get("LIVEGAZE_ARTIFACTS", str(tmp_path))
    os.makedirs(out, exist_ok=True)
    with xvfb(":96", tmp_path) as env:
        trayer = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel",
                                   "--width", "200", "--height", "32"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            result = subprocess.run([sys.executable, "-m", "tests.livegaze.tray.tray_menu_app", out, averted_clip[0]],
                                    env=env, capture_output=True, text=True, timeout=180)
        finally:
            trayer.terminate()
            trayer.wait()
    assert result.returncode == 0, result.stderr[-2000:]
    menu = [l for l in result.stdout.splitlines() if l.startswith("MENU:")][0]
    assert menu.startswith("MENU: Correcting your gaze||Stop camera|Correction on|")  # status line first
    for entry in ("Camera", "Resolution", "Corrector", "Calibrate...", "Open preview", "Open controls", "Quit"):
        assert entry in menu
    assert "TOOLTIP: livegaze: Correcting your gaze" in result.stdout
    from PyQt6.QtGui import QImage
    assert not QImage(os.path.join(out, "tray_menu.png")).isNull()
