"""The control panel (also the fallback when the desktop has no system tray) and the preview."""
from __future__ import annotations

import re
import time

from PyQt6.QtCore import QTimer, Qt, pyqtSignal
from PyQt6.QtGui import QGuiApplication, QPixmap
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QDialog, QFileDialog, QGridLayout, QHBoxLayout, QLabel,
                             QPushButton, QSlider, QVBoxLayout, QWidget)

from livegaze.correctors import REGISTRY
from livegaze.errors import LivegazeError

# Capture sizes offered; (0, 0) keeps the camera's own (the default, as on the command line).
RESOLUTIONS = [(0, 0), (640, 480), (1280, 720), (1920, 1080)]
CAMERAS_OWN = "camera's own"


def resolution_text(width: int, height: int) -> str:
    return CAMERAS_OWN if (width, height) == (0, 0) else f"{width}x{height}"


def parse_resolution(text: str) -> tuple[int, int]:
    return (0, 0) if text == CAMERAS_OWN else tuple(int(v) for v in text.split("x"))


# One wording per action and state, used by the menu, the window, the tooltip and the messages.
START_TEXT, STOP_TEXT = "Start camera", "Stop camera"
NO_CAMERA_TEXT = "No camera found"
STATE_TEXT = {"off": "Camera off", "starting": "Starting the camera...", "correcting": "Correcting your gaze",
              "paused": "Correction paused", "no_face": "No face in view",
              "preview_only": "Preview only: no virtual camera for call apps", "error": "Not working: see the message"}
RUNNING_STATES = ("starting", "correcting", "paused", "no_face", "preview_only")
# A message's fix command: what follows "...: " when it starts with a command (optionally "run ").
FIX_COMMAND = re.compile(r":\s+(?:run\s+)?((?:sudo|livegaze|pip|python3?|chmod|rm|brew|winget)\s.*)$")


def split_fix(text: str) -> tuple[str, str]:
    """(the explanation, the command that fixes it or "") of a one-line message."""
    match = FIX_COMMAND.search(text)
    if not match:
        return text, ""
    return text[:match.start(1)].rstrip(), match.group(1)


def camera_choices(cameras: list[str], saved: str) -> list[str]:
    """The cameras that exist, plus the saved source when it is a video file that exists (a file
    can stand in for a camera); a saved camera that is not there is not offered."""
    import os

    from livegaze.capture import is_camera_source

    extra = [saved] if saved and not is_camera_source(saved) and os.path.isfile(saved) else []
    return list(cameras) + [s for s in extra if s not in cameras]


# The tray's model choices, in menu order: what the corrector registry offers.
CORRECTOR_CHOICES = tuple((e.name, e.label) for e in REGISTRY.values())

