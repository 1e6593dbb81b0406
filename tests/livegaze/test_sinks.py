import os

import cv2
import numpy as np
import pytest
import pyvirtualcam

from livegaze.errors import LivegazeError, VirtualCameraUnavailable
from livegaze.sinks import VideoFileSink, VirtualCameraSink


class RecordingBackend:
    """A pyvirtualcam backend of our own, registered through its public API, that keeps frames."""

    instances = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.width, self.height, self.fourcc = width, height, fourcc
        self.frames = []
        self.closed = False
        RecordingBackend.instances.append(self)

    def send(self, frame):
        self.frames.append(frame.copy())

    def close(self):
        self.closed = True

    def device(self):
        return "recording-test-device"

    def native_fourcc(self):
        return None


@pytest.fixture
def recording_backend():
    pyvirtualcam.register_backend("livegaze-test", RecordingBackend)
    yield "livegaze-test"
    pyvirtualcam.camera.BACKENDS.pop("livegaze-test", None)  # pyvirtualcam has no unregister


def test_virtual_camera_sink_through_registered_backend(recording_backend):
    sink = VirtualCameraSink(backend=recording_backend)
    sink.open(64, 48, 30)
    frame = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    sink.send(frame)
    sink.close()
    backend = RecordingBackend.instances[-1]
    assert backend.closed and len(backend.frames) == 1
    from pyvirtualcam.util import decode_fourcc
    assert decode_fourcc(backend.fourcc) == pyvirtualcam.PixelFormat.BGR.value
    assert np.array_equal(backend.frames[0].reshape(48, 64, 3), frame)


def test_missing_device_gives_actionable_error():
    if os.path.exists("/dev/video0"):
        pytest.skip("a video device exists here")
    sink = VirtualCameraSink()
    with pytest.raises(VirtualCameraUnavailable) as err:
        sink.open(640, 480, 30)
    msg = str(err.value)
    assert "\n" not in msg and "to fix" in msg and ("modprobe" in msg or "OBS" in msg)


def test_odd_size_virtual_camera_rejected(recording_backend):
    with pytest.raises(LivegazeError, match="even"):
        VirtualCameraSink(backend=recording_backend).open(641, 480, 30)


def test_file_sink_is_atomic(tmp_path):
    path = tmp_path / "out.mp4"
    sink = VideoFileSink(str(path))
    sink.open(64, 48, 30)
    for i in range(5):
        sink.send(np.full((48, 64, 3), i * 40, np.uint8))
    assert not path.exists()  # still under a temporary name
    sink.close()
    cap = cv2.VideoCapture(str(path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_aborted_file_sink_leaves_nothing(tmp_path):
    sink = VideoFileSink(str(tmp_path / "out.mp4"))
    sink.open(64, 48, 30)
    sink.send(np.zeros((48, 64, 3), np.uint8))
    sink.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path,expect", [("missing_dir/out.mp4", "does not exist"), ("out.xyz", "extension")])
def test_file_sink_bad_paths(tmp_path, path, expect):
    with pytest.raises(LivegazeError, match=expect):
        VideoFileSink(str(tmp_path / path))


@pytest.mark.loopback
def test_real_v4l2loopback_device():
    devices = [f"/dev/{d}" for d in os.listdir("/dev") if d.startswith("video")]
    if not devices:
        pytest.skip("no v4l2loopback device: sudo modprobe v4l2loopback devices=1 exclusive_caps=1")
    sink = VirtualCameraSink()
    sink.open(640, 480, 30)
    sink.send(np.zeros((480, 640, 3), np.uint8))
    sink.close()
