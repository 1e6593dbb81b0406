import pytest

# The tiny config of the CPU tests: 64x64 faces, narrow networks.
TINY_NETS = dict(size=64, box_h=10, box_w=16, crop=16, base=8, fc=32, er_base=8, d_base=8)
# ... as `python -m training.train` flags, with a batch, no loader workers and a small test split.
TINY = [a for k, v in {**TINY_NETS, "batch": 8, "workers": 0, "test_x": 6, "test_y": 6}.items()
        for a in ("--" + k.replace("_", "-"), str(v))]


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory):
    """The synthetic CelebAGaze set (packaged photos + drawn eyes at known gaze)."""
    from training.syntheticset import write_dataset

    root = tmp_path_factory.mktemp("synth")
    truth = write_dataset(str(root), per_domain=48, seed=0)
    return str(root), truth