class ControlPanel(QWidget):
    """Start/stop, correction on/off, strength, camera, resolution and model choice."""

    preview_requested = pyqtSignal()

    def __init__(self, controller, cameras: list[str]):
        super().__init__()
        self.controller = controller
        config = controller.config
        self.setWindowTitle("livegaze")
        top = QVBoxLayout(self)
        self.status = QLabel(STATE_TEXT["off"])
        self.status.setStyleSheet("font-weight: bold")
        top.addWidget(self.status)
        # A problem in full, wrapped (never clipped), and its fix as text to select or copy.
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setMinimumWidth(420)
        self.message.setVisible(False)
        top.addWidget(self.message)
        self.fix = QLabel()
        self.fix.setWordWrap(True)
        self.fix.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fix.setStyleSheet("font-family: monospace; background: palette(base); border: 1px solid palette(mid); "
                               "padding: 4px")
        self.fix.setToolTip("The command that fixes it: select it, or press Copy")
        self.copy_fix = QPushButton("Copy")
        self.copy_fix.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.fix.text()))
        fix_row = QHBoxLayout()
        fix_row.addWidget(self.fix, 1)
        fix_row.addWidget(self.copy_fix)
        top.addLayout(fix_row)
        for widget in (self.fix, self.copy_fix):
            widget.setVisible(False)
        grid = QGridLayout()
        top.addLayout(grid)
        self.start_button = QPushButton(START_TEXT)
        self.start_button.clicked.connect(self._start_stop)
        grid.addWidget(self.start_button, 1, 0)
        self.enabled_box = QCheckBox("Correction on")
        self.enabled_box.setChecked(config.live.enabled)
        self.enabled_box.toggled.connect(controller.set_enabled)
        grid.addWidget(self.enabled_box, 1, 1)
        preview = QPushButton("Preview")
        preview.clicked.connect(self.preview_requested.emit)
        grid.addWidget(preview, 1, 2)
        grid.addWidget(QLabel("Strength"), 2, 0)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setValue(round(config.live.strength * 100))
        self.slider.valueChanged.connect(lambda v: (controller.set_strength(v / 100), self._strength_text(v)))
        grid.addWidget(self.slider, 2, 1)
        self.strength_label = QLabel()
        self._strength_text(self.slider.value())
        grid.addWidget(self.strength_label, 2, 2)
        grid.addWidget(QLabel("Camera"), 3, 0)
        self.camera = QComboBox()
        self.camera.setEditable(True)  # a device path or a video file works too
        choices = camera_choices(cameras, config.capture.source)
        self.camera.addItems(choices)
        self.camera.lineEdit().setPlaceholderText(f"{NO_CAMERA_TEXT}: plug one in, or type a video file's path")
        self.camera.setCurrentText(config.capture.source if config.capture.source in choices else "")
        self.camera.currentTextChanged.connect(self._camera_changed)
        grid.addWidget(self.camera, 3, 1, 1, 2)
        grid.addWidget(QLabel("Resolution"), 4, 0)
        self.resolution = QComboBox()
        sizes = [resolution_text(w, h) for w, h in RESOLUTIONS]
        saved = resolution_text(config.capture.width, config.capture.height)
        self.resolution.addItems(sizes + ([saved] if saved not in sizes else []))  # a size set in the file
        self.resolution.setCurrentText(saved)
        self.resolution.currentTextChanged.connect(self._resolution_changed)
        grid.addWidget(self.resolution, 4, 1, 1, 2)
        grid.addWidget(QLabel("Corrector"), 5, 0)
        self.corrector = QComboBox()
        self.corrector.addItems([label for _, label in CORRECTOR_CHOICES])
        self.corrector.setCurrentIndex(self._corrector_index(config.correct.name))
        self.corrector.activated.connect(self._corrector_chosen)
        grid.addWidget(self.corrector, 5, 1, 1, 2)
        self.model_label = QLabel(controller.model_path() if config.correct.name in REGISTRY else "")
        grid.addWidget(self.model_label, 6, 0, 1, 3)
        self.stats = QLabel("")
        grid.addWidget(self.stats, 7, 0, 1, 3)
        calibrate = QPushButton("Calibrate...")
        calibrate.setToolTip("Look at the camera, then at the screen: keeps your own eye movements")
        calibrate.clicked.connect(self.calibrate)
        grid.addWidget(calibrate, 8, 0)
        self.battery_box = QCheckBox("Battery saver")
        self.battery_box.setToolTip("Run the face model less often (less CPU and battery; the eyes "
                                    "follow a quick look a little later)")
        self.battery_box.setChecked(controller.battery_saver)
        self.battery_box.toggled.connect(controller.set_battery_saver)
        grid.addWidget(self.battery_box, 8, 1)
        controller.state_changed.connect(self.show_state)
        controller.stats_updated.connect(self.show_stats)

    def calibrate(self) -> "CalibrationDialog":
        self.calibration = CalibrationDialog(self.controller, parent=self)
        self.calibration.show()
        self.calibration.start()
        return self.calibration

    def _strength_text(self, v: int) -> None:
        self.strength_label.setText(f"{v} %")

    def _start_stop(self) -> None:
        if self.controller.pipeline is not None or self.controller.state == "starting":
            self.controller.stop()
        else:
            self.controller.start()

    def _restart_if_running(self) -> None:
        """Apply a camera/resolution change: restart a running camera, or retry after an error."""
        if self.controller.pipeline is not None or self.controller.state == "error":
            self.controller.stop()
            self.controller.start()

    def _camera_changed(self, text: str) -> None:
        if text:
            self.controller.set_camera(text.split(" ")[0])
            self._restart_if_running()

    def _resolution_changed(self, text: str) -> None:
        w, h = parse_resolution(text)
        self.controller.set_camera(self.controller.config.capture.source, w, h)
        self._restart_if_running()

    @staticmethod
    def _corrector_index(name: str) -> int:
        names = [n for n, _ in CORRECTOR_CHOICES]
        return names.index(name) if name in names else 0

    def _corrector_chosen(self, index: int) -> None:
        name = CORRECTOR_CHOICES[index][0]
        if not REGISTRY[name].needs_model:
            self.controller.set_corrector(name)
            self.model_label.setText("")
            return
        path, _ = QFileDialog.getOpenFileName(self, "GazeGAN checkpoint or engine", "",
                                              "Models (*.pt *.onnx *.plan)")
        if path:
            self.controller.set_corrector(name, path)
            self.model_label.setText(path)
        else:
            self.corrector.setCurrentIndex(self._corrector_index(self.controller.config.correct.name))

    def show_state(self, state: str) -> None:
        self.status.setText(STATE_TEXT.get(state, state))
        # A camera being reconnected is running too (its state is "error"): the button stops it.
        running = state in RUNNING_STATES or self.controller.pipeline is not None
        self.start_button.setText(STOP_TEXT if running else START_TEXT)
        if state in ("correcting", "paused", "no_face", "preview_only"):  # the camera's last problem is over
            self.show_message("")

    def show_stats(self, stats: dict) -> None:
        self.stats.setText(f"{stats['fps']:.1f} fps, latency {stats['latency_p50_ms']:.0f} ms, "
                           f"{stats['dropped']} dropped")

    def show_message(self, text: str) -> None:
        """The whole message, wrapped; its fix command, if any, in a field to select or copy. A
        missing virtual camera stays in view under a later message while the camera runs without."""
        output = getattr(self.controller.output, "problem", None)
        texts = [t for t in dict.fromkeys((text, output if self.controller.pipeline is not None else None)) if t]
        parts = [split_fix(t) for t in texts]
        self.message.setText("\n\n".join(explanation for explanation, _ in parts))
        self.message.setVisible(bool(texts))
        command = next((c for _, c in parts if c), "")
        self.fix.setText(command)
        for widget in (self.fix, self.copy_fix):
            widget.setVisible(bool(command))
        # Grow to the message's wrapped height: a top-level window does not on its own.
        layout = self.layout()
        layout.activate()
        height = layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() else self.sizeHint().height()
        if height > self.height():
            self.resize(self.width(), height)


