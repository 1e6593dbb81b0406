import pytest

TINY = ["--size", "64", "--box-h", "10", "--box-w", "16", "--crop", "16", "--base", "8", "--fc", "32",
        "--er-base", "8", "--d-base", "8", "--batch", "8", "--workers", "0", "--test-x", "6", "--test-y", "6"]


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory):
    """The synthetic CelebAGaze set (packaged photos + drawn eyes at known gaze)."""
    from training.synthetic import write_dataset

    root = tmp_path_factory.mktemp("synth")
    truth = write_dataset(str(root), per_domain=48, seed=0)
    return str(root), truth
