"""The runner registry: every backend a GazeGAN graph can run on, fastest first, whether this
machine has what each needs (and if not, why and how to get it), and opening the fastest that
works. The runners themselves are in engines.runners."""
from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from typing import Callable

from engines import gpu
from engines.runners import OnnxRuntimeRunner, OpenVinoRunner, Runner, TensorRTRunner, TorchRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerEntry:
    """One backend in the registry: `family` is what --runner names; `available()` says whether
    this machine has what it needs (and if not, why and how to get it); `open` builds the runner
    (lazily: the heavy packages are imported only there)."""

    name: str
    family: str
    available: Callable[[], tuple[bool, str]]
    open: Callable[..., Runner]  # (checkpoint, engine, graph, onnx_dir, concurrency) -> Runner


def _tensorrt_here() -> tuple[bool, str]:
    version, why = gpu.tensorrt_version()
    device, why_dev = gpu.cuda_device()
    return (True, f"{version} on {device['name']}") if version and device else (False, why or why_dev)


def _open_tensorrt(checkpoint, engine, graph, onnx_dir, concurrency):
    if not checkpoint:
        raise RuntimeError("needs a checkpoint or a .plan file")
    from engines.build import ensure_plan
    return TensorRTRunner(str(ensure_plan(checkpoint, graph)))


def _open_torch(device: str):
    def open_(checkpoint, engine, graph, onnx_dir, concurrency):
        if not checkpoint:
            raise RuntimeError("needs a checkpoint")
        return TorchRunner(checkpoint, graph, device)
    return open_


def _torch_cpu_here() -> tuple[bool, str]:
    return (True, "") if importlib.util.find_spec("torch") else \
        (False, "torch is not installed (pip install 'livegaze[train]')")


def _onnx_path(checkpoint, engine, graph, onnx_dir, device: str) -> str:
    """The .onnx engine given, or the checkpoint's graph exported on demand: on the CPU the
    regional graph (int8 where it keeps 35 dB), on CUDA the full one."""
    if engine and engine.endswith(".onnx"):
        return engine
    if not checkpoint:
        raise RuntimeError("needs a checkpoint or an .onnx file")
    from engines.build import ensure_onnx
    paths = ensure_onnx(checkpoint, onnx_dir)
    return str(paths.get(f"{graph}_cpu_best", paths[graph]) if device == "cpu" else paths[graph])


def _open_onnxruntime(device: str):
    def open_(checkpoint, engine, graph, onnx_dir, concurrency):
        return OnnxRuntimeRunner(_onnx_path(checkpoint, engine, graph, onnx_dir, device), device,
                                 concurrency=concurrency)
    return open_


def _open_openvino(checkpoint, engine, graph, onnx_dir, concurrency):
    return OpenVinoRunner(_onnx_path(checkpoint, engine, graph, onnx_dir, "cpu"), concurrency=concurrency)


# The registry, fastest first: `--runner auto` takes the first that opens, `--runner FAMILY` the
# first of that family; `livegaze devices` lists each with why it is skipped.
RUNNERS: tuple[RunnerEntry, ...] = (
    RunnerEntry("tensorrt", "tensorrt", _tensorrt_here, _open_tensorrt),
    RunnerEntry("torch-cuda-fp16", "torch", gpu.torch_cuda, _open_torch("cuda")),
    RunnerEntry("onnxruntime-cuda", "onnxruntime", gpu.ort_cuda, _open_onnxruntime("cuda")),
    RunnerEntry("openvino-cpu", "openvino", gpu.openvino, _open_openvino),
    RunnerEntry("onnxruntime-cpu", "onnxruntime", gpu.ort_cpu, _open_onnxruntime("cpu")),
    RunnerEntry("torch-cpu", "torch", _torch_cpu_here, _open_torch("cpu")),
)
FAMILIES = tuple(dict.fromkeys(entry.family for entry in RUNNERS))


def describe_runners() -> list[str]:
    """One line per backend: available, or skipped and why."""
    lines = []
    for entry in RUNNERS:
        ok, text = entry.available()
        lines.append(f"{entry.name}{' ' + text if ok and text else ''}: available" if ok
                     else f"{entry.name}: skipped: {text}")
    return lines


def open_runner(checkpoint: str | None = None, engine: str | None = None, graph: str = "gx",
                preference: str = "auto", onnx_dir: str | None = None, concurrency: int = 1) -> Runner:
    """The fastest runner for a checkpoint (exported to ONNX on demand) or a prebuilt engine file.
    `concurrency`: threads the caller will run faces on at once (the CPU runner honours it)."""
    if engine and engine.endswith(".plan"):
        from engines.build import check_plan_matches
        check_plan_matches(engine)
        return TensorRTRunner(engine)
    if engine and engine.endswith(".onnx") and not (gpu.ort_cpu()[0] or gpu.openvino()[0]):
        raise RuntimeError(f"{engine}: an ONNX engine runs on ONNX Runtime or OpenVINO, and neither is "
                           f"installed ({gpu.MODELS_EXTRA})")
    if preference != "auto" and preference not in FAMILIES:
        raise ValueError(f"--runner {preference}: expected auto, {', '.join(FAMILIES[:-1])} or {FAMILIES[-1]}")
    reasons, failures = [], []
    for entry in RUNNERS:
        if preference != "auto" and entry.family != preference:
            continue
        ok, why = entry.available()
        if not ok:  # this machine lacks it: a hint, not the cause
            reasons.append(f"{entry.name}: {why}")
            continue
        try:
            runner = entry.open(checkpoint, engine, graph, onnx_dir, concurrency)
        except Exception as exc:  # each backend failure is one reason, not a crash
            failures.append((entry.name, str(exc)))
            reasons.append(f"{entry.name}: {exc}")
            continue
        for r in reasons:
            log.info("runner skipped: %s", r)
        log.info("runner: %s", runner.name)
        return runner
    if failures:
        # The model itself is the problem: say that first, in one line, and which runners tried.
        causes = list(dict.fromkeys(why for _, why in failures))
        raise RuntimeError(f"the model could not be opened: {'; '.join(causes)} (tried "
                           f"{', '.join(name for name, _ in failures)})")
    raise RuntimeError("no runner is available on this machine: " + "; ".join(reasons))
