"""Built engines, cached per checkpoint, shapes, precision, TensorRT version and GPU.

Layout: CACHE/engines/<key>.plan plus manifest.json mapping key -> metadata. Every write goes to a
temporary name first. A plan whose recorded TensorRT version or GPU differs from the running one is
never loaded: the caller is told why and rebuilds.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import platformdirs

from training.atomic import write_bytes


def cache_dir() -> Path:
    """The per-user cache (downloaded models, built engines); LIVEGAZE_CACHE moves it. Always an
    absolute path: an empty or relative setting would otherwise put the cache in whatever folder
    the command was started from. platformdirs reads XDG_CACHE_HOME (Linux) or HOME (macOS) on
    every call, so the environment at the time of use decides."""
    own = os.environ.get("LIVEGAZE_CACHE")
    return Path(own).expanduser().absolute() if own else Path(platformdirs.user_cache_dir("livegaze"))


def cache_root() -> Path:
    """Where built engines are cached."""
    return cache_dir() / "engines"


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def engine_meta(checkpoint_sha: str, shapes: dict, precision: str, trt_version: str, gpu_name: str,
                compute_capability: str, graph: str = "gx") -> dict:
    return {"checkpoint_sha256": checkpoint_sha, "graph": graph, "shapes": shapes, "precision": precision,
            "tensorrt": trt_version, "gpu": gpu_name, "compute_capability": compute_capability}


def engine_key(meta: dict) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:24]


class EngineCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_root()
        self.manifest_path = self.root / "manifest.json"

    def manifest(self) -> dict:
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return {}

    def lookup(self, meta: dict) -> Path | None:
        """The cached plan for exactly this metadata, or None."""
        entry = self.manifest().get(engine_key(meta))
        if not entry or entry.get("meta") != meta:
            return None
        path = self.root / entry["file"]
        return path if path.is_file() else None

    def store(self, meta: dict, plan: bytes) -> Path:
        key = engine_key(meta)
        path = self.root / f"{key}.plan"
        write_bytes(path, plan)
        write_bytes(path.with_suffix(".json"), json.dumps(meta, indent=2).encode())
        manifest = self.manifest()
        manifest[key] = {"file": path.name, "meta": meta}
        write_bytes(self.manifest_path, json.dumps(manifest, indent=2, sort_keys=True).encode())
        return path


def mismatch(plan_meta: dict, trt_version: str, gpu_name: str, compute_capability: str) -> str | None:
    """Why a plan built elsewhere must not run here, or None when it may."""
    for field, here in (("tensorrt", trt_version), ("gpu", gpu_name), ("compute_capability", compute_capability)):
        if plan_meta.get(field) != here:
            return f"built for {field} {plan_meta.get(field)!r}, this machine has {here!r}"
    return None
