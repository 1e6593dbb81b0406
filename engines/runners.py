"""Runners: one interface over TensorRT, ONNX Runtime and torch.

A runner holds one exported graph (`gx`, or `animate` with an alpha input) and maps a (1,3,S,S)
float32 face in [-1, 1] to the corrected face, into a buffer it owns (no per-call allocation where
the backend allows). `open_runner` picks the fastest backend available and logs why it skipped the
others.
"""
from __future__ import annotations

import ast
import logging
import os
import threading
from typing import Protocol

import numpy as np

from training.geometry import EyeGeometry

log = logging.getLogger(__name__)


class Runner(Protocol):
    """`concurrency`: how many threads may call the runner at once (each gets its own output
    buffer); 1 for the GPU runners, whose single stream serialises faces anyway. `geometry`:
    the eye geometry the model was trained and exported with (the live app aligns with it)."""

    name: str
    size: int
    geometry: EyeGeometry
    has_alpha: bool
    concurrency: int

    def __call__(self, image: np.ndarray, alpha: float = 1.0) -> np.ndarray: ...

    def close(self) -> None: ...


def cpu_threads(concurrency: int) -> int:
    """Intra-op threads per call when `concurrency` calls share the cores (0: ONNX Runtime's
    default, all cores, for a single caller)."""
    return 0 if concurrency <= 1 else max(1, (os.cpu_count() or 1) // concurrency)


class OnnxRuntimeRunner:
    """ONNX Runtime on the CPU (IO binding into a preallocated output) or its CUDA provider.

    `concurrency` > 1 (CPU only): that many threads may run faces at once, each with its own IO
    binding and output buffer and the cores divided between them. On a small CPU two faces on
    one core each beat one face on two cores: a convolution's threads wait for each other, two
    independent faces never do."""

    def __init__(self, onnx_path: str, device: str = "cpu", threads: int = 0, concurrency: int = 1):
        import onnxruntime as ort

        if not os.path.isfile(onnx_path):
            raise FileNotFoundError(f"{onnx_path}: no such ONNX file")
        self.concurrency = max(1, int(concurrency)) if device == "cpu" else 1
        threads = threads or cpu_threads(self.concurrency)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        if device == "cpu":
            # Idle workers sleep instead of spinning: in the live pipeline the landmark workers
            # need those cores between two faces.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(onnx_path, options, providers=providers)
        base = os.path.basename(onnx_path)
        self.graph = os.path.splitext(base)[0]
        self.name = f"onnxruntime-{device}" + next((f"-{tag}" for tag in ("fp16", "int8") if tag in base), "")
        inputs = {i.name: i for i in self.session.get_inputs()}
        self.has_alpha = "alpha" in inputs
        self.size = int(inputs["image"].shape[-1])
        self.geometry = model_geometry(onnx_meta(onnx_path), self.size)
        self.device = device
        self._local = threading.local()  # per calling thread: output buffer, alpha, IO binding

    def _slot(self):
        """This thread's buffers, made on its first call (once per thread, not per face)."""
        slot = self._local
        if not hasattr(slot, "output"):
            slot.output = np.empty((1, 3, self.size, self.size), np.float32)
            slot.alpha = np.ones(1, np.float32)
            slot.binding = None
            if self.device == "cpu":
                slot.binding = self.session.io_binding()
                slot.binding.bind_output("corrected", "cpu", 0, np.float32, list(slot.output.shape),
                                         slot.output.ctypes.data)
        return slot

    def __call__(self, image: np.ndarray, alpha: float = 1.0) -> np.ndarray:
        """The corrected face, in a buffer owned by the calling thread (valid until its next call)."""
        slot = self._slot()
        slot.alpha[0] = alpha
        if slot.binding is None:
            feed = {"image": image, **({"alpha": slot.alpha} if self.has_alpha else {})}
            slot.output[...] = self.session.run(["corrected"], feed)[0]
            return slot.output
        slot.binding.bind_cpu_input("image", image)
        if self.has_alpha:
            slot.binding.bind_cpu_input("alpha", slot.alpha)
        self.session.run_with_iobinding(slot.binding)
        return slot.output

    def close(self) -> None:
        self.session = None


class OpenVinoRunner:
    """OpenVINO on the CPU: the same ONNX files (the int8 QDQ graph included), with its own fused
    int8 kernels, about a third faster than ONNX Runtime per face on the same cores and scaling
    almost linearly with threads. Each calling thread gets its own infer request, whose output
    tensor is the buffer returned (valid until that thread's next call)."""

    def __init__(self, onnx_path: str, threads: int = 0, concurrency: int = 1):
        import openvino as ov

        if not os.path.isfile(onnx_path):
            raise FileNotFoundError(f"{onnx_path}: no such ONNX file")
        self.concurrency = max(1, int(concurrency))
        # One stream per concurrent caller (two callers on one stream can stall each other), the
        # cores divided between the streams, and no pinning: the landmark threads share these
        # cores, and a pinned thread that gets preempted holds up its whole stream.
        config = {"NUM_STREAMS": self.concurrency, "INFERENCE_NUM_THREADS": threads or (os.cpu_count() or 1),
                  "ENABLE_CPU_PINNING": False,
                  "INFERENCE_PRECISION_HINT": "f32"}  # never bf16: the graphs were checked in fp32/int8
        self.compiled = ov.Core().compile_model(onnx_path, "CPU", config)
        base = os.path.basename(onnx_path)
        self.graph = os.path.splitext(base)[0]
        self.name = "openvino-cpu" + ("-int8" if "int8" in base else "")
        names = {p.get_any_name(): p for p in self.compiled.inputs}
        self.has_alpha = "alpha" in names
        self.size = int(names["image"].get_partial_shape()[-1].get_length())
        self.geometry = model_geometry(onnx_meta(onnx_path), self.size)
        self._local = threading.local()

    def _request(self):
        slot = self._local
        if not hasattr(slot, "request"):
            slot.request = self.compiled.create_infer_request()
            slot.image = slot.request.get_tensor("image").data
            slot.alpha = slot.request.get_tensor("alpha").data if self.has_alpha else None
        return slot

    def __call__(self, image: np.ndarray, alpha: float = 1.0) -> np.ndarray:
        slot = self._request()
        slot.image[...] = image  # straight into the request's input tensor
        if slot.alpha is not None:
            slot.alpha[...] = alpha
        # start_async + wait: `infer()` would also build a dict of output copies on every call.
        slot.request.start_async()
        slot.request.wait()
        return slot.request.get_tensor("corrected").data

    def close(self) -> None:
        self.compiled = None
        self._local = threading.local()


class TorchRunner:
    """The graphs in torch eager mode: CPU fp32, or CUDA fp16 with channels_last."""

    def __init__(self, checkpoint_path: str, graph: str = "gx", device: str = "cpu", variant: str | None = None):
        import torch

        from engines.export import load_graphs

        # The CPU computes the full-resolution layers around the eye boxes only (same numbers);
        # the GPU runs the whole graph by default, which a CUDA graph replays in one launch.
        if variant is None:
            variant = "full" if torch.device(device).type == "cuda" else "cpu"
        graphs, meta = load_graphs(checkpoint_path, variant)
        if graph not in graphs:
            raise KeyError(f"{checkpoint_path}: has no {graph} graph")
        self.torch = torch
        self.device = torch.device(device)
        self.half = self.device.type == "cuda"
        module = graphs[graph].to(self.device)
        if self.half:
            module = module.half().to(memory_format=torch.channels_last)
        self.module = module
        self.size = meta["size"]
        self.geometry = model_geometry(meta, self.size)
        self.has_alpha = graph == "animate"
        self.concurrency = 1
        self.name = f"torch-{self.device.type}" + ("-fp16" if self.half else "")
        self.graph = graph + ("_regional" if meta["regional"] else "")
        dtype = torch.float16 if self.half else torch.float32
        self._input = torch.empty(1, 3, self.size, self.size, device=self.device, dtype=dtype)
        self._alpha = torch.ones(1, device=self.device, dtype=dtype)
        self.output = np.empty((1, 3, self.size, self.size), np.float32)
        self._host = torch.from_numpy(self.output)
        self._graph = None
        if self.device.type == "cuda":
            self._capture()

    def _forward(self):
        return self.module(self._input, self._alpha) if self.has_alpha else self.module(self._input)

    def _capture(self) -> None:
        """Record the whole forward pass as one CUDA graph: one launch per face instead of hundreds
        of small kernels, which is what bounds eager mode at batch 1."""
        torch = self.torch
        self._input.uniform_(-1, 1)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode(), torch.cuda.stream(side):
            for _ in range(3):
                self._forward()
        torch.cuda.current_stream().wait_stream(side)
        self._graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(self._graph):
            self._static_out = self._forward()
        self.name += "-graph"

    def __call__(self, image: np.ndarray, alpha: float = 1.0) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            self._input.copy_(torch.from_numpy(image), non_blocking=False)
            if self.has_alpha:
                self._alpha.fill_(alpha)
            if self._graph is not None:
                self._graph.replay()
                out = self._static_out
            else:
                out = self._forward()
            self._host.copy_(out)
        return self.output

    def close(self) -> None:
        self.module = None


def _cuda_check(result):
    """cuda-python calls return (error, *values); raise on error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise RuntimeError(f"CUDA error {int(err)} ({err})")
    return values[0] if len(values) == 1 else values


class TensorRTRunner:
    """A serialized TensorRT plan; device buffers and a stream through cuda-python
    (what NVIDIA's own TensorRT samples use; pycuda has no wheels)."""

    def __init__(self, plan_path: str):
        import tensorrt as trt
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart

        self.trt, self.cudart = trt, cudart
        self.logger = trt.Logger(trt.Logger.WARNING)
        with open(plan_path, "rb") as f:
            self.engine = trt.Runtime(self.logger).deserialize_cuda_engine(f.read())
        if self.engine is None:
            raise RuntimeError(f"{plan_path}: TensorRT could not load this plan")
        self.context = self.engine.create_execution_context()
        self.stream = _cuda_check(cudart.cudaStreamCreate())
        self.host, self.device_ptrs, self.inputs = {}, [], []
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            shape = tuple(self.engine.get_tensor_shape(name))
            dtype = trt.nptype(self.engine.get_tensor_dtype(name))
            host = np.empty(shape, dtype)
            ptr = _cuda_check(cudart.cudaMalloc(host.nbytes))
            self.device_ptrs.append(ptr)
            self.context.set_tensor_address(name, ptr)
            self.host[name] = (host, ptr)
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self.inputs.append(name)
        self.has_alpha = "alpha" in self.inputs
        self.size = int(self.host["image"][0].shape[-1])
        sidecar = os.path.splitext(plan_path)[0] + ".json"
        recorded = {}
        if os.path.isfile(sidecar):
            import json
            with open(sidecar) as f:
                recorded = json.load(f).get("geometry", {})
        self.geometry = model_geometry(recorded, self.size)
        self.output = self.host["corrected"][0]
        self.name = "tensorrt"
        self.concurrency = 1

    def __call__(self, image: np.ndarray, alpha: float = 1.0) -> np.ndarray:
        cudart = self.cudart
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        host, ptr = self.host["image"]
        np.copyto(host, image, casting="same_kind")
        _cuda_check(cudart.cudaMemcpyAsync(ptr, host.ctypes.data, host.nbytes, h2d, self.stream))
        if self.has_alpha:
            a_host, a_ptr = self.host["alpha"]
            a_host[...] = alpha
            _cuda_check(cudart.cudaMemcpyAsync(a_ptr, a_host.ctypes.data, a_host.nbytes, h2d, self.stream))
        if not self.context.execute_async_v3(self.stream):
            raise RuntimeError("TensorRT execution failed")
        out, out_ptr = self.host["corrected"]
        _cuda_check(cudart.cudaMemcpyAsync(out.ctypes.data, out_ptr, out.nbytes, d2h, self.stream))
        _cuda_check(cudart.cudaStreamSynchronize(self.stream))
        return out

    def close(self) -> None:
        for ptr in self.device_ptrs:
            self.cudart.cudaFree(ptr)
        self.device_ptrs = []
        if self.stream is not None:
            self.cudart.cudaStreamDestroy(self.stream)
            self.stream = None


def model_geometry(meta: dict, size: int) -> EyeGeometry:
    """The eye geometry recorded in a model; a model exported before geometry was recorded
    keeps the defaults at its own size. Impossible numbers (a damaged or hand-edited file) are
    refused here, at load: they would otherwise fail every frame."""
    problem = geometry_problem(meta, size)
    if problem:
        raise ValueError(f"the model's recorded eye geometry is impossible ({problem})")
    geometry = EyeGeometry.from_meta({"size": size, **meta})
    if geometry.size != size:
        raise ValueError(f"the model's recorded size {geometry.size} is not its input size {size}")
    return geometry


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _fraction(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 < value < 1.0


def geometry_problem(meta: dict, size: int) -> str | None:
    """What is impossible in recorded geometry (None: nothing): eye boxes inside the face, eye
    points inside it with eye 0 on the left, a crop no larger than the face."""
    if not isinstance(meta, dict):
        return f"{meta!r}: expected a table of numbers"
    size = meta.get("size", size)
    if not _whole(size, 16, 4096):
        return f"size = {size!r}: expected a whole number of pixels from 16 to 4096"
    for key in ("box_h", "box_w", "crop"):
        if key in meta and not _whole(meta[key], 1, size):
            return f"{key} = {meta[key]!r}: expected a whole number of pixels from 1 to {size}"
    eye_x = meta.get("eye_x", (0.25, 0.75))
    if not (isinstance(eye_x, (list, tuple)) and len(eye_x) == 2 and all(map(_fraction, eye_x))
            and eye_x[0] < eye_x[1]):
        return f"eye_x = {eye_x!r}: expected two fractions of the size between 0 and 1, left eye first"
    if "eye_y" in meta and not _fraction(meta["eye_y"]):
        return f"eye_y = {meta['eye_y']!r}: expected a fraction of the size between 0 and 1"
    return None


def onnx_meta(path: str) -> dict:
    """The geometry recorded in an exported ONNX file."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    for prop in model.metadata_props:
        if prop.key == "livegaze":
            try:
                return ast.literal_eval(prop.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                raise ValueError("the model's recorded eye geometry is unreadable (damaged metadata)") \
                    from None
    return {}
