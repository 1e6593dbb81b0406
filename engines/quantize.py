"""Int8 static quantization of the CPU graph, calibrated on aligned real faces.

ONNX Runtime's int8 convolutions use the CPU's VNNI instructions; it leaves ConvTranspose in float,
which is why the graph quantized here is the regional one with every up-convolution rewritten as a
convolution (engines.regional.SubpixelUp). Weights per channel (int8), activations per tensor
(uint8) with ranges from calibration faces: the packaged photos aligned as the live app aligns them,
at a few brightness levels. Instance norms, tanh and the compositing stay float.
"""
from __future__ import annotations

import logging

import numpy as np

from training.atomic import replacing

log = logging.getLogger(__name__)

INT8_MIN_PSNR_DB = 35.0  # below this against the fp32 graph, the int8 graph is not used


def calibration_faces(size: int, gains=(0.8, 1.2)) -> np.ndarray:
    """(N,3,size,size) float32 in [-1,1]: aligned real faces at the brightness `gains`, mirrored too.
    The checks use another gain than the calibration, so they do not see its exact inputs."""
    import cv2

    from training.syntheticset import base_faces

    faces = []
    for face in base_faces(size):
        for gain in gains:
            for image in (face, face[:, ::-1]):
                rgb = cv2.cvtColor(cv2.convertScaleAbs(np.ascontiguousarray(image), alpha=gain), cv2.COLOR_BGR2RGB)
                faces.append(rgb.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1)
    return np.stack(faces)


def feeds(name: str, faces: np.ndarray) -> list[dict]:
    """Session inputs for each face; the animation graph sweeps its strength too."""
    out = []
    for i, face in enumerate(faces):
        item = {"image": face[None]}
        if name != "gx":
            item["alpha"] = np.array([(0.0, 0.5, 1.0)[i % 3]], np.float32)
        out.append(item)
    return out


class _NoPreprocessHint(logging.Filter):
    """ONNX Runtime's quantizer logs a hint to run its pre-processing first, twice per graph, on
    the root logger. Its shape inference adds nothing to these fixed-shape graphs: keep it quiet."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def quantize(src: str, dst: str, calibration: list[dict]) -> None:
    """Write the int8 (QDQ) version of `src` to `dst`, atomically."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(calibration)

        def get_next(self):
            return next(self.items, None)

    import onnx

    model = onnx.load(src)
    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
    # Convolutions over 3-4 input channels (the stems) get slower in int8: their int8 kernels
    # reorder more than they compute. They stay float.
    thin = [n.name for n in model.graph.node
            if n.op_type == "Conv" and len(shapes.get(n.input[1], ())) == 4 and shapes[n.input[1]][1] <= 4]
    quiet = _NoPreprocessHint()
    logging.getLogger().addFilter(quiet)
    try:
        with replacing(dst) as tmp:
            quantize_static(src, tmp, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=thin,
                            op_types_to_quantize=["Conv", "Gemm"])
    finally:
        logging.getLogger().removeFilter(quiet)
