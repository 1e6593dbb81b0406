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


def time_runners(runners: list, face: np.ndarray, repeats: int) -> list[float]:
    """Median ms per call of each runner, timed in turns (A, B, C, A, B, C, ...) so that a burst of
    other load on a shared machine hits them all alike."""
    for runner in runners:
        for _ in range(3):
            runner(face)
    times = [[] for _ in runners]
    for _ in range(repeats):
        for runner, spent in zip(runners, times):
            t0 = time.perf_counter()
            runner(face)
            spent.append(time.perf_counter() - t0)
    return [float(np.median(t) * 1000) for t in times]


def _face(size: int) -> np.ndarray:
    """An aligned real face (packaged photo), for timing and for the PSNR column."""
    from engines.quantize import calibration_faces

    return calibration_faces(size, gains=(1.0,))[:1]


def _boxes_ms_ssim(out: np.ndarray, expected: np.ndarray, boxes: list) -> float:
    """MS-SSIM of the eye boxes resampled to 64x64 as in training.evaluate (mean over the boxes),
    images in [-1,1]."""
    if not boxes:
        return float("nan")
    import torch

    from training.evaluate import ms_ssim
    from training.networks import crop_eyes

    b = torch.tensor([boxes])
    a, e = (crop_eyes(torch.from_numpy(x), b, 64).flatten(0, 1) for x in (out, expected))
    return float(ms_ssim((a + 1) / 2, (e + 1) / 2).mean())


def bench_engines(models: list[str], repeats: int = 30, echo=print) -> list[dict]:
    """Every runner and graph variant of every model: median ms per face, and the PSNR of its eye
    boxes against the model's full fp32 graph on a real face."""
    from engines.build import ensure_onnx, ensure_plan
    from engines.export import psnr_in_mask
    from engines.backends import describe_runners
    from engines.runners import OnnxRuntimeRunner, OpenVinoRunner, TensorRTRunner, TorchRunner, onnx_meta

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
                candidates.append(lambda m=model: OnnxRuntimeRunner(m, "cpu", threads=2))
                reference = model
            else:
                onnx = ensure_onnx(model, os.path.join(tmp, label + "-onnx"))
                reference = str(onnx["gx"])
                for key in ("gx", "gx_cpu", "gx_cpu_int8"):
                    if key in onnx:
                        candidates.append(lambda p=str(onnx[key]): OnnxRuntimeRunner(p, "cpu", threads=2))
                        if gpu.openvino()[0]:
                            candidates.append(lambda p=str(onnx[key]): OpenVinoRunner(p, threads=2))
                candidates.append(lambda: TorchRunner(model, "gx", "cpu"))
                if gpu.ort_cuda()[0]:
                    candidates.append(lambda: OnnxRuntimeRunner(str(onnx["gx"]), "cuda"))
                if gpu.torch_cuda()[0]:
                    candidates += [lambda: TorchRunner(model, "gx", "cuda"),
                                   lambda: TorchRunner(model, "gx", "cuda", variant="cpu")]
                if gpu.tensorrt_version()[0] and gpu.cuda_device()[0]:
                    candidates.append(lambda: TensorRTRunner(str(ensure_plan(model, "gx"))))
            ref = OnnxRuntimeRunner(reference, "cpu", threads=2)
            face = _face(ref.size)
            expected = ref(face).copy()
            ref.close()
            boxes = onnx_meta(reference).get("boxes", [])
            mask = np.zeros((1, 1, ref.size, ref.size), np.float32)
            for x0, y0, x1, y1 in boxes:
                mask[..., y0:y1, x0:x1] = 1
            runners = [make() for make in candidates]
            for kind in ("cpu", "cuda"):  # CPU and GPU runners timed in separate rounds
                group = [r for r in runners if ("cpu" in r.name) == (kind == "cpu")]
                n = repeats if kind == "cpu" else repeats * 10
                for runner, ms in zip(group, time_runners(group, face, n) if group else []):
                    out = runner(face)
                    psnr = psnr_in_mask(out, expected, mask) if boxes else float("nan")
                    rows.append({"model": label, "runner": runner.name, "graph": getattr(runner, "graph", ""),
                                 "size": runner.size, "ms": ms, "psnr_db": psnr,
                                 "ms_ssim": _boxes_ms_ssim(out, expected, boxes)})
            for runner in runners:
                runner.close()
    skipped = [line for line in describe_runners() if "skipped" in line]
    echo(f"{'model':>24} {'runner':>24} {'graph':>18} {'size':>5} {'ms/face':>8} {'PSNR dB':>8} {'MS-SSIM':>8}")
    for r in rows:
        echo(f"{r['model']:>24} {r['runner']:>24} {r['graph']:>18} {r['size']:>5} {r['ms']:>8.2f} "
             f"{r['psnr_db']:>8.1f} {r['ms_ssim']:>8.4f}")
    echo("PSNR, MS-SSIM: eye boxes against the model's full fp32 graph on a real face (inf, 1: identical).")
    for line in skipped:
        echo(line)
    return rows
