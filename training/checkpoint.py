"""Self-describing checkpoints: network kinds + constructor arguments + state dicts (no pickled
code), optimisers, step counters, the run's config and RNG states. Written atomically, with a
digest of the weights recorded at save time and checked at load (torch's archive has no check of
its own: a checkpoint with damaged weight bytes loaded without a word)."""
from __future__ import annotations

import hashlib
import os

import torch

from training import networks
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
    recorded = payload.get("digest")
    if recorded is not None and weights_digest(payload["state"]) != recorded:
        raise ValueError(f"{path}: damaged: its weights do not match the digest recorded when it was saved "
                         "(a copy or disk error?); use another checkpoint or train again")
    return payload


def rebuild(payload: dict, name: str) -> torch.nn.Module:
    """One network from a checkpoint, rebuilt from its recorded arguments, weights loaded."""
    spec = payload["networks"][name]
    net = networks.build(spec["kind"], **spec["args"])
    net.load_state_dict(payload["state"][name])
    return net.eval()
