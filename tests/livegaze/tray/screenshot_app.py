"""Run under Xvfb (QT_QPA_PLATFORM=xcb): open the control window and the preview on a real
X display, let frames flow, and save screenshots of both windows."""
import os
import sys
import time

from PyQt6.QtWidgets import QApplication


def main(out_dir: str, clip: str) -> int:
    app = QApplication(sys.argv[:1])
    from livegaze.sinks import NullSink
    from livegaze.capture import CaptureConfig
    from livegaze.config import AppConfig
    from livegaze.tray import settings as store
    from livegaze.tray.app import TrayApp
    store.save(AppConfig(capture=CaptureConfig(source=clip, width=640, height=480)))
    tray = TrayApp(sink_factory=NullSink, cameras=["0", clip], force_window=True)
    tray.show_preview()
    tray.panel.adjustSize()
    tray.panel.move(0, 0)
    tray.preview.move(tray.panel.frameGeometry().width() + 40, 0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and tray.controller.frames_seen < 40:
        app.processEvents()
        time.sleep(0.01)
    for _ in range(30):
        app.processEvents()
        time.sleep(0.01)
    screen = app.primaryScreen()
    for name, widget in (("control_window", tray.panel), ("preview_window", tray.preview)):
        shot = screen.grabWindow(int(widget.winId()))
        shot.save(os.path.join(out_dir, f"{name}.png"))
    tray.quit()
    return 0 if tray.controller.frames_seen >= 40 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
