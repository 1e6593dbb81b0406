"""What every `python -m training.*` command line shares: one help format (what an option does,
its unit, its choices, then `[default: X]`), a description with an example, and one line instead
of a traceback when the training extra (torch) is not installed.

Standard library only: it runs before torch is imported, to say that torch is missing.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import re
import sys

# The module -> the distribution that brings it, where their names differ.
DISTRIBUTIONS = {"onnxconverter_common": "onnxconverter-common", "cuda": "cuda-python"}
# What pyproject.toml says, for a copy of the code that was never installed.
FALLBACK_EXTRAS = {"torch": "train", "tensorboard": "train", "onnxscript": "train", "onnxconverter_common": "train"}
# From a clone; the README's CPU install names the torch version so pip takes the CPU build.
CLONE = {"train": "pip install 'torch==2.13.0' -e '.[train]'"}


def missing(modules) -> str | None:
    """The first of `modules` that cannot be imported, or None."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            return name
    return None


def extra_of(module: str) -> str | None:
    """The livegaze extra that installs `module`, from the installed package's own requirements."""
    wanted = _canonical(DISTRIBUTIONS.get(module, module))
    try:
        requirements = importlib.metadata.requires("livegaze") or []
    except importlib.metadata.PackageNotFoundError:  # run from a folder, not installed
        return FALLBACK_EXTRAS.get(module)
    for line in requirements:
        found = re.match(r"\s*([A-Za-z0-9_.-]+).*;\s*extra\s*==\s*[\"'](\w+)[\"']", line)
        if found and _canonical(found[1]) == wanted:
            return found[2]
    return None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_hint(module: str) -> str:
    """How to install `module`: its livegaze extra where it has one, else its own distribution."""
    extra = extra_of(module)
    if extra is None:
        return f"pip install {DISTRIBUTIONS.get(module, module)}"
    clone = CLONE.get(extra, f"pip install -e '.[{extra}]'")
    return f"pip install 'livegaze[{extra}]' (from a clone: {clone})"


def require_training_extra(prog: str, modules: tuple[str, ...] = ("torch",)) -> None:
    """Exit 2 with one line naming the extra when a module it brings cannot be imported.

    Called by each entry point's `__main__` before its own imports, which would otherwise end
    in an ImportError traceback."""
    name = missing(modules)
    if name is not None:
        print(f"{prog}: error: {name} is not installed; {install_hint(name)}", file=sys.stderr)
        raise SystemExit(2)


def show_default(value) -> str:
    """A default as the command line would take it: on/off for switches, 'none' for an empty text."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or value == "":
        return "none"
    return str(value)


def helptext(text: str, default=None, required: bool = False) -> str:
    """`text` plus the one format every option ends with: " (required)" or " [default: X]"."""
    if required:
        return f"{text} (required)"
    return f"{text} [default: {show_default(default)}]"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """The description and examples as written (their line breaks matter); wider option column."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def new_parser(prog: str, description: str, examples: str) -> argparse.ArgumentParser:
    """An ArgumentParser with the shared format; `examples`: command lines, one per line."""
    epilog = "examples:\n" + "\n".join("  " + line for line in examples.strip("\n").splitlines())
    return argparse.ArgumentParser(prog=prog, description=description, epilog=epilog, formatter_class=_Formatter)
