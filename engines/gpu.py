"""What inference software is here, each absence with a one-line reason and how to fix it."""
from __future__ import annotations

import importlib.util


def tensorrt_version() -> tuple[str | None, str]:
    try:
        import tensorrt as trt
    except ImportError:
        return None, ("TensorRT is not installed (on an NVIDIA GPU machine: pip install 'livegaze[gpu]', "
                      "which brings tensorrt and cuda-python)")
    return trt.__version__, ""


def cuda_device() -> tuple[dict | None, str]:
    """{'name', 'compute_capability'} of GPU 0 through cuda-python, or None and why."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python layout
        except ImportError:
            return None, "cuda-python is not installed (pip install cuda-python)"
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or count == 0:
        return None, "no CUDA GPU is visible (driver missing or no NVIDIA GPU)"
    err, prop = cudart.cudaGetDeviceProperties(0)
    name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
    return {"name": name.strip("\x00"), "compute_capability": f"{prop.major}.{prop.minor}"}, ""


def torch_cuda() -> tuple[bool, str]:
    try:
        import torch
    except ImportError:
        return False, "torch is not installed (pip install 'livegaze[train]')"
    if not torch.cuda.is_available():
        return False, "torch sees no CUDA GPU"
    return True, ""


MODELS_EXTRA = "pip install 'livegaze[models]'"  # ONNX Runtime, OpenVINO and ONNX


def models_missing() -> str | None:
    """Why ONNX models cannot be exported and run here (None: they can): ONNX and ONNX Runtime
    are the least every model path needs."""
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    return f"{' and '.join(missing)} not installed ({MODELS_EXTRA})" if missing else None


def ort_cpu() -> tuple[bool, str]:
    if importlib.util.find_spec("onnxruntime") is None:
        return False, f"onnxruntime is not installed ({MODELS_EXTRA})"
    return True, ""


def ort_cuda() -> tuple[bool, str]:
    ok, why = ort_cpu()
    if not ok:
        return ok, why
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False, "onnxruntime has no CUDA provider (pip install onnxruntime-gpu on an NVIDIA machine)"
    return True, ""


def openvino() -> tuple[bool, str]:
    """OpenVINO's CPU plugin (the fastest CPU runner; in the 'models' extra)."""
    try:
        import openvino as ov
    except ImportError:
        return False, f"openvino is not installed ({MODELS_EXTRA})"
    if "CPU" not in ov.Core().available_devices:
        return False, "openvino has no CPU device on this machine"
    return True, ""
