"""The 512 px model of TIP 2022 with its Coarse-to-Fine Module (training.cfm): the module's own
guarantees, its config and checkpoint records, and a tiny CFM model through every step on the
synthetic 512 set: trained, killed and resumed, evaluated, exported and run by `livegaze photo`."""
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
import torch.nn.functional as F

from livegaze.evaluation.quality import shared_media_dir
from tests.conftest import shared_photo

# A tiny CFM model at the real 512 geometry (80x120 boxes, coarse stage at 128 to stay cheap).
TINY512 = ["--size", "512", "--coarse", "128", "--crop", "32", "--base", "4", "--fc", "16", "--er-base", "4",
           "--d-base", "4", "--fine-base", "4", "--batch", "1", "--workers", "0", "--test-x", "2", "--test-y", "2"]
ENV = {**os.environ, "MKL_CBWR": "AVX2"}  # bit-reproducible CPU products across processes


def _small_cfm():
    from training.cfm import CoarseToFineGenerator

    torch.manual_seed(0)
    return CoarseToFineGenerator(size=128, coarse=64, base=4, fc=8, content=8, fine_base=4, box_h=20, box_w=32,
                                 margin=4).eval()


def test_cfm_changes_only_the_eye_boxes_and_refines_the_coarse_fill_in_place():
    """Outside the boxes the input, bit for bit; inside, with the fine residual switched off, the
    coarse network's fill of the half-size face scaled up, in the right place."""
    from training.networks import boxes_mask

    g = _small_cfm()
    image = torch.rand(2, 3, 128, 128) * 2 - 1
    boxes = torch.tensor([[[20, 50, 52, 70], [72, 48, 104, 68]], [[24, 52, 56, 72], [70, 50, 102, 70]]])
    mask = boxes_mask(boxes, 128)
    content = torch.randn(2, 16)
    with torch.no_grad():
        out = g(image, mask, content, boxes=boxes)
        assert torch.equal(out * (1 - mask), image * (1 - mask))
        g.fine.out.weight.zero_()
        g.fine.out.bias.zero_()
        out = g(image, mask, content, boxes=boxes)
        half = (image[..., ::2, ::2] + image[..., 1::2, ::2] + image[..., ::2, 1::2] + image[..., 1::2, 1::2]) / 4
        mask_half = mask[..., ::2, ::2]  # the boxes' corners are even: the same boxes at half size
        coarse = g.coarse(half, mask_half, content)
        up = F.interpolate(coarse, size=(128, 128), mode="bilinear", align_corners=False)
    assert torch.allclose(out * mask, up * mask, atol=1e-5)


def test_cfm_records_are_checked_and_rebuild(tmp_path):
    from training import checkpoint, netargs

    good = dict(size=512, coarse=256, base=16, fc=256, content=256, code=0, fine_base=16, box_h=80, box_w=120,
                margin=16)
    assert netargs.spec_error("cfm_generator", good) is None
    assert "divisor of size" in netargs.spec_error("cfm_generator", {**good, "coarse": 192})
    assert "multiple of 4" in netargs.spec_error("cfm_generator", {**good, "box_h": 81})
    assert "unknown argument" in netargs.spec_error("generator", {**good})
    g = _small_cfm()
    checkpoint.save(str(tmp_path / "g.pt"), {"gx": g})
    payload = checkpoint.load(str(tmp_path / "g.pt"))
    assert payload["networks"]["gx"]["kind"] == "cfm_generator"
    again = checkpoint.rebuild(payload, "gx")
    assert type(again) is type(g) and again.args == g.args


