"""Run under Xvfb with `trayer` providing a system tray: the app must use the tray (not the
fallback window), show its icon and a menu with every control; saves a screenshot of the menu
(docs/tray-menu.png is this)."""
import os
import sys
import time

from PyQt6.QtWidgets import QApplication, QSystemTrayIcon

from tests.livegaze.tray.screenshot_app import pump, staged_tray


def main(out_dir: str, clip: str) -> int:
    app = QApplication(sys.argv[:1])
    pump(app, QSystemTrayIcon.isSystemTrayAvailable, timeout=20)
    tray = staged_tray(clip)
    if not tray.use_tray or not tray.tray.isVisible():
        print("no tray icon", file=sys.stderr)
        return 2
    pump(app, lambda: tray.controller.state == "correcting")
    texts = [a.text() for a in tray.menu.actions()]
    print("MENU:", "|".join(texts))
    print("TOOLTIP:", tray.tray.toolTip())
    tray.menu.popup(tray.tray.geometry().bottomLeft() if tray.tray.geometry().isValid() else tray.panel.pos())
    pump(app, lambda: False, timeout=0.5)
    app.primaryScreen().grabWindow(int(tray.menu.winId())).save(os.path.join(out_dir, "tray_menu.png"))
    tray.menu.hide()
    tray.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
