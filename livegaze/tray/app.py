"""`livegaze tray`: the app to run during calls.

A system tray icon (its colour says off / correcting / no face / error) with the controls in its
menu; where the desktop has no tray, the same controls open as a small window. `livegaze toggle`
(bind it to a desktop shortcut for a global hotkey) and Ctrl+Shift+G in the app's windows switch
the correction on and off.
"""
from __future__ import annotations

import logging
import os
import signal
import sys

from PyQt6.QtCore import QObject, QTimer, Qt, QtMsgType, qInstallMessageHandler
from PyQt6.QtGui import QActionGroup, QKeySequence, QShortcut
from PyQt6.QtNetwork import QLocalServer
from PyQt6.QtWidgets import QApplication, QMenu, QSlider, QSystemTrayIcon, QWidgetAction

from livegaze.quiet import keep_log_lines_visible
from livegaze.tray import control
from livegaze.tray import settings as settings_store
from livegaze.tray.controller import PipelineController
from livegaze.tray.icons import state_icon
from livegaze.tray.windows import (CORRECTOR_CHOICES, NO_CAMERA_TEXT, RESOLUTIONS, RUNNING_STATES, START_TEXT,
                                   STATE_TEXT, STOP_TEXT, ControlPanel, PreviewWindow, camera_choices,
                                   resolution_text, split_fix)

log = logging.getLogger(__name__)
TOGGLE_SHORTCUT = "Ctrl+Shift+G"


send_command = control.send_command  # `livegaze toggle` uses it from here


