"""`livegaze bench-engine`: ms per face for every available runner and model, side by side."""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from engines import gpu


def reference_checkpoint(path: str, size: int = 256, base: int = 16, fc: int = 256, gen_size: int | None = None) -> str:
    """A checkpoint of the reference architecture with random weights (speed does not depend on them).
    `gen_size` < size makes a distilled-student layout: G_x runs at gen_size inside a size x size graph."""
    from training import checkpoint
    from training.config import TrainConfig
    from training.networks import AngleEncoder, InpaintGenerator, PAMAutoencoder

    cfg = TrainConfig(size=size)
    nets = {"pam": PAMAutoencoder(cfg.crop, 16, 256), "gx": InpaintGenerator(gen_size or size, base, fc, 256)}
    if gen_size is None and base == 16:
        nets.update(gy=InpaintGenerator(size, base, fc, 256, code=2), er=AngleEncoder(cfg.crop))
    import dataclasses
    checkpoint.save(path, nets, config=dataclasses.asdict(cfg), step=0, pam_step=0)
    return path


def time_runner(runner, repeats: int) -> float:
    x = (np.random.default_rng(0).random((1, 3, runner.size, runner.size), np.float32) * 2 - 1)
    for _ in range(3):
        runner(x)
    t0 = time.perf_counter()
    for _ in range(repeats):
        runner(x)
    return (time.perf_counter() - t0) / repeats * 1000


def bench_engines(models: list[str], repeats: int = 30, echo=print) -> list[dict]:
    from engines.build import ensure_onnx, ensure_plan
    from engines.runners import OnnxRuntimeRunner, TensorRTRunner, TorchRunner, describe_runners

    rows = []
    with tempfile.TemporaryDirectory(prefix="livegaze-bench-engine-") as tmp:
        if not models:
            models = [reference_checkpoint(os.path.join(tmp, "gx256.pt")),
                      reference_checkpoint(os.path.join(tmp, "student_half_width.pt"), base=8, fc=128),
                      reference_checkpoint(os.path.join(tmp, "student_128.pt"), gen_size=128)]
        for model in models:
            label = os.path.basename(model)
            candidates = []
            if model.endswith(".onnx"):
                candidates.append(lambda m=model: OnnxRuntimeRunner(m, "cpu"))
            else:
                onnx = ensure_onnx(model, os.path.join(tmp, label + "-onnx"))
                candidates += [lambda: OnnxRuntimeRunner(str(onnx["gx"]), "cpu", threads=2),
                               lambda: TorchRunner(model, "gx", "cpu")]
                if gpu.ort_cuda()[0]:
                    candidates.append(lambda: OnnxRuntimeRunner(str(onnx["gx"]), "cuda"))
                if gpu.torch_cuda()[0]:
                    candidates.append(lambda: TorchRunner(model, "gx", "cuda"))
                if gpu.tensorrt_version()[0] and gpu.cuda_device()[0]:
                    candidates.append(lambda: TensorRTRunner(str(ensure_plan(model, "gx"))))
            for make in candidates:
                runner = make()
                n = repeats if "cpu" in runner.name else repeats * 10
                rows.append({"model": label, "runner": runner.name, "size": runner.size,
                             "ms": time_runner(runner, n)})
                runner.close()
    skipped = [line for line in describe_runners() if "skipped" in line]
    echo(f"{'model':>24} {'runner':>22} {'size':>5} {'ms/face':>8}")
    for r in rows:
        echo(f"{r['model']:>24} {r['runner']:>22} {r['size']:>5} {r['ms']:>8.2f}")
    for line in skipped:
        echo(line)
    return rows
