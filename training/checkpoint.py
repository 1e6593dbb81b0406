"""Self-describing checkpoints: network kinds + constructor arguments + state dicts (no pickled
code), optimisers, step counters, the run's config and RNG states. Written atomically."""
from __future__ import annotations

import os
import tempfile

import torch

from training import networks

FORMAT = "livegaze.gazegan/1"


def save(path: str, nets: dict, optimizers: dict | None = None, **extra) -> None:
    """Write to a temporary file in the same folder, then rename: never a half-written checkpoint."""
    payload = {
        "format": FORMAT,
        "networks": {name: {"kind": kind_of(net), "args": dict(net.args)} for name, net in nets.items()},
        "state": {name: unwrap(net).state_dict() for name, net in nets.items()},
        "optim": {name: opt.state_dict() for name, opt in (optimizers or {}).items()},
        **extra,
    }
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ckpt-", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def unwrap(net):
    return getattr(net, "module", net)


def kind_of(net) -> str:
    net = unwrap(net)
    return {networks.PAMAutoencoder: "pam", networks.InpaintGenerator: "generator",
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
    return payload


def rebuild(payload: dict, name: str) -> torch.nn.Module:
    """One network from a checkpoint, rebuilt from its recorded arguments, weights loaded."""
    spec = payload["networks"][name]
    net = networks.build(spec["kind"], **spec["args"])
    net.load_state_dict(payload["state"][name])
    return net.eval()
