"""Run under Xvfb (QT_QPA_PLATFORM=xcb): open the control window and the preview on a real
X display, let frames flow, and save screenshots of both windows (docs/tray-control.png and
docs/tray-preview.png are these)."""
import dataclasses
import os
import sys
import time

from PyQt6.QtWidgets import QApplication

# What the screenshots show as the camera: a test machine has none, so the clip plays behind this
# name (the pictures then show what a user sees, not a test's temporary path).
SHOWN_CAMERA = "/dev/video0"


def staged_tray(clip: str, **kwargs):
    """A real TrayApp whose camera SHOWN_CAMERA is played from `clip` (the only thing staged)."""
    from livegaze.capture import CaptureConfig
    from livegaze.config import AppConfig
    from livegaze.sinks import NullSink
    from livegaze.tray import settings as store
    from livegaze.tray.app import TrayApp
    from livegaze.tray.controller import PipelineController

    real = PipelineController.run_config

    def played_from_clip(self):
        config = real(self)
        capture = dataclasses.replace(config.capture, source=clip, loop=True, paced=True)
        return dataclasses.replace(config, capture=capture)

    PipelineController.run_config = played_from_clip
    store.save(AppConfig(capture=CaptureConfig(source=SHOWN_CAMERA, width=640, height=480)))
    return TrayApp(sink_factory=NullSink, cameras=[SHOWN_CAMERA], **kwargs)


def pump(app, condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        app.processEvents()
        time.sleep(0.01)
    return condition()


def main(out_dir: str, clip: str) -> int:
    app = QApplication(sys.argv[:1])
    tray = staged_tray(clip, force_window=True)
    tray.show_preview()
    tray.panel.adjustSize()
    tray.panel.move(0, 0)
    tray.preview.move(tray.panel.frameGeometry().width() + 40, 0)
    pump(app, lambda: tray.controller.frames_seen >= 40 and tray.controller.state == "correcting")
    pump(app, lambda: False, timeout=0.3)  # let the windows draw the latest frame and figures
    screen = app.primaryScreen()
    for name, widget in (("control_window", tray.panel), ("preview_window", tray.preview)):
        shot = screen.grabWindow(int(widget.winId()))
        shot.save(os.path.join(out_dir, f"{name}.png"))
    ok = tray.controller.frames_seen >= 40
    tray.quit()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