class PreviewWindow(QWidget):
    """Before and after side by side with fps, latency and drops; closing it only hides it."""

    def __init__(self, controller):
        super().__init__()
        self.controller = controller
        self.setWindowTitle("livegaze preview")
        layout = QVBoxLayout(self)
        captions = QHBoxLayout()
        for caption in ("Your camera", "Corrected: what call apps see"):
            captions.addWidget(QLabel(caption), 1, Qt.AlignmentFlag.AlignHCenter)
        layout.addLayout(captions)
        row = QHBoxLayout()
        self.before, self.after = QLabel("before"), QLabel("after")
        for label in (self.before, self.after):
            label.setMinimumSize(320, 240)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            row.addWidget(label)
        layout.addLayout(row)
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.stats)
        self.show_state(controller.state)
        controller.preview_updated.connect(self.show_frames)
        controller.stats_updated.connect(self.show_stats)
        controller.state_changed.connect(self.show_state)
        controller.error.connect(self.show_problem)

    def show_state(self, state: str) -> None:
        """What the preview is waiting for, in words: it never just waits."""
        if state == "off":
            self._clear(f"{STATE_TEXT['off']}: press {START_TEXT} to see the preview")
        elif state == "starting":
            self._clear(STATE_TEXT["starting"])
        elif state == "error" and self.controller.problem:
            self.show_problem(self.controller.problem)

    def show_problem(self, text: str) -> None:
        self.stats.setText(text)

    def _clear(self, text: str) -> None:
        for label, name in ((self.before, "before"), (self.after, "after")):
            label.clear()
            label.setText(name)
        self.stats.setText(text)

    def show_frames(self, before, after) -> None:
        for label, image in ((self.before, before), (self.after, after)):
            label.setPixmap(QPixmap.fromImage(image).scaled(label.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                            Qt.TransformationMode.SmoothTransformation))

    def show_stats(self, stats: dict) -> None:
        if self.controller.state == "error":  # the problem stays in view, not the figures
            return
        note = " | no virtual camera: call apps do not see this" if self.controller.state == "preview_only" else ""
        self.stats.setText(f"{stats['fps']:.1f} fps | end-to-end latency p50 {stats['latency_p50_ms']:.0f} ms, "
                           f"p95 {stats['latency_p95_ms']:.0f} ms | dropped {stats['dropped']}{note}")

    def showEvent(self, event) -> None:
        self.controller.want_preview = True
        super().showEvent(event)

    def closeEvent(self, event) -> None:
        self.controller.want_preview = False  # the camera keeps running
        event.accept()


