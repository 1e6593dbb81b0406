"""Checkpoint -> ONNX (fp32 and fp16), checked with onnx.checker and against torch.

    gx.onnx / gx_fp16.onnx            always (the correction)
    animate.onnx / animate_fp16.onnx  when the checkpoint has G_y and E_r (strength by animation)
    <graph>_cpu.onnx                  the same numbers, full-resolution layers computed around the eye
                                      boxes only (engines.regional): what ONNX Runtime runs on a CPU
    <graph>_cpu_int8.onnx             that graph with int8 convolutions (engines.quantize), used when
                                      its PSNR against fp32 is at least 35 dB
A coarse-to-fine (512 px, training.cfm) checkpoint exports the full graphs only: its full-resolution
work is already limited to the eye windows, which is what the CPU graphs do for the MM model.
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
    path_cpu: str | None = None
    max_abs_diff_cpu: float | None = None
    path_int8: str | None = None
    psnr_int8_db: float | None = None


# Graph variants: (regional statistics stride or None, shaped for int8 (engines.regional)).
VARIANTS = {"full": (None, False), "cpu": (1, False), "int8": (1, True)}


def load_graphs(source, variant: str = "full") -> tuple[dict, dict]:
    """Rebuild the networks from a checkpoint (a path, or one loaded with training.checkpoint.load)
    and wrap them as exportable graphs. `variant` "cpu" and "int8" compute the generators'
    full-resolution layers around the eye boxes only (same numbers)."""
    import torch  # noqa: F401  (export needs the training extra)

    from engines.graphs import AnimateGraph, GxGraph, geometry_boxes
    from training import checkpoint
    from training.geometry import EyeGeometry

    payload = checkpoint.load(source) if isinstance(source, str) else source
    cfg = checkpoint.config_of(payload)
    geometry = EyeGeometry.from_config(cfg)
    size, crop = geometry.size, geometry.crop
    boxes = geometry_boxes(geometry)
    ec = checkpoint.rebuild(payload, "pam").encoder
    gx = checkpoint.rebuild(payload, "gx")
    regional, int8 = VARIANTS[variant]
    cfm = payload["networks"]["gx"]["kind"] == "cfm_generator"
    graphs = {"gx": GxGraph(ec, gx, size, boxes, crop, regional, int8).eval()}
    if "gy" in payload["networks"] and "er" in payload["networks"]:
        graphs["animate"] = AnimateGraph(ec, gx, checkpoint.rebuild(payload, "gy"), checkpoint.rebuild(payload, "er"),
                                         size, boxes, crop, regional, int8).eval()
    # The model's eye geometry travels with it: the live app aligns faces with these numbers.
    meta = {**geometry.to_meta(), "boxes": boxes[0].tolist(), "regional": regional is not None and not cfm,
            "generator": "cfm" if cfm else "plain"}
    return graphs, meta


def example_inputs(name: str, size: int, real: np.ndarray | None = None):
    import torch

    image = torch.from_numpy(real) if real is not None else torch.rand(1, 3, size, size) * 2 - 1
    return (image,) if name == "gx" else (image, torch.tensor([1.0]))


def _atomic_save(model, path: str) -> None:
    from training.atomic import write_bytes

    write_bytes(path, model.SerializeToString())


def psnr_in_mask(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB) of two [-1,1] images over the masked pixels (peak-to-peak 2)."""
    sel = np.broadcast_to(mask, a.shape) > 0
    mse = float(np.mean((a[sel].astype(np.float64) - b[sel]) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(4.0 / mse)


def _inline_identities(model) -> None:
    """Drop the Identity nodes that stand for a deduplicated initializer (two equal weights, as in
    G_x and G_y before training): their users read the initializer itself. ONNX Runtime's graph
    optimizer mishandles these nodes and rejects the model."""
    inits = {i.name for i in model.graph.initializer}
    outputs = {o.name for o in model.graph.output}
    alias = {n.output[0]: n.input[0] for n in model.graph.node
             if n.op_type == "Identity" and n.input[0] in inits and n.output[0] not in outputs}
    if not alias:
        return
    keep = [n for n in model.graph.node if not (n.op_type == "Identity" and n.output[0] in alias)]
    for n in keep:
        for k, name in enumerate(n.input):
            if name in alias:
                n.input[k] = alias[name]
    del model.graph.node[:]
    model.graph.node.extend(keep)


def _to_onnx(graph, inputs, names: list[str], path: str, meta: dict) -> None:
    """torch graph -> checked ONNX file (written atomically)."""
    import onnx
    import torch

    from training.atomic import discard, temp_beside

    tmp = temp_beside(path)  # scratch, locked while in use: a dead run's copy is cleaned up later
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on the constant geometry
            torch.onnx.export(graph, inputs, tmp, input_names=names, output_names=["corrected"],
                              opset_version=OPSET, dynamo=False, do_constant_folding=True)
        model = onnx.load(tmp)
    finally:
        discard(tmp)
    _inline_identities(model)
    onnx.checker.check_model(model)
    model.metadata_props.add(key="livegaze", value=repr(meta))
    _atomic_save(model, path)


def _outputs(path: str, feeds: list[dict]) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return [session.run(None, f)[0] for f in feeds]


def export_checkpoint(checkpoint_path: str, out_dir: str, real_face: np.ndarray | None = None,
                      cpu_graphs: bool = True) -> list[ExportReport]:
    """Export every graph of a checkpoint, verify it, and return the comparison figures."""
    import onnx
    import torch
    from onnxconverter_common import float16
    from tqdm import tqdm

    from engines import quantize

    from training import checkpoint

    payload = checkpoint.load(checkpoint_path)  # read once, rebuilt per variant
    graphs, meta = load_graphs(payload)
    if meta["generator"] == "cfm":
        cpu_graphs = False  # its own design computes only the eye windows at full resolution
    cpu = {v: load_graphs(payload, v)[0] for v in ("cpu", "int8")} if cpu_graphs else {}
    os.makedirs(out_dir, exist_ok=True)
    size = meta["size"]
    faces = calibration = None
    if cpu:
        calibration = quantize.calibration_faces(size)
        faces = quantize.calibration_faces(size, gains=(1.0,))
    reports = []
    # A minute or more on a small CPU (the int8 calibration most of it), once per checkpoint.
    bar = tqdm(total=len(graphs) * (3 if cpu else 2), desc=f"export {os.path.basename(checkpoint_path)}",
               unit="step", leave=False)
    for name, graph in graphs.items():
        bar.set_postfix_str(name)
        path = os.path.join(out_dir, f"{name}.onnx")
        names = ["image"] if name == "gx" else ["image", "alpha"]
        _to_onnx(graph, example_inputs(name, size), names, path, meta)
        with warnings.catch_warnings():  # tiny weights clamped to fp16's range are expected
            warnings.simplefilter("ignore")
            # Resize stays fp32: the converter's casts around it produce mistyped graphs.
            fp16 = float16.convert_float_to_float16(onnx.load(path), keep_io_types=True, op_block_list=["Resize"])
        path16 = os.path.join(out_dir, f"{name}_fp16.onnx")
        _atomic_save(fp16, path16)
        bar.update()
        # Compare with torch on random and (when given) real inputs.
        trials = [example_inputs(name, size)] + ([example_inputs(name, size, real_face)] if real_face is not None else [])
        feeds = [{n: t.numpy() for n, t in zip(names, ins)} for ins in trials]
        with torch.no_grad():
            refs = [graph(*ins).numpy() for ins in trials]
        mask = graph.mask.numpy()
        out32, out16 = _outputs(path, feeds), _outputs(path16, feeds)
        worst = max(float(np.abs(a - r).max()) for a, r in zip(out32, refs))
        psnr16 = min(psnr_in_mask(b, a, mask) for a, b in zip(out32, out16))
        report = ExportReport(name, path, path16, worst, psnr16)
        bar.update()
        if cpu:
            _export_cpu(report, cpu, name, names, meta, feeds, refs, quantize.feeds(name, calibration),
                        quantize.feeds(name, faces), path, mask)
            bar.update()
        reports.append(report)
        log.info("%s: max |onnx - torch| %.2e, fp16 PSNR %.1f dB%s", name, worst, psnr16,
                 "" if report.path_cpu is None else
                 f"; cpu graph max diff {report.max_abs_diff_cpu:.2e}, int8 PSNR {report.psnr_int8_db:.1f} dB")
    bar.close()
    return reports


def _export_cpu(report: ExportReport, cpu: dict, name: str, names: list[str], meta: dict, feeds: list[dict],
                refs: list[np.ndarray], calibration: list[dict], faces: list[dict], path32: str,
                mask: np.ndarray) -> None:
    """The regional graph (checked against the full one's torch output) and its int8 version
    (PSNR against the fp32 graph on faces that were not used for calibration)."""
    from engines import quantize

    out_dir = os.path.dirname(path32)
    report.path_cpu = os.path.join(out_dir, f"{name}_cpu.onnx")
    _to_onnx(cpu["cpu"][name], example_inputs(name, meta["size"]), names, report.path_cpu, meta)
    report.max_abs_diff_cpu = max(float(np.abs(a - r).max()) for a, r in zip(_outputs(report.path_cpu, feeds), refs))
    report.path_int8 = os.path.join(out_dir, f"{name}_cpu_int8.onnx")
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".int8-src-") as tmp:
        src = os.path.join(tmp, "src.onnx")
        _to_onnx(cpu["int8"][name], example_inputs(name, meta["size"]), names, src, meta)
        quantize.quantize(src, report.path_int8, calibration)
    exact, int8 = _outputs(path32, faces), _outputs(report.path_int8, faces)
    report.psnr_int8_db = min(psnr_in_mask(b, a, mask) for a, b in zip(exact, int8))
