import subprocess
import sys

import pytest
import torch

from training.data import DatasetError, GazeDataset, StepSampler, read_labels, split


def test_reads_layout_and_splits_like_upstream(synth_data):
    root, _ = synth_data
    ys, xs = read_labels(root, 0), read_labels(root, 1)
    assert len(ys) == len(xs) == 48
    train, test = split(ys, 300)
    assert len(test) == 48 // 5 and test == ys[-len(test):]


def test_flip_swaps_the_eyes(synth_data):
    root, _ = synth_data
    ds = GazeDataset(read_labels(root, 1))
    plain, flipped = ds[(0, False)], ds[(0, True)]
    assert torch.equal(flipped["image"], torch.flip(plain["image"], dims=[2]))
    # the left eye of the flipped image is the mirrored right eye of the original
    assert flipped["eyes"][0, 0] == pytest.approx(255 - plain["eyes"][1, 0])
    assert flipped["eyes"][0, 0] < flipped["eyes"][1, 0]


def test_sampler_is_a_function_of_the_step():
    a = list(StepSampler(100, 4, seed=3, start=0, stop=10))
    b = list(StepSampler(100, 4, seed=3, start=6, stop=10))
    assert a[6:] == b


@pytest.mark.parametrize("content,expect", [
    ("a.jpg 1 2 3\n", "line 1: expected 'name xL yL xR yR'"),
    ("a.jpg 1 2 3 x\n", "line 1: eye coordinates must be numbers"),
    ("missing.jpg 1 2 3 4\n", "missing.jpg does not exist"),
])
def test_malformed_datasets_name_file_and_line(tmp_path, content, expect):
    (tmp_path / "0").mkdir()
    (tmp_path / "0.txt").write_text(content)
    with pytest.raises(DatasetError, match=expect):
        read_labels(str(tmp_path), 0)


def test_train_cli_reports_bad_dataset(tmp_path):
    result = subprocess.run([sys.executable, "-m", "training.train", "--data", str(tmp_path / "nope"),
                             "--run-dir", str(tmp_path / "run")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "nope" in result.stderr and "does not exist" in result.stderr
    assert not (tmp_path / "run").exists()


def test_dry_run_prints_resolved_config():
    import json
    result = subprocess.run([sys.executable, "-m", "training.train", "--data", "data", "--dry-run", "--batch", "4"],
                            capture_output=True, text=True)
    cfg = json.loads(result.stdout)
    assert cfg["batch"] == 4 and cfg["lr"] == 1e-4 and cfg["pam_lr"] == 5e-4 and cfg["beta1"] == 0.5
    assert cfg["iters"] == 200000 and cfg["decay_start"] == 20000 and cfg["box_h"] == 40 and cfg["box_w"] == 60