def test_config_defaults_follow_the_size():
    from training.config import TrainConfig

    low, high = TrainConfig(), TrainConfig(size=512)
    assert (low.box_h, low.box_w, low.crop, low.cfm) == (40, 60, 64, False)
    assert (high.box_h, high.box_w, high.crop, high.cfm, high.coarse) == (80, 120, 128, True, 256)
    assert TrainConfig(size=512, cfm=False).cfm is False  # --no-cfm: the plain network at 512
    out = subprocess.run([sys.executable, "-m", "training.train", "--data", "x", "--size", "512", "--no-cfm",
                          "--dry-run"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout)["cfm"] is False
    bad = subprocess.run([sys.executable, "-m", "training.train", "--data", "x", "--size", "512", "--coarse", "192",
                          "--dry-run"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--coarse 192: expected a divisor of --size (512)" in bad.stderr


@pytest.fixture(scope="module")
def data512(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth512")
    out = subprocess.run([sys.executable, "-m", "training.syntheticset", str(root), "--size", "512",
                          "--per-domain", "8"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return str(root)


def _train(data, run_dir, iters=4):
    args = [sys.executable, "-m", "training.train", *TINY512, "--data", data, "--run-dir", run_dir, "--pam-iters", "1",
            "--iters", str(iters), "--decay-start", "2", "--ckpt-every", "1", "--image-every", "3", "--log-every", "1"]
    return subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _losses(run_dir):
    with open(os.path.join(run_dir, "losses.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def run512(data512, tmp_path_factory):
    run = str(tmp_path_factory.mktemp("run512"))
    proc = _train(data512, run)
    assert proc.wait(600) == 0, proc.stderr.read().decode()[-2000:]
    return run


def test_syntheticset_at_512_draws_faces_at_that_scale(data512):
    image = cv2.imread(os.path.join(data512, "0", "0_00000.jpg"))
    assert image.shape == (512, 512, 3)
    for line in open(os.path.join(data512, "1.txt")).read().splitlines():
        xl, yl, xr, yr = (float(v) for v in line.split()[1:])
        # The eyes 0.312 of the face apart (aligned), times the synthetic scale jitter (0.95-1.05).
        assert 0.95 * 0.312 * 512 - 1 <= xr - xl <= 1.05 * 0.312 * 512 + 1 and abs(yr - yl) <= 1


def test_cfm_model_trains_logs_and_resumes_after_sigkill(data512, run512, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from training import checkpoint

    payload = checkpoint.load(os.path.join(run512, "last.pt"))
    kinds = {k: v["kind"] for k, v in payload["networks"].items()}
    assert kinds["gx"] == kinds["gy"] == "cfm_generator"
    assert payload["networks"]["dx"]["args"]["size"] == 512 and payload["config"]["box_w"] == 120
    board = EventAccumulator(os.path.join(run512, "tb"))
    board.Reload()
    assert "gx/recon" in board.Tags()["scalars"] and board.Tags()["images"]
    killed = str(tmp_path / "killed")
    proc = _train(data512, killed)
    path = os.path.join(killed, "losses.jsonl")
    deadline = time.time() + 600
    while time.time() < deadline and not (os.path.exists(path) and len(open(path).readlines()) >= 3):
        time.sleep(0.02)  # pam 1 + gaze 1..2 logged: the checkpoint of gaze step 1 is on disk
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _losses(killed)[-1]["step"] < 4, "the run ended before it was killed"
    resumed = _train(data512, killed)
    assert resumed.wait(600) == 0, resumed.stderr.read().decode()[-2000:]
    ref, again = _losses(run512), _losses(killed)
    assert [(r["phase"], r["step"]) for r in again] == [(r["phase"], r["step"]) for r in ref]
    for a, b in zip(ref, again):
        for key in a:
            if key not in ("phase", "step"):
                assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a["step"], key)


def test_cfm_model_is_evaluated_at_its_own_size(data512, run512):
    from training.evaluate import evaluate

    results = evaluate(os.path.join(run512, "last.pt"), data512)
    assert results["model"] == {"size": 512, "generator": "cfm"}
    assert results["table1_background"]["ms_ssim"] == pytest.approx(1.0, abs=1e-4)
    assert 0 < results["table2_gx_on_x"]["ms_ssim"] < 1
    assert results["synthetic_gaze"]["count"] == 1  # the held-out fifth of 8 faces


def test_cfm_checkpoint_exports_and_runs_at_its_geometry(data512, run512, tmp_path):
    """build-engine writes ONNX files recording the 512 geometry; the runners read it back and
    agree with torch; `livegaze photo --checkpoint` corrects a real face with the 512 model."""
    from engines.runners import OnnxRuntimeRunner, TorchRunner, onnx_meta

    ckpt = os.path.join(run512, "last.pt")
    # Into the (test-isolated) engine cache, where `photo --checkpoint` finds it again.
    out = subprocess.run([sys.executable, "-m", "livegaze", "build-engine", ckpt], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    gx_onnx = out.stdout.split("onnx gx: ", 1)[1].split(" (", 1)[0]
    meta = onnx_meta(gx_onnx)
    assert meta["size"] == 512 and meta["generator"] == "cfm" and (meta["box_h"], meta["box_w"]) == (80, 120)
    ort = OnnxRuntimeRunner(gx_onnx)
    assert ort.size == 512 and ort.geometry.size == 512 and ort.geometry.box_w == 120
    face = np.random.default_rng(0).random((1, 3, 512, 512), np.float32) * 2 - 1
    ref = TorchRunner(ckpt, "gx", "cpu")(face)
    assert np.abs(ort(face) - ref).max() < 1e-4
    before = shared_photo("obama.jpg")
    photo = subprocess.run([sys.executable, "-m", "livegaze", "photo", os.path.join(shared_media_dir(), "obama.jpg"),
                            "--checkpoint",
                            ckpt, "--runner", "onnxruntime", "-o", str(tmp_path / "out")],
                           capture_output=True, text=True, timeout=300)
    assert photo.returncode == 0, photo.stderr[-2000:]
    assert "face 1 corrected" in photo.stdout
    after = cv2.imread(str(tmp_path / "out" / "obama.jpg"))
    assert before.shape == after.shape and not np.array_equal(before, after)


def test_live_run_uses_the_512_model_at_its_own_geometry(run512, tmp_path):
    """`livegaze run --checkpoint` on a clip: the model corrects frames (the aligned crops are
    the model's 512 geometry, or the runner would refuse them) and only around the eyes."""
    from livegaze.evaluation.clips import ClipSpec, PHOTOS, write_clip

    clip = str(tmp_path / "clip.avi")
    write_clip(clip, ClipSpec(frames=3, photos=PHOTOS[:1], motion="still"))
    out = tmp_path / "out.avi"
    result = subprocess.run([sys.executable, "-m", "livegaze", "run", "--input", clip, "--checkpoint",
                             os.path.join(run512, "last.pt"), "--runner", "onnxruntime", "--output", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "'corrected': 3" in result.stdout
    first_in, first_out = (cv2.VideoCapture(p).read()[1] for p in (clip, str(out)))
    changed = np.abs(first_in.astype(int) - first_out.astype(int)).max(axis=2) > 8
    assert 0 < changed.mean() < 0.05  # the eye regions, not the frame


def test_torchrun_two_processes_train_the_512_model(data512, tmp_path):
    """DistributedDataParallel on the CPU (gloo) with the CFM generators: each step logged once."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training.train", *TINY512, "--device", "cpu", "--data", data512, "--pam-iters", "1",
           "--iters", "2", "--decay-start", "1", "--run-dir", str(tmp_path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [(r["phase"], r["step"]) for r in _losses(str(tmp_path))] == [("pam", 1), ("gaze", 1), ("gaze", 2)]
