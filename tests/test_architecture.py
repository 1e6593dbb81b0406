"""The shape of the code: the dependency direction, the stage table, the config."""
import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def imported_packages(package: str) -> set[str]:
    """Top-level packages imported anywhere in a package's source (lazy imports included)."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {(alias.name.split(".")[0], str(path)) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((node.module.split(".")[0], str(path)))
    return found


@pytest.mark.parametrize("package,never", [("engines", "livegaze"), ("training", "livegaze"),
                                           ("training", "engines")])
def test_dependencies_point_one_way(package, never):
    """livegaze -> engines -> training: no file of the lower packages imports a higher one."""
    offenders = sorted(path for name, path in imported_packages(package) if name == never)
    assert not offenders, offenders


def test_building_calibration_faces_needs_neither_mediapipe_nor_the_live_app():
    code = ("import sys; from engines.quantize import calibration_faces; faces = calibration_faces(64); "
            "assert faces.shape[1:] == (3, 64, 64), faces.shape; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('livegaze', 'mediapipe')]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_live_path_never_imports_the_evaluation_tools():
    """livegaze.evaluation (test and demo clips, bench, eval) is reached only from the command
    line; no module of the live app imports it, lazily or not."""
    offenders = []
    for path in (ROOT / "livegaze").rglob("*.py"):
        if "evaluation" in path.parts or path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("livegaze.evaluation")]
    assert not offenders, offenders
