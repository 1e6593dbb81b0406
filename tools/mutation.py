"""Mutation testing of one core module with mutmut, with only the tests that cover it.

    python -m tools.mutation MODULE [--workers N] [--keep]
    python -m tools.mutation --list

MODULE is a short name from MODULES below (ringbuffer, gate, warp, ...). The run happens in
build/mutation/MODULE/, from scratch each time: mutmut's cache notices a changed module but not
changed tests (--keep reuses it, to finish an interrupted run; --show prints the survivors'
diffs). At the end it prints every surviving mutant and the score: killed / (total -
equivalent), where the equivalent mutants are those listed, with the reason, in
tools/mutation_equivalent.toml. Exit status 0 when the score is at least 90%.

mutmut's settings shared by all modules are in pyproject.toml's [tool.mutmut]; this script only
narrows them to one module and its tests (mutmut reads one configuration per folder).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.90

# module -> (the file mutated, the tests run against it). The tests are the ones that exercise
# the module's behaviour; mutmut runs, for each mutant, only those among them that reach it.
MODULES = {
    "ringbuffer": ("livegaze/ringbuffer.py", ["tests/livegaze/test_ringbuffer.py"]),
    "gazetarget": ("livegaze/gazetarget.py", ["tests/livegaze/test_gazetarget.py"]),
    "blend": ("livegaze/blend.py", ["tests/livegaze/test_blend.py"]),
    "atomic": ("training/atomic.py", ["tests/training/test_atomic.py", "tests/training/test_atomic_edges.py"]),
    "losses": ("training/losses.py", ["tests/training/test_losses.py", "tests/training/test_networks_losses.py"]),
    "tracking": ("livegaze/tracking.py", ["tests/livegaze/test_tracking.py"]),
    "gate": ("livegaze/gate.py", ["tests/livegaze/test_gate.py"]),
    "lids": ("livegaze/lids.py", ["tests/livegaze/test_lids.py"]),
    "config": ("livegaze/config.py", ["tests/livegaze/test_config.py"]),
    "checkpoint": ("training/checkpoint.py", ["tests/training/test_checkpoint_records.py"]),
    "irisfit": ("livegaze/irisfit.py", ["tests/livegaze/test_irisfit.py"]),
    "warpfield": ("livegaze/correctors/warpfield.py", ["tests/livegaze/correctors/test_warpfield.py"]),
    "warp": ("livegaze/correctors/warp.py", ["tests/livegaze/correctors/test_warp.py",
                                             "tests/livegaze/correctors/test_warp_limits.py",
                                             "tests/livegaze/correctors/test_warp_by.py"]),
    "pipeline": ("livegaze/pipeline.py", ["tests/livegaze/test_pipeline.py", "tests/livegaze/test_faults.py",
                                          "tests/livegaze/test_pipeline_lifecycle.py",
                                          "tests/livegaze/test_pipeline_flow.py"]),
}

# What the workspace needs besides the sources mutmut copies: the other packages, the tests and
# the project file; `shared` is the media folder beside the clone (the tests read ../shared).
LINKS = ("livegaze", "training", "engines", "tests", "pyproject.toml")
KILLED = {"killed", "timeout", "segfault"}


def equivalents(name: str) -> dict[str, str]:
    """The mutants of this module listed as equivalent: mutant name -> why."""
    listed = tomllib.loads((ROOT / "tools" / "mutation_equivalent.toml").read_text())
    return {key: why for key, why in listed.get(name, {}).items()}


def workspace(name: str, fresh: bool) -> Path:
    place = ROOT / "build" / "mutation" / name
    if fresh and (place / "mutants").exists():
        shutil.rmtree(place / "mutants")
    place.mkdir(parents=True, exist_ok=True)
    for link in LINKS:
        if not (place / link).exists():
            (place / link).symlink_to(ROOT / link)
    if not (place / "shared").exists() and (ROOT.parent / "shared").exists():
        (place / "shared").symlink_to(ROOT.parent / "shared")
    return place


def results(place: Path, path: str) -> dict[str, str]:
    """mutant name -> mutmut's status word, from mutmut's record of the last run."""
    from mutmut.stats import status_by_exit_code

    meta = json.loads((place / "mutants" / (path + ".meta")).read_text())
    return {key: status_by_exit_code[code] for key, code in meta["exit_code_by_key"].items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("module", nargs="?", choices=sorted(MODULES), metavar="MODULE")
    parser.add_argument("--workers", type=int, default=1, help="mutants tested at once [default: 1]")
    parser.add_argument("--keep", action="store_true", help="reuse the last run's results (an interrupted run)")
    parser.add_argument("--show", action="store_true", help="print the surviving mutants' diffs, no run")
    parser.add_argument("--list", action="store_true", help="the modules and their tests")
    args = parser.parse_args(argv)
    if args.list or not args.module:
        for name, (path, tests) in MODULES.items():
            print(f"{name:11} {path:36} {' '.join(tests)}")
        return 0
    path, tests = MODULES[args.module]
    place = workspace(args.module, fresh=not (args.keep or args.show))
    mutmut = [sys.executable, str(ROOT / "tools" / "mutation_run.py"), path, *tests, "--"]
    if args.show:
        known = equivalents(args.module)
        names = [key for key, word in sorted(results(place, path).items()) if word not in KILLED and key not in known]
        if names:
            subprocess.run([*mutmut, "show-many", *names], cwd=place)
        return 0
    started = time.monotonic()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    print(f"{args.module}: mutmut on {path} with {' '.join(tests)}; its log: {place / 'mutmut.log'}", flush=True)
    with open(place / "mutmut.log", "w") as log:  # mutmut's progress line redraws itself thousands of times
        run = subprocess.run([*mutmut, "run", "--max-children", str(args.workers)], cwd=place, env=env,
                             stdout=log, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    if run.returncode not in (0, 1):
        print(f"mutmut failed (exit {run.returncode}); the end of its log:", file=sys.stderr)
        print((place / "mutmut.log").read_text()[-3000:], file=sys.stderr)
        return 2
    status = results(place, path)
    known = equivalents(args.module)
    stale = sorted(set(known) - set(status))
    counted = {key: word for key, word in status.items() if key not in known}
    killed = sum(word in KILLED for word in counted.values())
    survivors = sorted(key for key, word in counted.items() if word not in KILLED)
    for key in survivors:
        print(f"{status[key]:10} {key}")
    for key in stale:
        print(f"listed as equivalent but no longer a mutant: {key}")
    score = killed / len(counted) if counted else 1.0
    print(f"{args.module}: {killed} killed of {len(counted)} (total {len(status)}, equivalent "
          f"{len(status) - len(counted)}): {score:.1%} in {seconds / 60:.1f} min with {args.workers} worker(s)")
    return 0 if score >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
