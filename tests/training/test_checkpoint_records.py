"""training.checkpoint's own checks, in process: what load refuses and why, the training config's
geometry ranges, the weights digest, and rebuilding one network."""
import dataclasses

import pytest
import torch

from tests.training.conftest import TINY_NETS
from training import checkpoint, networks
from training.config import TrainConfig


@pytest.fixture
def saved(tmp_path):
    nets = {"pam": networks.build("pam", crop=TINY_NETS["crop"], base=TINY_NETS["base"], fc=TINY_NETS["fc"])}
    path = tmp_path / "last.pt"
    checkpoint.save(str(path), nets, config=dataclasses.asdict(TrainConfig(**TINY_NETS)), step=3)
    return path


def rewrite(path, change):
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


def test_a_saved_checkpoint_loads_with_its_records(saved):
    payload = checkpoint.load(str(saved))
    assert payload["format"] == "livegaze.gazegan/1" and payload["step"] == 3
    assert payload["networks"]["pam"]["kind"] == "pam" and payload["source"] == str(saved)
    assert checkpoint.config_of(payload)["size"] == TINY_NETS["size"]
    net = checkpoint.rebuild(payload, "pam")
    for key, value in net.state_dict().items():
        assert torch.equal(value, payload["state"]["pam"][key])


@pytest.mark.parametrize("change, words", [
    (lambda p: p.update(format="other/1"), "not a livegaze GazeGAN checkpoint (format livegaze.gazegan/1"),
    (lambda p: p.pop("digest"), "has no digest of its weights"),
    (lambda p: p.update(digest=1234), "has no digest of its weights"),
    (lambda p: p["state"]["pam"].update({next(iter(p["state"]["pam"])): torch.zeros(1)}), "damaged: its weights do not match"),
    (lambda p: p.update(networks={}), "no table of networks and weights"),
    (lambda p: p.update(state=[]), "no table of networks and weights"),
    (lambda p: p["networks"]["pam"].update(extra=1), "network 'pam': damaged record"),
    (lambda p: p["networks"].update(gx={"kind": "generator", "args": {}}), "network 'gx': damaged or missing weights"),
    (lambda p: p["state"]["pam"].update(junk="text"), "network 'pam': damaged or missing weights"),
    (lambda p: p.update(config="fast"), "its training config: not a table of settings"),
    (lambda p: p["config"].update(size=100), "its training config: size = 100: expected"),
    (lambda p: p["config"].update(box_h=0), "box_h = 0: expected an integer from 1 to"),
    (lambda p: p["config"].update(box_w=p["config"]["size"] + 1), "box_w = "),
    (lambda p: p["config"].update(test_x=-1), "test_x = -1: expected an integer from 0 to 1000000000"),
    (lambda p: p["config"].update(test_y=True), "test_y = True: expected an integer"),
    (lambda p: p["config"].update(box_h=2.0), "box_h = 2.0: expected an integer"),
    (lambda p: p["config"].update(test_y=10**9 + 1), "test_y = 1000000001: expected an integer from 0 to 1000000000"),
    (lambda p: p["config"].update(crop=12), "its training config: crop = 12: expected an integer from 8 to 128"),
    (lambda p: p["networks"]["pam"].update(kind="nope"), "network 'pam': unknown network kind 'nope'"),
    (lambda p: p["networks"]["pam"]["args"].update(base=0), "network 'pam': argument base = 0: expected"),
    (lambda p: p["state"].update({1: "junk"}), "network 1: damaged or missing weights"),  # a name not text
])
def test_a_damaged_or_foreign_checkpoint_is_one_line_naming_the_file(saved, change, words):
    rewrite(saved, change)
    with pytest.raises(ValueError) as info:
        checkpoint.load(str(saved))
    text = str(info.value)
    assert text.startswith(f"{saved}: ") and words in text and "\n" not in text, text


def test_the_geometry_at_the_ends_of_its_ranges_is_taken(saved):
    def ends(p):
        size = p["config"]["size"]
        p["config"].update(box_h=1, box_w=size, test_x=0, test_y=10**9)
    rewrite(saved, ends)
    assert checkpoint.load(str(saved))["config"]["box_w"] == TINY_NETS["size"]
    assert checkpoint.config_error({}) is None  # absent values take the defaults
    assert checkpoint.config_error({"size": 64, "box_h": 64}) is None
    assert checkpoint.config_error({"size": 64, "box_h": 65}) == "box_h = 65: expected an integer from 1 to 64"


def test_a_missing_file_and_a_file_that_is_no_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        checkpoint.load(str(tmp_path / "none.pt"))
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match=r"text.pt: not a readable checkpoint \("):
        checkpoint.load(str(tmp_path / "text.pt"))
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="not a livegaze GazeGAN checkpoint"):
        checkpoint.load(str(tmp_path / "list.pt"))


