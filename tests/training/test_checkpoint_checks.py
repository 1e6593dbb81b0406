"""A checkpoint is checked before anything is built from it: its recorded network arguments
(known names, sensible ranges) and its weights digest. Each reader says what is wrong in one
line naming the file."""
import dataclasses
import subprocess
import sys

import pytest
import torch

from tests.training.conftest import TINY_NETS
from training import checkpoint, networks
from training.config import TrainConfig


@pytest.fixture
def saved(tmp_path):
    """A real checkpoint of the tiny G_x and PAM with its training config, and its path."""
    nets = {"pam": networks.build("pam", crop=TINY_NETS["crop"], base=TINY_NETS["base"], fc=TINY_NETS["fc"]),
            "gx": networks.build("generator", size=TINY_NETS["size"], base=TINY_NETS["base"], fc=TINY_NETS["fc"],
                                 content=TINY_NETS["fc"])}
    path = tmp_path / "last.pt"
    checkpoint.save(str(path), nets, config=dataclasses.asdict(TrainConfig(**TINY_NETS)), step=1, pam_step=1)
    return path


def _tamper(path, change):
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


def _evaluate(path, data):
    return subprocess.run([sys.executable, "-m", "training.evaluate", str(path), str(data)],
                          capture_output=True, text=True, timeout=300)


def _set_arg(name, value):
    def change(payload):
        payload["networks"]["gx"]["args"][name] = value
    return change


# Recorded arguments no network of this project has: each refused, naming the file and argument.
# (base 65 stands for any width past the range: a tampered 512 asks for gigabytes per layer.)
ARGS = {
    "base too wide": (_set_arg("base", 65), "network 'gx': argument base = 65: expected an integer from 1 to 64"),
    "base zero": (_set_arg("base", 0), "argument base = 0: expected an integer"),
    "size not a multiple of 32": (_set_arg("size", 100), "argument size = 100"),
    "base not an integer": (_set_arg("base", 8.5), "argument base = 8.5"),
    "unknown argument": (_set_arg("colour", 3), "unknown argument 'colour' for a generator"),
    "unknown kind": (lambda p: p["networks"]["gx"].update(kind="transformer"), "unknown network kind 'transformer'"),
}


@pytest.mark.parametrize("case", ARGS)
def test_recorded_arguments_are_checked_before_building(case, saved, tmp_path):
    change, expected = ARGS[case]
    _tamper(saved, change)
    with pytest.raises(ValueError, match="^" + str(saved).replace(".", r"\.")):
        checkpoint.load(str(saved))
    result = _evaluate(saved, tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith(f"evaluate: error: {saved}: ") and expected in lines[0], lines


def test_a_checkpoint_without_its_digest_is_damaged(saved, tmp_path):
    """Weights changed and the digest removed (by a tool or by hand): not loaded as if intact."""
    def change(payload):
        del payload["digest"]
        first = next(iter(payload["state"]["gx"]))
        payload["state"]["gx"][first].view(-1)[0] = 1e7
    _tamper(saved, change)
    with pytest.raises(ValueError, match="damaged or not a livegaze checkpoint"):
        checkpoint.load(str(saved))
    result = _evaluate(saved, tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert f"{saved}: damaged or not a livegaze checkpoint" in lines[0]


def test_weights_that_do_not_fit_their_arguments_are_one_line(saved):
    """Arguments in range but not the ones the weights were trained with (crafted, or a half
    edit): a ValueError naming the file and network, not torch's multi-line size report."""
    _tamper(saved, _set_arg("base", 16))
    payload = checkpoint.load(str(saved))
    with pytest.raises(ValueError, match=r"last\.pt: network 'gx': its weights do not fit") as caught:
        checkpoint.rebuild(payload, "gx")
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="has no network 'gy'"):
        checkpoint.rebuild(payload, "gy")


def test_an_intact_checkpoint_still_loads(saved):
    payload = checkpoint.load(str(saved))
    gx = checkpoint.rebuild(payload, "gx")
    assert gx.args == {"size": 64, "base": 8, "fc": 32, "content": 32, "code": 0}
    assert checkpoint.config_of(payload)["size"] == 64