class TrayApp(QObject):
    def __init__(self, sink_factory=None, force_window: bool = False, minimized: bool = False,
                 cameras: list[str] | None = None, autostart: bool = True):
        super().__init__()
        # The control socket first: a tray that cannot be reached by `livegaze toggle` is an
        # error the user must see before anything else opens.
        self.server = QLocalServer(self)
        self.socket_path = control.listen(self.server)
        self.config, message = settings_store.load()  # the live app's AppConfig, edited and saved here
        self.notifications: list[tuple[str, str]] = []
        self._quitting = False
        self.controller = PipelineController(self.config, sink_factory=sink_factory)
        if cameras is None:
            from livegaze.capture import list_cameras
            cameras = [c["source"] for c in list_cameras()]
        self.panel = ControlPanel(self.controller, cameras)
        self.preview = PreviewWindow(self.controller)
        self.panel.preview_requested.connect(self.show_preview)
        self.use_tray = QSystemTrayIcon.isSystemTrayAvailable() and not force_window
        self.tray = None
        if self.use_tray:
            self._build_tray(cameras)
        for widget in (self.panel, self.preview):
            QShortcut(QKeySequence(TOGGLE_SHORTCUT), widget, activated=self.controller.toggle)
        self.controller.state_changed.connect(self._state_changed)
        self.controller.error.connect(self.notify)
        self._save_timer = QTimer(self, singleShot=True, interval=500, timeout=self.save_settings)
        for changed in (self.panel.slider.valueChanged, self.panel.enabled_box.toggled,
                       self.panel.battery_box.toggled, self.panel.camera.currentTextChanged, self.panel.resolution.currentTextChanged,
                       self.panel.corrector.activated):
            changed.connect(lambda *_: self._save_timer.start())
        self.server.newConnection.connect(self._command)
        if not self.use_tray:
            self.panel.showMinimized() if minimized else self.panel.show()
        if message:
            self.notify(message)
        if autostart:
            self.controller.start()

    # --- tray menu ---
    def _build_tray(self, cameras: list[str]) -> None:
        self.tray = QSystemTrayIcon(state_icon("off"), self)
        self.tray.setToolTip(f"livegaze: {STATE_TEXT['off']}")
        menu = QMenu()
        self.status_action = menu.addAction(STATE_TEXT["off"])  # the current state, not a command
        self.status_action.setEnabled(False)
        menu.addSeparator()
        self.start_action = menu.addAction(START_TEXT, self._start_stop)
        self.enable_action = menu.addAction("Correction on")
        self.enable_action.setCheckable(True)
        self.enable_action.setChecked(self.config.live.enabled)
        self.enable_action.toggled.connect(self.panel.enabled_box.setChecked)
        self.panel.enabled_box.toggled.connect(self.enable_action.setChecked)
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, 100)
        slider.setValue(self.panel.slider.value())
        slider.valueChanged.connect(self.panel.slider.setValue)
        self.panel.slider.valueChanged.connect(slider.setValue)
        slider_action = QWidgetAction(menu)
        slider_action.setDefaultWidget(slider)
        menu.addSection("Strength")
        menu.addAction(slider_action)
        cams = menu.addMenu("Camera")
        group = QActionGroup(cams)
        for cam in camera_choices(cameras, self.config.capture.source):
            action = cams.addAction(cam, lambda c=cam: self.panel.camera.setCurrentText(c))
            action.setCheckable(True)
            action.setChecked(cam == self.config.capture.source)
            group.addAction(action)
        if not cams.actions():
            cams.addAction(NO_CAMERA_TEXT).setEnabled(False)
        res = menu.addMenu("Resolution")
        for w, h in RESOLUTIONS:
            text = resolution_text(w, h)
            res.addAction(text, lambda t=text: self.panel.resolution.setCurrentText(t))
        corr = menu.addMenu("Corrector")
        for index, (_, label) in enumerate(CORRECTOR_CHOICES):
            corr.addAction(label, lambda i=index: self.panel._corrector_chosen(i))
        self.battery_action = menu.addAction("Battery saver")
        self.battery_action.setCheckable(True)
        self.battery_action.setChecked(self.panel.battery_box.isChecked())
        self.battery_action.toggled.connect(self.panel.battery_box.setChecked)
        self.panel.battery_box.toggled.connect(self.battery_action.setChecked)
        menu.addAction("Calibrate...", self.panel.calibrate)
        menu.addAction("Open preview", self.show_preview)
        menu.addAction("Open controls", self.panel.show)
        menu.addSeparator()
        menu.addAction("Quit", self.quit)
        self.menu = menu
        self.tray.setContextMenu(menu)
        self.tray.activated.connect(lambda reason: self.panel.show()
                                    if reason == QSystemTrayIcon.ActivationReason.Trigger else None)
        self.tray.show()

    def _start_stop(self) -> None:
        self.panel._start_stop()

    def _state_changed(self, state: str) -> None:
        if self.tray is not None:
            self.tray.setIcon(state_icon(state))
            self._show_status(STATE_TEXT.get(state, state))
            running = state in RUNNING_STATES or self.controller.pipeline is not None
            self.start_action.setText(STOP_TEXT if running else START_TEXT)
        self.panel.setWindowIcon(state_icon(state))

    def _show_status(self, text: str) -> None:
        """The menu's status line and the tooltip: the same words as the window's."""
        self.status_action.setText(text)
        self.tray.setToolTip(f"livegaze: {text}")

    def _command(self) -> None:
        """New connections on the local command socket (`livegaze toggle` and friends)."""
        while (conn := self.server.nextPendingConnection()) is not None:
            if not control.accepts(conn):  # another user's process: not a command of ours
                log.warning("%s: refused a connection from another user's process", self.socket_path)
                conn.abort()
                conn.deleteLater()
                continue
            conn.readyRead.connect(self._read_command)
            conn.disconnected.connect(conn.deleteLater)  # Qt frees it once it has finished with it
            if conn.bytesAvailable():
                self._read_command(conn)

    def _read_command(self, conn=None) -> None:
        conn = conn or self.sender()
        command = bytes(conn.readAll()).decode(errors="replace").strip()
        actions = {"toggle": lambda: self.panel.enabled_box.setChecked(not self.controller.live.enabled),
                   "start": self.controller.start, "stop": self.controller.stop, "show": self.bring_up}
        if command in actions:
            # After this slot has returned: the action may take a while (start, stop), and the
            # socket is still inside its own signal here.
            QTimer.singleShot(0, actions[command])

    def notify(self, text: str) -> None:
        """Tell the user what went wrong and what to do; the app keeps running. The log line gets
        its "livegaze:" from the log format, so the text carries none."""
        self.notifications.append(("livegaze", text))
        log.warning("%s", text)
        self.panel.show_message(text)
        if self.tray is not None:
            if self.controller.state == "error":  # the menu's status line names the problem
                problem = split_fix(text)[0]
                short = problem if len(problem) <= 70 else problem[:67].rsplit(" ", 1)[0] + "..."  # menus do not wrap
                self._show_status(short[:1].upper() + short[1:])
                self.tray.setToolTip(f"livegaze: {problem}")
            if QSystemTrayIcon.supportsMessages():
                self.tray.showMessage("livegaze", text, QSystemTrayIcon.MessageIcon.Warning, 10000)

    def bring_up(self) -> None:
        """A second `livegaze tray` asked: show the controls in front."""
        self.panel.showNormal()
        self.panel.raise_()
        self.panel.activateWindow()

    def show_preview(self) -> None:
        self.preview.show()
        self.preview.raise_()

    def save_settings(self) -> None:
        try:
            settings_store.save(self.config)
        except OSError as exc:
            self.notify(f"{settings_store.settings_path()}: could not save the settings ({exc.strerror or exc})")

    def quit(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        self.save_settings()
        self.controller.shutdown()  # stops the camera and the virtual camera
        self.server.close()
        QApplication.quit()


def qt_message(kind, _context, text: str) -> None:
    """Qt's own lines ("This plugin does not support raise()") go to the log at debug level, so the
    terminal shows livegaze's lines; Qt's warnings and errors stay visible with -v."""
    log.debug("Qt: %s", text) if kind == QtMsgType.QtDebugMsg else log.info("Qt: %s", text)


def run_tray(minimized: bool = False) -> int:
    qInstallMessageHandler(qt_message)
    keep_log_lines_visible()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    # One tray per user: the lock, taken before the socket is made, decides between trays started
    # at the same moment; a second start brings the running one's window up and exits.
    lock = control.take_over_or_hand_over()
    if lock is None:
        print("livegaze: the tray is already running; its window is brought up")
        return 0
    try:
        app.setQuitOnLastWindowClosed(False)
        app.setApplicationName("livegaze")
        tray = TrayApp(minimized=minimized)
        # Ctrl-C and SIGTERM quit cleanly (settings saved, camera released). Python runs signal
        # handlers only between its own bytecodes, which the controller's poll timer provides;
        # the quit itself is queued so it runs outside whatever slot the signal interrupted.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: QTimer.singleShot(0, tray.quit))
        if not tray.use_tray:
            app.setQuitOnLastWindowClosed(True)
            tray.panel.destroyed.connect(tray.quit)
        # The line scripts (and the tests) wait for: the socket is up, `livegaze toggle` works.
        print(f"livegaze: tray running; `livegaze toggle` switches the correction on and off "
              f"(control socket {tray.socket_path})", flush=True)
        code = app.exec()
        tray.controller.shutdown()
        return code
    finally:
        lock.release()
