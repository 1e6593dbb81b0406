import os
import shutil
import time

import cv2
import numpy as np
import pytest

from livegaze.capture import Capture, CaptureConfig, EndOfStream, load_image_bgr
from livegaze.errors import LivegazeError
from livegaze.evaluation.clips import photo


def test_reads_every_frame_of_a_video_then_ends(averted_clip):
    path, truth = averted_clip
    cap = Capture(CaptureConfig(source=path))
    frames = []
    with pytest.raises(EndOfStream):
        while True:
            frames.append(cap.read())
    assert len(frames) == len(truth)
    assert frames[0].shape == (480, 640, 3) and frames[0].dtype == np.uint8


def test_resizes_to_requested_size(averted_clip):
    cap = Capture(CaptureConfig(source=averted_clip[0], width=320, height=240))
    assert cap.read().shape == (240, 320, 3)


@pytest.mark.parametrize("channels", [1, 4])
def test_grayscale_and_rgba_images_become_bgr(tmp_path, channels):
    img = photo("astronaut")
    conv = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if channels == 1 else cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    path = str(tmp_path / "face.png")
    cv2.imwrite(path, conv)
    out = load_image_bgr(path)
    assert out.shape == img.shape
    if channels == 4:
        assert np.array_equal(out, img)


@pytest.mark.parametrize("content,expect", [(b"", "empty"), (b"not an image at all", "not a readable image")])
def test_bad_image_files_raise_one_line_errors(tmp_path, content, expect):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(LivegazeError, match=expect) as err:
        load_image_bgr(str(path))
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_missing_and_undecodable_videos(tmp_path):
    with pytest.raises(LivegazeError, match="no such file"):
        Capture(CaptureConfig(source=str(tmp_path / "nope.mp4")))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(LivegazeError, match="junk.mp4"):
        Capture(CaptureConfig(source=str(junk)))


def test_odd_resolution_is_rejected():
    with pytest.raises(LivegazeError, match="even"):
        Capture(CaptureConfig(source="0", width=641, height=480))


def test_lost_source_yields_placeholders_and_reconnects(averted_clip, tmp_path):
    """A device that vanishes mid-stream: frames keep coming (dimmed placeholders) and the
    source is reopened once it is back, without an exception."""
    path = str(tmp_path / "cam.mp4")
    shutil.copy(averted_clip[0], path)
    cap = Capture(CaptureConfig(source=path, reconnect=True, retry_interval_s=0.05, fps=200))
    first = cap.read()
    os.rename(path, path + ".unplugged")
    for _ in range(60):  # read to the end of the stream while the file is gone
        frame = cap.read()
        if cap.lost:
            break
    assert cap.lost
    placeholder = cap.read()
    assert placeholder.shape == first.shape and placeholder.mean() < first.mean()
    os.rename(path + ".unplugged", path)
    deadline = time.monotonic() + 60  # a hang guard: it reconnects on the first retry after the file is back
    while cap.lost and time.monotonic() < deadline:
        frame = cap.read()
    assert not cap.lost and cap.reconnects == 1
    assert frame.shape == first.shape
