"""The control panel (also the fallback when the desktop has no system tray) and the preview."""
from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                             QSlider, QVBoxLayout, QWidget)

RESOLUTIONS = [(640, 480), (1280, 720), (1920, 1080)]
STATE_TEXT = {"off": "Camera off", "starting": "Starting...", "correcting": "Correcting your gaze",
              "paused": "Correction paused", "no_face": "No face in view", "error": "Problem - see message"}


# The tray's model choices, in menu order: (corrector name, label).
CORRECTOR_CHOICES = (("warp", "Warp (your own eye, no model)"), ("geometric", "Geometric (repainted iris)"),
                     ("gazegan", "Trained model / engine..."))

class ControlPanel(QWidget):
    """Start/stop, correction on/off, strength, camera, resolution and model choice."""

    preview_requested = pyqtSignal()

    def __init__(self, controller, cameras: list[str]):
        super().__init__()
        self.controller = controller
        s = controller.settings
        self.setWindowTitle("livegaze")
        grid = QGridLayout(self)
        self.status = QLabel(STATE_TEXT["off"])
        self.status.setWordWrap(True)
        grid.addWidget(self.status, 0, 0, 1, 3)
        self.start_button = QPushButton("Start camera")
        self.start_button.clicked.connect(self._start_stop)
        grid.addWidget(self.start_button, 1, 0)
        self.enabled_box = QCheckBox("Correction on")
        self.enabled_box.setChecked(s.enabled)
        self.enabled_box.toggled.connect(controller.set_enabled)
        grid.addWidget(self.enabled_box, 1, 1)
        preview = QPushButton("Preview")
        preview.clicked.connect(self.preview_requested.emit)
        grid.addWidget(preview, 1, 2)
        grid.addWidget(QLabel("Strength"), 2, 0)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setValue(round(s.strength * 100))
        self.slider.valueChanged.connect(lambda v: (controller.set_strength(v / 100), self._strength_text(v)))
        grid.addWidget(self.slider, 2, 1)
        self.strength_label = QLabel()
        self._strength_text(self.slider.value())
        grid.addWidget(self.strength_label, 2, 2)
        grid.addWidget(QLabel("Camera"), 3, 0)
        self.camera = QComboBox()
        self.camera.setEditable(True)  # a device path or a video file works too
        self.camera.addItems(cameras or [s.camera])
        self.camera.setCurrentText(s.camera)
        self.camera.currentTextChanged.connect(self._camera_changed)
        grid.addWidget(self.camera, 3, 1, 1, 2)
        grid.addWidget(QLabel("Resolution"), 4, 0)
        self.resolution = QComboBox()
        self.resolution.addItems([f"{w}x{h}" for w, h in RESOLUTIONS])
        self.resolution.setCurrentText(f"{s.width}x{s.height}")
        self.resolution.currentTextChanged.connect(self._resolution_changed)
        grid.addWidget(self.resolution, 4, 1, 1, 2)
        grid.addWidget(QLabel("Corrector"), 5, 0)
        self.corrector = QComboBox()
        self.corrector.addItems([label for _, label in CORRECTOR_CHOICES])
        self.corrector.setCurrentIndex(self._corrector_index(s.corrector))
        self.corrector.activated.connect(self._corrector_chosen)
        grid.addWidget(self.corrector, 5, 1, 1, 2)
        self.model_label = QLabel(s.model_path if s.corrector == "gazegan" else "")
        grid.addWidget(self.model_label, 6, 0, 1, 3)
        self.stats = QLabel("")
        grid.addWidget(self.stats, 7, 0, 1, 3)
        controller.state_changed.connect(self.show_state)
        controller.stats_updated.connect(self.show_stats)

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
            self.controller.settings.camera = text.split(" ")[0]
            self._restart_if_running()

    def _resolution_changed(self, text: str) -> None:
        w, h = (int(v) for v in text.split("x"))
        self.controller.settings.width, self.controller.settings.height = w, h
        self._restart_if_running()

    @staticmethod
    def _corrector_index(name: str) -> int:
        names = [n for n, _ in CORRECTOR_CHOICES]
        return names.index(name) if name in names else 0

    def _corrector_chosen(self, index: int) -> None:
        name = CORRECTOR_CHOICES[index][0]
        if name != "gazegan":
            self.controller.set_corrector(name)
            self.model_label.setText("")
            return
        path, _ = QFileDialog.getOpenFileName(self, "GazeGAN checkpoint or engine", "",
                                              "Models (*.pt *.onnx *.plan)")
        if path:
            self.controller.set_corrector("gazegan", path)
            self.model_label.setText(path)
        else:
            self.corrector.setCurrentIndex(self._corrector_index(self.controller.settings.corrector))

    def show_state(self, state: str) -> None:
        self.status.setText(STATE_TEXT.get(state, state))
        self.start_button.setText("Stop camera" if state in ("starting", "correcting", "paused", "no_face")
                                  else "Start camera")

    def show_stats(self, stats: dict) -> None:
        self.stats.setText(f"{stats['fps']:.1f} fps, latency {stats['latency_p50_ms']:.0f} ms, "
                           f"{stats['dropped']} dropped")

    def show_message(self, text: str) -> None:
        self.status.setText(text)


class PreviewWindow(QWidget):
    """Before and after side by side with fps, latency and drops; closing it only hides it."""

    def __init__(self, controller):
        super().__init__()
        self.controller = controller
        self.setWindowTitle("livegaze preview")
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.before, self.after = QLabel("before"), QLabel("after")
        for label in (self.before, self.after):
            label.setMinimumSize(320, 240)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            row.addWidget(label)
        layout.addLayout(row)
        self.stats = QLabel("waiting for frames...")
        layout.addWidget(self.stats)
        controller.preview_updated.connect(self.show_frames)
        controller.stats_updated.connect(self.show_stats)

    def show_frames(self, before, after) -> None:
        for label, image in ((self.before, before), (self.after, after)):
            label.setPixmap(QPixmap.fromImage(image).scaled(label.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                            Qt.TransformationMode.SmoothTransformation))

    def show_stats(self, stats: dict) -> None:
        self.stats.setText(f"{stats['fps']:.1f} fps | end-to-end latency p50 {stats['latency_p50_ms']:.0f} ms, "
                           f"p95 {stats['latency_p95_ms']:.0f} ms | dropped {stats['dropped']}")

    def showEvent(self, event) -> None:
        self.controller.want_preview = True
        super().showEvent(event)

    def closeEvent(self, event) -> None:
        self.controller.want_preview = False  # the camera keeps running
        event.accept()
