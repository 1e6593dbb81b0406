"""Run livegaze as on a machine where some installed packages are not there (an install without
an extra): a site folder of links to every installed package except those, used instead of the
real one. A module that raises on import would not do: `importlib.util.find_spec` still finds it,
where a missing package is simply not found."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _hidden(entry: str, names: tuple[str, ...]) -> bool:
    stem = re.split(r"[-.]", entry, maxsplit=1)[0].lower().replace("_", "")
    return any(stem == n.replace("_", "") or (stem.startswith(n) and not entry.endswith(".pth"))
               for n in names)


def site_without(folder: Path, names: tuple[str, ...]) -> Path:
    """`folder` filled with links to the installed packages, less `names` (import names, which
    here are also their distributions' names: torch, onnx, onnxruntime, openvino)."""
    folder.mkdir(parents=True, exist_ok=True)
    for site in dict.fromkeys((sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])):
        for entry in os.listdir(site):
            if entry.endswith(".pth") or entry.startswith("__editable__") or _hidden(entry, names):
                continue
            link = folder / entry
            if not link.exists():
                link.symlink_to(os.path.join(site, entry))
    return folder


def run_without(names: tuple[str, ...], folder: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """`python -S -m ARGS` with the project and the installed packages less `names` on its path
    (-S: the real site folder and its .pth files are not read)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site_without(folder, names))])}
    return subprocess.run([sys.executable, "-S", "-m", *args], capture_output=True, text=True, env=env,
                          timeout=kwargs.pop("timeout", 300), **kwargs)
