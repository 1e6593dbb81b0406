import numpy as np
import pytest

from livegaze.capture import CaptureConfig
from livegaze.config import AppConfig
from livegaze.sinks import NullSink
from livegaze.tray import settings as store
from tests.livegaze.tray.conftest import SCREEN_ANGLE, twin_calibrator, wait_until


def saved(source, width=640, height=480) -> AppConfig:
    return AppConfig(capture=CaptureConfig(source=source, width=width, height=height))


@pytest.fixture
def tray(qapp, config_dir, averted_clip):
    from livegaze.tray.app import TrayApp
    store.save(saved(averted_clip[0]))
    sinks = []
    app = TrayApp(sink_factory=lambda: sinks.append(NullSink(keep=False)) or sinks[-1], cameras=[averted_clip[0]],
                  force_window=True)
    app.sinks = sinks
    yield app
    app.controller.shutdown()
    app.server.close()


def test_starts_corrects_and_slider_reaches_pipeline(qapp, tray):
    c = tray.controller
    assert c.state == "starting"  # start() returned at once; the pipeline opens on a worker thread
    assert wait_until(qapp, lambda: c.state == "correcting" and c.frames_seen > 5)
    tray.panel.slider.setValue(0)
    assert c.live.strength == 0.0
    seen = c.frames_seen
    # frames already past the correction stage keep the old strength: at most the ring depth
    assert wait_until(qapp, lambda: c.last_frame is not None and c.last_frame.status == "disabled")
    assert c.frames_seen - seen <= 6
    frame = c.last_frame
    assert np.array_equal(frame.image, frame.original)
    assert wait_until(qapp, lambda: c.state == "paused")
    tray.panel.slider.setValue(80)
    assert wait_until(qapp, lambda: c.last_frame.status == "corrected")


def test_toggle_checkbox_and_local_command(qapp, tray):
    from livegaze.tray.app import send_command
    c = tray.controller
    assert wait_until(qapp, lambda: c.state == "correcting")
    tray.panel.enabled_box.setChecked(False)
    assert c.live.enabled is False
    assert wait_until(qapp, lambda: c.last_frame.status == "disabled")
    assert send_command("toggle")
    assert wait_until(qapp, lambda: c.live.enabled is True)
    assert wait_until(qapp, lambda: c.last_frame.status == "corrected")


def test_many_local_commands_in_a_row(qapp, tray):
    """Each `livegaze toggle` is applied once, however many come (this crashed the tray about one
    time in ten when the action ran inside the socket's own signal)."""
    from livegaze.tray.app import send_command
    c = tray.controller
    assert wait_until(qapp, lambda: c.state == "correcting")
    for _ in range(100):
        before = c.live.enabled
        assert send_command("toggle")
        assert wait_until(qapp, lambda: c.live.enabled is (not before))
    assert tray.panel.enabled_box.isChecked() is c.live.enabled


def test_stop_and_start_keep_the_ui_responsive(qapp, tray):
    c = tray.controller
    assert wait_until(qapp, lambda: c.state == "correcting")
    tray.panel._start_stop()
    assert c.state == "off" and c.pipeline is None
    assert tray.panel.start_button.text() == "Start camera"
    tray.panel._start_stop()
    assert c.state == "starting"
    assert wait_until(qapp, lambda: c.state == "correcting")


def test_errors_become_notifications_and_app_keeps_running(qapp, tray, tmp_path):
    c = tray.controller
    assert wait_until(qapp, lambda: c.state == "correcting")
    tray.panel.camera.setCurrentText(str(tmp_path / "unplugged.mp4"))  # restarts on a missing source
    assert wait_until(qapp, lambda: c.state == "error")
    assert tray.notifications and "no such file" in tray.notifications[-1][1]
    assert tray.panel.message.text() == f"camera {tmp_path / 'unplugged.mp4'}: no such file (expected a video or image file)"
    tray.panel.camera.setCurrentText(tray.panel.camera.itemText(0))  # plugged back in: it recovers
    assert wait_until(qapp, lambda: c.state == "correcting")
    assert not tray.panel.message.isVisibleTo(tray.panel)  # the problem is over


def test_bad_model_file_is_reported_without_stopping_the_camera(qapp, tray, tmp_path):
    c = tray.controller
    assert wait_until(qapp, lambda: c.state == "correcting")
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not onnx")
    c.set_corrector("gazegan", str(bad))
    assert wait_until(qapp, lambda: any("model not changed" in n[1] for n in tray.notifications))
    assert c.pipeline is not None and c.pipeline.running
    assert wait_until(qapp, lambda: c.last_frame.status == "corrected")


