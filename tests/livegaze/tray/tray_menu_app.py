"""Run under Xvfb with `trayer` providing a system tray: the app must use the tray (not the
fallback window), show its icon and a menu with every control; saves a screenshot of the menu."""
import os
import sys
import time

from PyQt6.QtWidgets import QApplication, QSystemTrayIcon


def main(out_dir: str, clip: str) -> int:
    app = QApplication(sys.argv[:1])
    deadline = time.monotonic() + 20
    while not QSystemTrayIcon.isSystemTrayAvailable() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.1)
    from livegaze.sinks import NullSink
    from livegaze.capture import CaptureConfig
    from livegaze.config import AppConfig
    from livegaze.tray import settings as store
    from livegaze.tray.app import TrayApp
    store.save(AppConfig(capture=CaptureConfig(source=clip, width=640, height=480)))
    tray = TrayApp(sink_factory=NullSink, cameras=["0", clip])
    if not tray.use_tray or not tray.tray.isVisible():
        print("no tray icon", file=sys.stderr)
        return 2
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and tray.controller.state != "correcting":
        app.processEvents()
        time.sleep(0.01)
    texts = [a.text() for a in tray.menu.actions()]
    print("MENU:", "|".join(texts))
    print("TOOLTIP:", tray.tray.toolTip())
    tray.menu.popup(tray.tray.geometry().bottomLeft() if tray.tray.geometry().isValid() else tray.panel.pos())
    for _ in range(50):
        app.processEvents()
        time.sleep(0.01)
    app.primaryScreen().grabWindow(int(tray.menu.winId())).save(os.path.join(out_dir, "tray_menu.png"))
    tray.menu.hide()
    tray.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
