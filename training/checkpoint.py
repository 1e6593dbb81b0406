"""Self-describing checkpoints: network kinds + constructor arguments + state dicts (no pickled
code), optimisers, step counters, the run's config and RNG states. Written atomically, with a
digest of the weights recorded at save time and checked at load (torch's archive has no check of
its own: a checkpoint with damaged weight bytes loaded without a word)."""
from __future__ import annotations

import hashlib
import os

import torch

from training import netargs, networks
from training.atomic import replacing

FORMAT = "livegaze.gazegan/1"


def save(path: str, nets: dict, optimizers: dict | None = None, **extra) -> None:
    """Write to a temporary file in the same folder, then rename: never a half-written checkpoint."""
    state = {name: unwrap(net).state_dict() for name, net in nets.items()}
    payload = {
        "format": FORMAT,
        "networks": {name: {"kind": kind_of(net), "args": dict(net.args)} for name, net in nets.items()},
        "state": state,
        "digest": weights_digest(state),
        "optim": {name: opt.state_dict() for name, opt in (optimizers or {}).items()},
        **extra,
    }
    with replacing(path) as tmp:
        torch.save(payload, tmp)


def weights_digest(state: dict) -> str:
    """BLAKE2 of every weight tensor's bytes, in a fixed order (about 0.1 s per 100 MB)."""
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(state):
        for key, tensor in state[name].items():
            h.update(f"{name}/{key}/{tensor.dtype}/{tuple(tensor.shape)}".encode())
            h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def unwrap(net):
    return getattr(net, "module", net)


def kind_of(net) -> str:
    from training.cfm import CoarseToFineGenerator

    net = unwrap(net)
    return {CoarseToFineGenerator: "cfm_generator", networks.PAMAutoencoder: "pam", networks.InpaintGenerator: "generator",
            networks.AngleEncoder: "angle_encoder", networks.Discriminator: "discriminator",
            networks.ContentEncoder: "content_encoder"}[type(net)]


def load(path: str, map_location="cpu") -> dict:
    """Read a checkpoint; a file that is not one raises ValueError naming it."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a livegaze GazeGAN checkpoint (format {FORMAT} expected)")
    check_networks(path, payload)
    # Every checkpoint this format names is saved with its digest: one without it was cut down
    # or written by something else, and its weights cannot be trusted.
    recorded = payload.get("digest")
    if not isinstance(recorded, str):
        raise ValueError(f"{path}: damaged or not a livegaze checkpoint: it has no digest of its weights; "
                         "use another checkpoint or train again")
    if weights_digest(payload["state"]) != recorded:
        raise ValueError(f"{path}: damaged: its weights do not match the digest recorded when it was saved "
                         "(a copy or disk error?); use another checkpoint or train again")
    payload["source"] = path  # for messages about it; never saved (save writes its own table)
    return payload


def check_networks(path: str, payload: dict) -> None:
    """Every recorded network a known kind with arguments in range (training.netargs) and its
    weights present, before anything is built from it: one line naming the file and argument."""
    specs, state = payload.get("networks"), payload.get("state")
    if not isinstance(specs, dict) or not specs or not isinstance(state, dict):
        raise ValueError(f"{path}: damaged or not a livegaze checkpoint: no table of networks and weights")
    for name, spec in specs.items():
        if not isinstance(spec, dict) or set(spec) != {"kind", "args"}:
            raise ValueError(f"{path}: network {name!r}: damaged record (expected its kind and arguments)")
        why = netargs.spec_error(spec["kind"], spec["args"])
        if why:
            raise ValueError(f"{path}: network {name!r}: {why}")
    for name in sorted(set(specs) | set(state), key=str):
        if not isinstance(state.get(name), dict) or not all(torch.is_tensor(t) for t in state[name].values()):
            raise ValueError(f"{path}: network {name!r}: damaged or missing weights")
    cfg = payload.get("config")
    if cfg is not None:
        why = config_error(cfg)
        if why:
            raise ValueError(f"{path}: its training config: {why}")


# The config fields the readers of a checkpoint use (evaluate, animate, distill, export).
GEOMETRY = ("size", "crop", "box_h", "box_w", "test_x", "test_y")


def config_error(cfg) -> str | None:
    """What is wrong with a checkpoint's recorded training config, or None."""
    if not isinstance(cfg, dict):
        return "not a table of settings"
    for name in ("size", "crop"):
        if name in cfg and netargs.range_error(name, cfg[name]):
            return f"{name} = {cfg[name]!r}: {netargs.range_error(name, cfg[name])}"
    size = cfg.get("size", 256)
    for name in ("box_h", "box_w", "test_x", "test_y"):
        value, low = cfg.get(name, 1), 1 if name.startswith("box") else 0
        high = size if name.startswith("box") else 10**9
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"{name} = {value!r}: expected an integer from {low} to {high}"
    return None


def config_of(payload: dict) -> dict:
    """The training config a checkpoint was saved with (its geometry and test split), or ValueError."""
    cfg = payload.get("config")
    missing = [k for k in GEOMETRY if k not in (cfg or {})]
    if missing:
        raise ValueError(f"{payload.get('source', 'checkpoint')}: has no training config ({', '.join(missing)} "
                         "missing); it was not written by python -m training.train")
    return cfg


def rebuild(payload: dict, name: str) -> torch.nn.Module:
    """One network from a checkpoint (as `load` returns it, its records checked), rebuilt from its
    recorded arguments, weights loaded; weights that do not fit them are a ValueError."""
    source = payload.get("source", "checkpoint")
    if name not in payload["networks"]:
        raise ValueError(f"{source}: has no network {name!r} (it holds {', '.join(payload['networks'])})")
    spec = payload["networks"][name]
    net = networks.build(spec["kind"], **spec["args"])
    try:
        net.load_state_dict(payload["state"][name])
    except RuntimeError as exc:  # shapes or names that do not match the recorded arguments
        last = str(exc).strip().splitlines()[-1].strip()
        raise ValueError(f"{source}: network {name!r}: its weights do not fit its recorded arguments "
                         f"({last})") from exc
    return net.eval()