def test_preview_shows_frames_and_closing_keeps_camera(qapp, tray):
    c = tray.controller
    tray.show_preview()
    assert c.want_preview
    assert wait_until(qapp, lambda: tray.preview.after.pixmap() is not None and not tray.preview.after.pixmap().isNull())
    assert "fps" in tray.preview.stats.text()
    tray.preview.close()
    assert not c.want_preview
    assert c.pipeline is not None and c.pipeline.running


def test_settings_persist_after_changes(qapp, tray):
    tray.panel.slider.setValue(42)
    tray.save_settings()
    loaded, _ = store.load()
    assert loaded.live.strength == pytest.approx(0.42)


def test_state_icons_differ(qapp):
    from livegaze.tray.icons import state_icon
    images = {s: state_icon(s).pixmap(32, 32).toImage() for s in ("off", "correcting", "no_face", "error")}
    colours = {s: img.pixelColor(16, 12).name() for s, img in images.items()}
    assert len(set(colours.values())) == 4


def test_without_a_virtual_camera_the_fix_is_shown_and_preview_and_calibration_work(qapp, config_dir, reading_twins, monkeypatch):
    import os
    if os.path.exists("/dev/video0"):
        pytest.skip("a video device exists here")
    from livegaze import calibration
    from livegaze.tray.app import TrayApp
    camera, twins = reading_twins
    monkeypatch.setattr(calibration, "Calibrator", twin_calibrator(twins))
    store.save(saved(camera))
    app = TrayApp(cameras=[camera], force_window=True)  # the real virtual-camera sink
    try:
        c = app.controller
        assert wait_until(qapp, lambda: c.state == "preview_only")
        assert any("modprobe v4l2loopback" in text for _, text in app.notifications)
        assert app.panel.fix.text() == ("sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback devices=1 "
                                        "exclusive_caps=1 card_label=livegaze")
        assert app.panel.message.text().startswith("no virtual camera device (")
        assert app.panel.start_button.text() == "Stop camera"
        app.show_preview()
        assert wait_until(qapp, lambda: app.preview.after.pixmap() is not None and not app.preview.after.pixmap().isNull())
        assert wait_until(qapp, lambda: "call apps do not see this" in app.preview.stats.text())
        dialog = app.panel.calibrate()
        dialog.seconds, dialog.settle = 0.6, 0.2
        assert wait_until(qapp, lambda: dialog.result is not None or dialog.error is not None)
        assert dialog.error is None, dialog.error
        assert calibration.load() is not None and calibration.Calibrator.strangers == 0
    finally:
        app.controller.shutdown()
        app.server.close()


def test_no_camera_is_said_in_the_window_preview_and_menu(qapp, config_dir):
    """No camera at all: the preview says so (never "waiting for frames"), no camera is offered,
    and the menu's status line names the problem; the actions have the window's words."""
    import os
    if os.path.exists("/dev/video0"):
        pytest.skip("a video device exists here")
    from livegaze.tray.app import TrayApp
    app = TrayApp(sink_factory=lambda: NullSink(keep=False), cameras=[], force_window=True, autostart=False)
    try:
        app._build_tray([])  # the menu a desktop with a tray shows (offscreen Qt has no tray)
        assert app.preview.stats.text() == "Camera off: press Start camera to see the preview"
        assert app.start_action.text() == app.panel.start_button.text() == "Start camera"
        cams = [m for m in app.menu.actions() if m.text() == "Camera"][0].menu().actions()
        assert [(a.text(), a.isEnabled()) for a in cams] == [("No camera found", False)]
        assert app.panel.camera.count() == 0 and app.panel.camera.currentText() == ""
        assert app.panel.camera.lineEdit().placeholderText().startswith("No camera found")
        app.controller.start()
        assert wait_until(qapp, lambda: app.controller.state == "error")
        expected = ("no camera: camera 0 cannot be opened (is it connected, and not in use by another app?); "
                    "livegaze tries again every second")
        assert app.preview.stats.text() == expected
        assert app.panel.message.text() == expected and app.panel.message.isVisibleTo(app.panel)
        assert not app.menu.actions()[0].isEnabled()
        assert app.menu.actions()[0].text() == "No camera: camera 0 cannot be opened (is it connected, and not in..."
        assert app.tray.toolTip() == f"livegaze: {expected}"
        assert app.start_action.text() == app.panel.start_button.text() == "Stop camera"  # it keeps trying
        assert [text for _, text in app.notifications] == [expected]  # once, not on every poll
    finally:
        app.controller.shutdown()
        app.server.close()


def test_the_control_window_shows_the_whole_message_and_its_fix(qapp, tray):
    message = ("no virtual camera device ('v4l2loopback' backend: No v4l2 loopback device found at "
               "/dev/video[0-99]. Did you run 'modprobe v4l2loopback'?); to fix: install v4l2loopback and "
               "load it: sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback devices=1")
    tray.panel.show()
    tray.panel.show_message(message)
    qapp.processEvents()
    label, fix = tray.panel.message, tray.panel.fix
    assert label.text() + " " + fix.text() == message
    assert fix.text() == "sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback devices=1"
    for widget in (label, fix):  # wrapped to its full height, not clipped
        assert widget.isVisible() and widget.height() >= widget.heightForWidth(widget.width())
        assert widget.textInteractionFlags() & widget.textInteractionFlags().TextSelectableByMouse
    tray.panel.copy_fix.click()
    from PyQt6.QtGui import QGuiApplication
    assert QGuiApplication.clipboard().text() == fix.text()


