import subprocess
import sys

import pytest

from tests.training.conftest import TINY


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny trained GazeGAN checkpoint (G_x, G_y, E_r, PAM) from the synthetic set."""
    from training.syntheticset import write_dataset

    root = tmp_path_factory.mktemp("engine-data")
    write_dataset(str(root), per_domain=12, seed=1)
    run = tmp_path_factory.mktemp("engine-run")
    result = subprocess.run([sys.executable, "-m", "training.train", *TINY, "--data", str(root), "--run-dir",
                             str(run), "--pam-iters", "2", "--iters", "3", "--decay-start", "1", "--test-x", "2",
                             "--test-y", "2"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return str(run / "last.pt")


@pytest.fixture(scope="session")
def exported(tiny_checkpoint, tmp_path_factory):
    from engines.build import ensure_onnx

    return ensure_onnx(tiny_checkpoint, str(tmp_path_factory.mktemp("onnx")))
