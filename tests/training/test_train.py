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

from tests.training.conftest import TINY, TINY_NETS


def _train(args, **kw):
    # MKL's matrix products may round differently with the alignment of their buffers, which
    # changes from process to process; its reproducible mode makes two runs comparable bit for bit.
    env = {**os.environ, "MKL_CBWR": "AVX2"}
    return subprocess.Popen([sys.executable, "-m", "training.train", *TINY, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _finish_while_progressing(proc, run_dir, stall=300.0):
    """(stdout, stderr) of a training run, waiting for as long as it makes progress: a hang guard
    that fails only when losses.jsonl has not grown for `stall` seconds, so a slow, busy machine
    is never taken for a hung run (a fixed deadline for the whole run was)."""
    path = os.path.join(run_dir, "losses.jsonl")
    size, since = -1, time.monotonic()
    while True:
        try:
            return proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # still running: output so far is kept for the next call
            now = os.path.getsize(path) if os.path.exists(path) else 0
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since > stall:
                proc.kill()
                out, err = proc.communicate()
                raise AssertionError(f"training made no progress for {stall:.0f} s: {err.decode()[-2000:]}")


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
    resumed = _train(common + ["--run-dir", run])
    assert resumed.wait(300) == 0, resumed.stderr.read().decode()
    a, b = _losses(str(tmp_path / "ref")), _losses(run)
    assert [l["step"] for l in b] == list(range(1, 13))
    # Same losses up to float rounding (CPU kernels may sum in another order from run to run, about
    # 1e-5 relative); a wrong batch, RNG or optimizer state after resuming moves them by percents.
    for la, lb in zip(a, b):
        for key in la:
            if key not in ("phase", "step"):
                assert lb[key] == pytest.approx(la[key], rel=1e-4, abs=1e-6), (la["step"], key)


def test_checkpoint_is_self_describing(synth_data, tmp_path):
    from training import checkpoint
    from training.networks import InpaintGenerator
    root, _ = synth_data
    proc = _train(["--data", root, "--phase", "gaze", "--iters", "2", "--decay-start", "1", "--image-every", "2",
                   "--log-every", "1", "--run-dir", str(tmp_path)])
    assert proc.wait(300) == 0
    payload = checkpoint.load(str(tmp_path / "last.pt"))
    gx = checkpoint.rebuild(payload, "gx")
    assert isinstance(gx, InpaintGenerator) and gx.args["size"] == 64
    assert payload["step"] == 2 and payload["config"]["batch"] == 8
    assert json.load(open(tmp_path / "config.json"))["size"] == 64
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    board = EventAccumulator(str(tmp_path / "tb"))
    board.Reload()
    assert {"gx/recon", "gy/sat", "d/x"} <= set(board.Tags()["scalars"])
    assert [e.step for e in board.Scalars("gx/recon")] == [1, 2]
    assert board.Tags()["images"] == ["samples/input-masked-corrected-animation"]
    with pytest.raises(ValueError, match="not a livegaze GazeGAN checkpoint"):
        torch.save({"x": 1}, tmp_path / "other.pt")
        checkpoint.load(str(tmp_path / "other.pt"))


@pytest.mark.slow
def test_training_learns(synth_data, tmp_path):
    """A few hundred steps of the tiny config cut G_x's masked L1 on domain X by at least half, and the
    trained G_x turns the averted eyes of faces it never saw toward the camera."""
    from training import checkpoint
    from training.evaluate import synthetic_gaze
    from training.syntheticset import write_dataset

    root, _ = synth_data
    proc = _train(["--data", root, "--phase", "all", "--pam-iters", "30", "--iters", "180",
                   "--decay-start", "150", "--run-dir", str(tmp_path), "--image-every", "90"])
    out, err = _finish_while_progressing(proc, str(tmp_path))
    assert proc.returncode == 0, err.decode()
    losses = _losses(str(tmp_path))
    rec = [l["gx/recon"] for l in losses if l["phase"] == "gaze"]
    assert np.mean(rec[-10:]) <= 0.5 * np.mean(rec[:10]), (rec[:10], rec[-10:])
    pam = [l["pam/l_pre"] for l in losses if l["phase"] == "pam"]
    assert np.mean(pam[-5:]) < np.mean(pam[:5])

    # Held out: new random placements, iris colours and gaze directions (another seed), each
    # averted face with its camera-facing twin as the truth.
    held_out = tmp_path / "held_out"
    write_dataset(str(held_out), per_domain=24, seed=1)
    gaze = synthetic_gaze(checkpoint.load(str(tmp_path / "last.pt")), str(held_out))
    assert gaze["count"] == 24
    assert gaze["iris_error_after"] <= 0.5 * gaze["iris_error_before"], gaze
    assert gaze["eyes_moved_closer"] >= 0.8, gaze
    # ... with a real iris there, not a blank fill whose centre happens to be the box centre.
    assert gaze["iris_contrast"] >= 0.5, gaze


def test_evaluate_and_animate_run_on_a_checkpoint(synth_data, tmp_path):
    from training.evaluate import evaluate, ms_ssim
    root, _ = synth_data
    proc = _train(["--data", root, "--phase", "all", "--pam-iters", "2", "--iters", "2", "--decay-start", "1",
                   "--run-dir", str(tmp_path)])
    assert proc.wait(300) == 0
    results = evaluate(str(tmp_path / "last.pt"), root)
    # the background is copied by construction: MS-SSIM 1.0, as in the paper's Table 1
    assert results["table1_background"]["ms_ssim"] == pytest.approx(1.0, abs=1e-4)
    assert 0 < results["table2_gx_on_x"]["ms_ssim"] < 1
    a = torch.rand(2, 3, 64, 64)
    assert torch.allclose(ms_ssim(a, a), torch.ones(2), atol=1e-5)
    assert (ms_ssim(a, torch.rand(2, 3, 64, 64)) < 0.5).all()
    result = subprocess.run([sys.executable, "-m", "training.animate", str(tmp_path / "last.pt"), root,
                             "--out", str(tmp_path / "anim"), "--count", "2"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    strip = cv2.imread(str(tmp_path / "anim.png"))
    assert strip.shape[0] == 2 * 64 and strip.shape[1] == 8 * 64  # input + 7 alphas
    assert (tmp_path / "anim.gif").stat().st_size > 0


def test_prepare_sorts_photos_by_gaze(tmp_path):
    from livegaze.evaluation.clips import ClipSpec, iter_frames
    src = tmp_path / "photos"
    src.mkdir()
    for name, gaze in (("look", (0.0, 0.0)), ("away", (0.25, 0.2))):
        frame = next(iter_frames(ClipSpec(frames=1, photos=("astronaut",), gaze=gaze)))[0]
        cv2.imwrite(str(src / f"{name}.png"), frame)
    (src / "broken.jpg").write_bytes(b"junk")
    dst = tmp_path / "data"
    result = subprocess.run([sys.executable, "-m", "training.prepare", str(src), str(dst)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "unreadable 1" in result.stdout
    total = len((dst / "0.txt").read_text().splitlines()) + len((dst / "1.txt").read_text().splitlines()) + \
        len((dst / "uncertain.txt").read_text().splitlines()) - 1
    assert total == 2
    for domain in ("0", "1"):
        for line in (dst / f"{domain}.txt").read_text().splitlines():
            name = line.split()[0]
            assert cv2.imread(str(dst / domain / name)).shape == (256, 256, 3)


def _rank_errors(stderr: str) -> str:
    """The ranks' own complaints, not only the launcher's traceback at the end."""
    keys = ("Error", "error", "terminate", "what()", "Abort", "Traceback", "exitcode")
    return "\n".join(line for line in stderr.splitlines() if any(k in line for k in keys))[-4000:]


def test_torchrun_two_processes(synth_data, tmp_path):
    """DistributedDataParallel on the CPU (gloo): two ranks train together; rank 0 alone logs and
    writes the checkpoint, and each step is logged once."""
    root, _ = synth_data
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training.train", *TINY, "--device", "cpu", "--data", root, "--phase", "all",
           "--pam-iters", "2", "--iters", "3", "--decay-start", "1", "--run-dir", str(tmp_path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, _rank_errors(result.stderr)
    steps = [(l["phase"], l["step"]) for l in _losses(str(tmp_path))]
    assert steps == [("pam", 1), ("pam", 2), ("gaze", 1), ("gaze", 2), ("gaze", 3)]
    from training import checkpoint
    payload = checkpoint.load(str(tmp_path / "last.pt"))
    assert payload["step"] == 3 and payload["pam_step"] == 2


RANK_SCRIPT = """
import torch, torch.distributed as dist
from training.stepbench import synthetic_batch
from training.config import TrainConfig
from training.trainer import Trainer
cfg = TrainConfig(device="cpu", batch=4, workers=0, **%r)
t = Trainer(cfg)
torch.manual_seed(100 + t.rank)  # each rank its own batches
for _ in range(2):
    t.gaze_update(t.to_device(synthetic_batch(cfg, t.device)), t.to_device(synthetic_batch(cfg, t.device)))
flat = torch.cat([p.detach().flatten() for k in ("gx", "gy", "er", "dx", "dy") for p in t.nets[k].parameters()])
everyone = [torch.zeros_like(flat) for _ in range(t.world)]
dist.all_gather(everyone, flat)
if t.rank == 0:
    print("max weight difference between ranks", (everyone[0] - everyone[1]).abs().max().item())
t.close()
from training.train import exit_process
exit_process(0)  # as training.train ends under torchrun
""" % TINY_NETS


def test_ranks_keep_identical_weights(tmp_path):
    """The gradients are averaged across ranks: after steps on different batches, both ranks hold
    the same weights (without the averaging they would drift apart at once)."""
    script = tmp_path / "ranks.py"
    script.write_text(RANK_SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=os.getcwd())
    assert result.returncode == 0, _rank_errors(result.stderr)
    line = [l for l in result.stdout.splitlines() if l.startswith("max weight difference")][0]
    assert float(line.split()[-1]) < 1e-6, line


def test_damaged_weights_are_refused_and_checkpoints_follow_the_umask(tmp_path):
    """One tensor's bytes changed after saving (as a disk or copy error would): loading says so in
    one line, for every reader (they all go through checkpoint.load); the file is 0644 under
    umask 022."""
    import torch

    from training import checkpoint, networks

    net = networks.build("generator", size=TINY_NETS["size"], base=TINY_NETS["base"], fc=TINY_NETS["fc"])
    path = tmp_path / "g.pt"
    old = os.umask(0o022)
    try:
        checkpoint.save(str(path), {"gx": net})
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644
    payload = checkpoint.load(str(path))  # intact: accepted
    first = next(iter(payload["state"]["gx"]))
    payload["state"]["gx"][first].view(-1)[0] = 1e7
    torch.save(payload, path)  # the recorded digest no longer matches the weights
    with pytest.raises(ValueError, match="damaged: its weights do not match the digest"):
        checkpoint.load(str(path))


def test_resuming_with_another_config_is_refused_before_anything_is_written(synth_data, tmp_path):
    """A run dir trained with --base 8, resumed with --base 4: one line naming the field and how to
    start anew; config.json keeps the run's own config. A corrupt last.pt names the option too."""
    root, _ = synth_data
    run = str(tmp_path / "run")
    common = ["--data", root, "--phase", "gaze", "--iters", "2", "--decay-start", "1", "--run-dir", run]
    first = _train(common)
    assert first.wait(300) == 0, first.stderr.read().decode()
    config_before = open(os.path.join(run, "config.json")).read()
    other = subprocess.run([sys.executable, "-m", "training.train", *TINY, *common, "--base", "4"],
                           capture_output=True, text=True, timeout=300)
    assert other.returncode == 2
    lines = [l for l in other.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "was trained with another config (base: 8 -> 4)" in lines[0], lines
    assert "--resume no" in lines[0] and "another --run-dir" in lines[0]
    assert open(os.path.join(run, "config.json")).read() == config_before
    with open(os.path.join(run, "last.pt"), "r+b") as f:
        f.truncate(1000)
    broken = subprocess.run([sys.executable, "-m", "training.train", *TINY, *common],
                            capture_output=True, text=True, timeout=300)
    assert broken.returncode == 2 and "not a readable checkpoint" in broken.stderr
    assert "--resume no" in broken.stderr