def test_the_digest_covers_every_byte_name_and_shape_in_a_fixed_order():
    a = {"net": {"w": torch.arange(6, dtype=torch.float32), "b": torch.ones(2)}}
    same = {"net": {"w": torch.arange(6, dtype=torch.float32), "b": torch.ones(2)}}
    assert checkpoint.weights_digest(a) == checkpoint.weights_digest(same)
    assert len(checkpoint.weights_digest(a)) == 32  # 16 bytes, hex
    flipped = {"net": {"w": torch.arange(6, dtype=torch.float32), "b": torch.tensor([1.0, 1.0000001])}}
    reshaped = {"net": {"w": torch.arange(6, dtype=torch.float32).view(2, 3), "b": torch.ones(2)}}
    renamed = {"other": {"w": torch.arange(6, dtype=torch.float32), "b": torch.ones(2)}}
    recast = {"net": {"w": torch.arange(6, dtype=torch.float64), "b": torch.ones(2)}}
    digests = {checkpoint.weights_digest(s) for s in (a, flipped, reshaped, renamed, recast)}
    assert len(digests) == 5
    two = {"a": {"w": torch.ones(1)}, "b": {"w": torch.zeros(1)}}
    assert checkpoint.weights_digest(two) == checkpoint.weights_digest(dict(reversed(list(two.items()))))


def test_rebuilding_a_network_it_does_not_hold_names_those_it_does(saved):
    payload = checkpoint.load(str(saved))
    with pytest.raises(ValueError, match=rf"^{saved}: has no network 'gx' \(it holds pam\)"):
        checkpoint.rebuild(payload, "gx")
    with pytest.raises(ValueError, match=r"^checkpoint: has no training config \(size, crop"):
        checkpoint.config_of({})


# One small network of every kind the format records, with the arguments each takes.
KINDS = {"pam": dict(crop=16, base=8, fc=32), "content_encoder": dict(crop=16, base=8, fc=32),
         "angle_encoder": dict(crop=16, base=8), "generator": dict(size=64, base=8, fc=32, content=32),
         "discriminator": dict(size=64, crop=16, base=8),
         "cfm_generator": dict(size=64, coarse=64, base=4, fc=16, content=16, fine_base=4, box_h=8, box_w=12,
                               margin=2)}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_recorded_as_itself_and_rebuilt(tmp_path, kind):
    """A network saved inside a wrapper with .module (as DataParallel has) is recorded
    under its own kind and rebuilt as that class with its weights."""
    net = networks.build(kind, **KINDS[kind])

    class Wrapped(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.module, self.args = inner, inner.args

    path = tmp_path / "k.pt"
    checkpoint.save(str(path), {"n": Wrapped(net)})
    payload = checkpoint.load(str(path))
    record = payload["networks"]["n"]
    assert record["kind"] == kind and KINDS[kind].items() <= record["args"].items()
    again = checkpoint.rebuild(payload, "n")
    assert type(again) is type(net)
    for key, value in net.state_dict().items():
        assert torch.equal(again.state_dict()[key], value)


def test_weights_that_do_not_fit_their_arguments_are_one_line(saved):
    payload = checkpoint.load(str(saved))
    payload["networks"]["pam"]["args"] = dict(payload["networks"]["pam"]["args"], fc=16)
    with pytest.raises(ValueError) as info:
        checkpoint.rebuild(payload, "pam")
    text = str(info.value)
    assert text.startswith(f"{saved}: network 'pam': its weights do not fit its recorded arguments")
    assert "\n" not in text


def test_the_optimisers_state_is_saved_with_the_networks(tmp_path):
    net = networks.build("pam", **KINDS["pam"])
    opt = torch.optim.Adam(net.parameters(), lr=0.25)
    path = tmp_path / "o.pt"
    checkpoint.save(str(path), {"pam": net}, {"pam": opt})
    assert checkpoint.load(str(path))["optim"]["pam"]["param_groups"][0]["lr"] == 0.25


def test_load_maps_every_tensor_through_the_map_location_given(saved):
    """map_location is torch.load's: a function is called with each stored tensor's storage and
    its location (here "cpu")."""
    seen = []
    payload = checkpoint.load(str(saved), map_location=lambda storage, where: seen.append(where) or storage)
    assert seen and set(seen) == {"cpu"} and payload["step"] == 3


def test_a_checkpoint_carrying_code_is_refused_without_running_it(tmp_path):
    """Only weights and plain values are unpickled: a file whose payload would run a command as
    it is read is refused as unreadable, and the command never runs."""
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "x": Payload()}, path)
    with pytest.raises(ValueError, match=r"evil.pt: not a readable checkpoint \(UnpicklingError\)"):
        checkpoint.load(str(path))
    assert not marker.exists()


def test_weights_that_do_not_fit_are_named_by_the_mismatch(saved):
    """torch lists a missing weight first and a size mismatch last: the message keeps the last
    line (the mismatch), one line."""
    payload = checkpoint.load(str(saved))
    state = payload["state"]["pam"]
    missing, wrong = list(state)[0], list(state)[2]
    del state[missing]
    state[wrong] = torch.zeros(1)
    with pytest.raises(ValueError) as info:
        checkpoint.rebuild(payload, "pam")
    text = str(info.value)
    assert f"(size mismatch for {wrong}: " in text and text.endswith(".)") and missing not in text
    assert "Error(s)" not in text and "\n" not in text


def test_a_payload_not_from_load_is_named_checkpoint():
    """rebuild on records that did not come from a file: its messages name 'checkpoint'."""
    payload = {"networks": {"pam": {"kind": "pam", "args": KINDS["pam"]}}, "state": {}}
    with pytest.raises(ValueError, match=r"^checkpoint: has no network 'gx' \(it holds pam\)"):
        checkpoint.rebuild(payload, "gx")


def test_an_absent_size_bounds_the_boxes_at_the_reference_256():
    assert checkpoint.config_error({"box_w": 256}) is None
    assert checkpoint.config_error({"box_w": 257}) == "box_w = 257: expected an integer from 1 to 256"
