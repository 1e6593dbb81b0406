"""The `python -m training.*` command lines as a user meets them: every option described, one
line (no traceback) for bad options and for a missing training extra."""
import os
import re
import subprocess
import sys

import pytest

from tests.training.conftest import TINY

ENTRY_POINTS = ("train", "prepare", "evaluate", "syntheticset", "stepbench", "distill", "animate")
NEED_TORCH = ("train", "evaluate", "stepbench", "distill", "animate")
# A flag that sets nothing, so it has no default to show.
NO_DEFAULT = {"-h", "--dry-run"}


def _run(args, **kw):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, **kw)


def _options(help_text: str) -> dict[str, str]:
    """{flag or positional name: its whole help text} of everything `--help` lists under its
    headings (from "positional arguments:" or "options:" on, before the examples)."""
    start = min(i for i in (help_text.find("\npositional arguments:"), help_text.find("\noptions:")) if i >= 0)
    body = help_text[start:].split("\nexamples:")[0]
    options, current = {}, None
    for line in body.splitlines():
        name = re.match(r"  (-{1,2}[\w-]+|[A-Z][A-Z_]+)\b", line)
        if name:
            current = name[1]
            options[current] = line.strip()
        elif current and line.startswith("    "):
            options[current] += " " + line.strip()
        else:
            current = None
    return options


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_every_option_says_what_it_does_and_its_default(module):
    result = _run(["-m", f"training.{module}", "--help"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    description = out.split("\n\n")[1]
    assert len(description.split()) >= 12, description  # a description, not the usage's echo
    assert re.search(rf"examples:\n  (python|torchrun) .*training\.{module}", out), out[-600:]
    options = _options(out)
    assert len(options) >= 2, out
    for flag, text in options.items():
        if flag in NO_DEFAULT:
            continue
        assert len(text.split()) >= 6, (flag, text)  # the flag, what it takes, and words on what it does
        assert re.search(r"\[default: [^\]]+\]$", text) or text.endswith("(required)"), (flag, text)


def test_train_help_switches_required_and_domains():
    out = _run(["-m", "training.train", "--help"]).stdout
    assert "BOOL" not in out
    for switch in ("amp", "channels-last", "cuda-graph", "flip"):
        assert f"--{switch}, --no-{switch}" in out
    usage = out.split("\n\n")[0]
    assert "--data FOLDER" in usage and "[--data" not in usage  # required: outside the brackets
    data = _options(out)["--data"]
    assert data.endswith("(required)") and "domain Y" in data and "domain X" in data
    assert "{pam,gaze,all}" in out


def test_prepare_help_explains_the_domains_and_thresholds():
    out = _run(["-m", "training.prepare", "--help"]).stdout
    assert re.search(r"X\s+looking into the camera.*--x-max.*1/", out)
    assert re.search(r"Y\s+looking away.*--y-min.*0/", out)
    assert "eye widths" in _options(out)["--x-max"] and "eye widths" in _options(out)["--y-min"]
    assert "uncertain.txt" in out


BLOCK_TORCH = """
import sys
class _NoTorch:
    '''As if torch were not installed.'''
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NoTorch())
"""


@pytest.fixture
def without_torch(tmp_path):
    """An environment whose Python cannot import torch (a sitecustomize refuses it)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_TORCH)
    path = os.pathsep.join(p for p in (str(site), os.getcwd(), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


@pytest.mark.parametrize("module", NEED_TORCH)
def test_without_torch_one_line_names_the_extra(module, without_torch, tmp_path):
    args = {"train": ["--data", str(tmp_path)], "stepbench": ["--device", "cpu"]}.get(
        module, [str(tmp_path / "last.pt"), str(tmp_path)])
    result = _run(["-m", f"training.{module}", *args], env=without_torch)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert "torch is not installed" in lines[0] and "pip install 'livegaze[train]'" in lines[0], lines
    assert "torch==2.13.0" in lines[0]  # the CPU build, as the README installs it


@pytest.mark.parametrize("module", ("prepare", "syntheticset"))
def test_data_tools_run_without_torch(module, without_torch):
    result = _run(["-m", f"training.{module}", "--help"], env=without_torch)
    assert result.returncode == 0, result.stderr[-2000:]


def test_build_engine_without_torch_one_line(without_torch, tmp_path):
    ckpt = tmp_path / "last.pt"
    ckpt.write_bytes(b"not read")
    result = _run(["-m", "livegaze", "build-engine", str(ckpt)], env=without_torch)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("livegaze: error: build-engine needs torch"), lines
    assert "pip install 'livegaze[train]'" in lines[0]


def _no_cuda_1() -> bool:
    import torch
    return torch.cuda.device_count() < 2


def _pam_missing(tmp):
    return ["--phase", "all", "--pam-iters", "20", "--pam-checkpoint", str(tmp / "missing.pt")]


# option(s) -> the start of the one line expected (each found before anything is trained or written)
BAD = {
    "batch 0": (lambda tmp: ["--batch", "0"], "--batch 0: expected at least 1"),
    "base 0": (lambda tmp: ["--base", "0"], "--base 0: expected an integer from 1 to"),
    "base 65536": (lambda tmp: ["--base", "65536"], "--base 65536: expected an integer from 1 to"),
    "run dir is a file": (lambda tmp: ["--run-dir", str(tmp / "file")], "is a file; expected a folder"),
    "device cuda:1": (lambda tmp: ["--device", "cuda:1"], "--device cuda:1: "),
    "device gpu": (lambda tmp: ["--device", "gpu"], "--device gpu: expected auto, cpu, cuda or cuda:N"),
    "pam checkpoint missing": (_pam_missing, "--pam-checkpoint"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_train_options_are_one_line_before_anything_runs(case, synth_data, tmp_path):
    if case == "device cuda:1" and not _no_cuda_1():
        pytest.skip("this machine has a second GPU: cuda:1 is valid here")
    root, _ = synth_data
    (tmp_path / "file").write_text("a file where the run folder should be")
    options, expected = BAD[case]
    run = tmp_path / "run"
    args = ["--data", root, "--phase", "gaze", "--iters", "1", "--decay-start", "0", "--run-dir", str(run)]
    result = _run(["-m", "training.train", *TINY, *args, *options(tmp_path)])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("train: error: "), lines
    assert expected in lines[0], lines
    assert not run.exists()  # nothing trained, nothing written
    assert (tmp_path / "file").read_text().startswith("a file")


def test_pam_checkpoint_is_used_in_place_of_the_pam_phase(synth_data, tmp_path):
    """A PAM trained elsewhere: phase all goes straight to the gaze phase; one trained with other
    widths is refused at the start, naming them."""
    root, _ = synth_data
    common = ["--data", root, "--iters", "1", "--decay-start", "0"]
    first = _run(["-m", "training.train", *TINY, *common, "--phase", "pam", "--pam-iters", "2",
                  "--run-dir", str(tmp_path / "pam")])
    assert first.returncode == 0, first.stderr[-2000:]
    pam = str(tmp_path / "pam" / "last.pt")
    second = _run(["-m", "training.train", *TINY, *common, "--phase", "all", "--pam-iters", "50",
                   "--pam-checkpoint", pam, "--run-dir", str(tmp_path / "gaze")])
    assert second.returncode == 0, second.stderr[-2000:]
    phases = [line.split('"phase": "')[1].split('"')[0] for line in open(tmp_path / "gaze" / "losses.jsonl")]
    assert phases == ["gaze"]
    other = _run(["-m", "training.train", *TINY, *common, "--base", "4", "--phase", "gaze", "--pam-checkpoint", pam,
                  "--run-dir", str(tmp_path / "other")])
    lines = [line for line in other.stderr.splitlines() if line.strip()]
    assert other.returncode == 2 and len(lines) == 1, other.stderr[-2000:]
    assert "its PAM was trained with base 8 (this run: 4)" in lines[0]
    assert not (tmp_path / "other").exists()