def test_calibration_from_the_tray_is_saved_and_applied(qapp, config_dir, reading_twins, monkeypatch):
    """The Calibrate dialog on the running camera: two looks (the screen SCREEN_ANGLE degrees
    below the camera), a saved calibration that lifts the eyes by that look (0.4 x sin of it,
    within 0.03 eye widths), and the corrector rebuilt with it."""
    import math

    from livegaze import calibration
    from livegaze.tray.app import TrayApp

    camera, twins = reading_twins
    monkeypatch.setattr(calibration, "Calibrator", twin_calibrator(twins))
    store.save(saved(camera))
    app = TrayApp(sink_factory=lambda: NullSink(keep=False), cameras=[camera], force_window=True)
    try:
        c = app.controller
        assert wait_until(qapp, lambda: c.state == "correcting")
        dialog = app.panel.calibrate()
        dialog.seconds, dialog.settle = 0.6, 0.2
        assert wait_until(qapp, lambda: dialog.result is not None or dialog.error is not None)
        assert dialog.error is None, dialog.error
        saved_ = calibration.load()
        assert saved_ is not None and np.allclose(saved_.shift, dialog.result.shift, atol=1e-5)
        assert calibration.Calibrator.strangers == 0
        assert abs(-saved_.shift[1] - 0.4 * math.sin(math.radians(SCREEN_ANGLE))) < 0.03, saved_.shift
        assert "Done: your screen is" in dialog.text.text()
        assert wait_until(qapp, lambda: np.allclose(c.pipeline.processor.corrector.config.shift, saved_.shift))
    finally:
        app.controller.shutdown()
        app.server.close()


def _tray_process(config_dir):
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LIVEGAZE_CONFIG=str(config_dir))
    return subprocess.Popen([sys.executable, "-m", "livegaze", "tray"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True), env


def _wait_for_socket(env, proc, timeout=300):
    """Until the tray prints its ready line (its signal handlers and socket are up by then), read
    on a thread so that a tray that hangs silently fails after `timeout` (a hang guard)."""
    import threading

    seen = threading.Event()

    def read():
        for line in proc.stdout:
            if line.startswith("livegaze: tray running"):
                seen.set()
                return

    threading.Thread(target=read, daemon=True).start()
    return seen.wait(timeout)


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_tray_signals_quit_cleanly_and_a_second_tray_hands_over(tmp_path, signame):
    """A real `livegaze tray` process: a second start brings the first one up and exits; Ctrl-C
    or SIGTERM quits with the settings saved and no traceback."""
    import signal
    import subprocess
    import sys

    first, env = _tray_process(tmp_path / "cfg")
    try:
        assert _wait_for_socket(env, first), first.stderr.read() if first.poll() is not None else "no socket"
        second = subprocess.run([sys.executable, "-m", "livegaze", "tray"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert second.returncode == 0 and "already running" in second.stdout
        assert first.poll() is None  # the first keeps its socket and runs on
        first.send_signal(getattr(signal, signame))
        _, stderr = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, stderr
    assert "Traceback" not in stderr and "Abort" not in stderr
    for line in stderr.splitlines():  # livegaze's own lines, each with one prefix; no Qt noise
        assert line.startswith("livegaze: ") and line.count("livegaze:") == 1, line
    assert (tmp_path / "cfg" / "settings.toml").is_file()


def test_battery_saver_is_saved_and_reaches_the_running_pipeline(qapp, tray):
    """The check box runs the face model at least every 12th frame instead of every 6th: on the
    running pipeline at once, in the saved settings, and back again when unchecked."""
    c = tray.controller
    assert not tray.panel.battery_box.isChecked()
    assert wait_until(qapp, lambda: c.state == "correcting" and c.frames_seen > 5)
    assert c.pipeline.processor.follower.every == 6
    tray.panel.battery_box.setChecked(True)
    assert c.pipeline.processor.follower.every == 12
    tray.save_settings()
    assert store.load()[0].landmarks.model_every == 12
    seen = c.pipeline.stats.delivered
    assert wait_until(qapp, lambda: c.last_frame is not None and c.last_frame.followed
                      and c.pipeline.stats.delivered > seen + 6)
    tray.panel.battery_box.setChecked(False)
    assert c.pipeline.processor.follower.every == 6
    tray.save_settings()
    assert store.load()[0].landmarks.model_every == 6
