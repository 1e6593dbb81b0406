"""Checkpoint -> ONNX (fp32 and fp16), checked with onnx.checker and against torch.

    gx.onnx / gx_fp16.onnx            always (the correction)
    animate.onnx / animate_fp16.onnx  when the checkpoint has G_y and E_r (strength by animation)
"""
from __future__ import annotations

import logging
import os
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

OPSET = 18


@dataclass
class ExportReport:
    name: str
    path: str
    path_fp16: str
    max_abs_diff_fp32: float
    psnr_fp16_db: float


def load_graphs(checkpoint_path: str) -> tuple[dict, dict]:
    """Rebuild the networks from a checkpoint and wrap them as exportable graphs."""
    import torch  # noqa: F401  (export needs the training extra)

    from engines.graphs import AnimateGraph, GxGraph, live_boxes
    from training import checkpoint

    payload = checkpoint.load(checkpoint_path)
    cfg = payload["config"]
    size, crop = int(cfg["size"]), int(cfg["crop"])
    boxes = live_boxes(size, int(cfg["box_h"]), int(cfg["box_w"]))
    ec = checkpoint.rebuild(payload, "pam").encoder
    gx = checkpoint.rebuild(payload, "gx")
    graphs = {"gx": GxGraph(ec, gx, size, boxes, crop).eval()}
    if "gy" in payload["networks"] and "er" in payload["networks"]:
        graphs["animate"] = AnimateGraph(ec, gx, checkpoint.rebuild(payload, "gy"), checkpoint.rebuild(payload, "er"),
                                         size, boxes, crop).eval()
    meta = {"size": size, "crop": crop, "box_h": int(cfg["box_h"]), "box_w": int(cfg["box_w"]),
            "boxes": boxes[0].tolist()}
    return graphs, meta


def example_inputs(name: str, size: int, real: np.ndarray | None = None):
    import torch

    image = torch.from_numpy(real) if real is not None else torch.rand(1, 3, size, size) * 2 - 1
    return (image,) if name == "gx" else (image, torch.tensor([1.0]))


def _atomic_save(model, path: str) -> None:
    import onnx

    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".onnx-", suffix=".tmp")
    os.close(fd)
    try:
        onnx.save(model, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def psnr_in_mask(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB) of two [-1,1] images over the masked pixels (peak-to-peak 2)."""
    sel = np.broadcast_to(mask, a.shape) > 0
    mse = float(np.mean((a[sel].astype(np.float64) - b[sel]) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(4.0 / mse)


def export_checkpoint(checkpoint_path: str, out_dir: str, real_face: np.ndarray | None = None) -> list[ExportReport]:
    """Export every graph of a checkpoint, verify it, and return the comparison figures."""
    import onnx
    import onnxruntime as ort
    import torch
    from onnxconverter_common import float16

    graphs, meta = load_graphs(checkpoint_path)
    os.makedirs(out_dir, exist_ok=True)
    reports = []
    for name, graph in graphs.items():
        path = os.path.join(out_dir, f"{name}.onnx")
        inputs = example_inputs(name, meta["size"])
        names = ["image"] if name == "gx" else ["image", "alpha"]
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".export-", suffix=".onnx")
        os.close(fd)
        try:
            with torch.no_grad():
                torch.onnx.export(graph, inputs, tmp, input_names=names, output_names=["corrected"],
                                  opset_version=OPSET, dynamo=False, do_constant_folding=True)
            model = onnx.load(tmp)
        finally:
            os.unlink(tmp)
        onnx.checker.check_model(model)
        model.metadata_props.add(key="livegaze", value=repr(meta))
        _atomic_save(model, path)
        with warnings.catch_warnings():  # tiny weights clamped to fp16's range are expected
            warnings.simplefilter("ignore")
            # Resize stays fp32: the converter's casts around it produce mistyped graphs.
            fp16 = float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=["Resize"])
        path16 = os.path.join(out_dir, f"{name}_fp16.onnx")
        _atomic_save(fp16, path16)
        # Compare with torch on random and (when given) real inputs.
        worst, psnrs = 0.0, []
        mask = graph.mask.numpy()
        s32 = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        s16 = ort.InferenceSession(path16, providers=["CPUExecutionProvider"])
        for trial in ([None] + ([real_face] if real_face is not None else [])):
            ins = example_inputs(name, meta["size"], trial)
            with torch.no_grad():
                ref = graph(*ins).numpy()
            feed = {n: t.numpy() for n, t in zip(names, ins)}
            out32 = s32.run(None, feed)[0]
            out16 = s16.run(None, feed)[0]
            worst = max(worst, float(np.abs(out32 - ref).max()))
            psnrs.append(psnr_in_mask(out16, out32, mask))
        reports.append(ExportReport(name, path, path16, worst, min(psnrs)))
        log.info("%s: max |onnx - torch| %.2e, fp16 PSNR %.1f dB", name, worst, min(psnrs))
    return reports
