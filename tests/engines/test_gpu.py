"""GPU checks: run where CUDA (and TensorRT) exist, skipped with the reason elsewhere."""
import numpy as np
import pytest

from engines import gpu

cuda_ok, cuda_why = gpu.torch_cuda()
trt_version, trt_why = gpu.tensorrt_version()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """Random weights are enough to compare backends (and need no landmarker on the GPU machine)."""
    from engines.runnerbench import reference_checkpoint
    return reference_checkpoint(str(tmp_path_factory.mktemp("gpu") / "tiny.pt"), size=64, base=8, fc=32)


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_ok, reason=f"needs a CUDA GPU: {cuda_why}")
def test_torch_cuda_fp16_runner_matches_cpu(tiny_checkpoint):
    from engines.runners import TorchRunner
    x = np.random.default_rng(0).random((1, 3, 64, 64), np.float32) * 2 - 1
    cpu = TorchRunner(tiny_checkpoint, "gx", "cpu")(x).copy()
    cuda = TorchRunner(tiny_checkpoint, "gx", "cuda")
    assert cuda.name == "torch-cuda-fp16-graph"
    out = cuda(x)
    assert np.abs(out - cpu).max() < 0.05
    x2 = -x  # the captured graph reads the new input, not the one it was recorded with
    assert np.abs(cuda(x2) - TorchRunner(tiny_checkpoint, "gx", "cpu")(x2)).max() < 0.05


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_ok, reason=f"needs a CUDA GPU: {cuda_why}")
def test_regional_graph_on_cuda_matches_the_full_one(tiny_checkpoint):
    from engines.runners import TorchRunner
    x = np.random.default_rng(2).random((1, 3, 64, 64), np.float32) * 2 - 1
    full = TorchRunner(tiny_checkpoint, "gx", "cuda")(x).copy()
    regional = TorchRunner(tiny_checkpoint, "gx", "cuda", variant="cpu")
    assert regional.graph == "gx_regional"
    assert np.abs(regional(x) - full).max() < 0.05


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_ok, reason=f"needs a CUDA GPU: {cuda_why}")
def test_cuda_python_device_query():
    device, why = gpu.cuda_device()
    if device is None:
        pytest.skip(why)
    assert device["name"] and "." in device["compute_capability"]


@pytest.mark.tensorrt
@pytest.mark.skipif(trt_version is None, reason=trt_why)
def test_tensorrt_plan_builds_caches_and_matches(tiny_checkpoint, tmp_path, monkeypatch):
    from engines.build import ensure_plan
    from engines.runners import TensorRTRunner, TorchRunner
    monkeypatch.setenv("LIVEGAZE_CACHE", str(tmp_path))
    plan = ensure_plan(tiny_checkpoint, "gx")
    assert ensure_plan(tiny_checkpoint, "gx") == plan  # second call: cache hit
    x = np.random.default_rng(0).random((1, 3, 64, 64), np.float32) * 2 - 1
    ref = TorchRunner(tiny_checkpoint, "gx", "cpu")(x).copy()
    out = TensorRTRunner(str(plan))(x)
    assert np.abs(out - ref).max() < 0.05