class CalibrationDialog(QDialog):
    """Guides the two looks (the camera, then the middle of the screen), collecting the running
    corrector's measurements for `seconds` each after a short pause to move the eyes; saves the
    result and applies it. Starts the camera if it is off."""

    STEPS = (("camera", "Look into the camera lens and keep looking there..."),
             ("screen", "Now look at the dot in the middle of this window..."))

    def __init__(self, controller, seconds: float = 2.5, settle: float = 0.7, parent=None):
        super().__init__(parent)
        self.controller, self.seconds, self.settle = controller, seconds, settle
        self.setWindowTitle("livegaze: calibrate")
        self.resize(640, 360)
        layout = QVBoxLayout(self)
        self.text = QLabel("Starting the camera...")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.text)
        self.dot = QLabel("\u25cf")
        self.dot.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.dot.setStyleSheet("font-size: 28px; color: #d33;")
        self.dot.setVisible(False)
        layout.addWidget(self.dot, 1)
        self.result = None
        self.error = None
        self._step = -1
        self._collecting_since = 0.0  # when the current look's collecting began (time.monotonic)
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self._advance)

    def start(self) -> None:
        if self.controller.pipeline is None:
            self.controller.start()
        self.calibrator = self.controller.begin_calibration()
        self._wait_for_camera()

    def _wait_for_camera(self) -> None:
        """Until frames of a real camera flow (no virtual camera is needed for this)."""
        state = self.controller.state
        if state == "error":
            self._finish(self.controller.problem or "the camera did not start")
        elif self.controller.pipeline is None or state == "starting":
            QTimer.singleShot(100, self._wait_for_camera)
        else:
            self._advance()

    def _advance(self) -> None:
        """Next step: show the prompt, pause `settle` seconds, collect `seconds` (longer while too
        few frames came: a busy computer delivers fewer a second), then move on."""
        if self._step >= 0 and self.calibrator.phase is None:
            self.calibrator.begin(self.STEPS[self._step][0])  # the pause is over: collect
            self._collecting_since = time.monotonic()
            self._timer.start(int(self.seconds * 1000))
            return
        phase = self.calibrator.phase
        if phase is not None and self.calibrator.usable(phase) < self.calibrator.min_frames \
                and time.monotonic() - self._collecting_since < max(4 * self.seconds, 5.0):
            self._timer.start(200)
            return
        self._step += 1
        if self._step == len(self.STEPS):
            try:
                self.result = self.controller.end_calibration()
            except LivegazeError as exc:
                self._finish(str(exc))
                return
            dx, dy = self.result.shift
            self._finish(None, f"Done: your screen is {dx:+.2f}, {dy:+.2f} eye widths from the camera. "
                               "Correction now moves your eyes by that much.")
            return
        self.calibrator.begin(None)
        self.text.setText(self.STEPS[self._step][1])
        self.dot.setVisible(self.STEPS[self._step][0] == "screen")
        self._timer.start(int(self.settle * 1000))

    def _finish(self, error: str | None, text: str = "") -> None:
        self.error = error
        if error is not None:
            self.controller.calibrator = None
        self.dot.setVisible(False)
        self.text.setText(text or f"Calibration not saved: {error}")
