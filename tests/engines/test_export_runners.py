import json
import subprocess
import sys

import numpy as np
import pytest

from engines import cache as engine_cache
from engines.export import export_checkpoint, load_graphs
from engines.gpu import openvino as openvino_status
from engines.backends import RUNNERS, describe_runners, open_runner
from engines.runners import OnnxRuntimeRunner, OpenVinoRunner, TorchRunner

needs_openvino = pytest.mark.skipif(not openvino_status()[0], reason=openvino_status()[1] or "openvino")


def test_export_matches_torch_on_random_and_real_faces(tiny_checkpoint, tmp_path):
    import cv2

    from livegaze.evaluation.clips import ClipSpec, iter_frames
    face = cv2.resize(next(iter_frames(ClipSpec(frames=1)))[0][40:440, 120:520], (64, 64))
    real = (cv2.cvtColor(face, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32) / 127.5 - 1)
    reports = export_checkpoint(tiny_checkpoint, str(tmp_path), real_face=real)
    assert {r.name for r in reports} == {"gx", "animate"}
    for r in reports:
        assert r.max_abs_diff_fp32 <= 1e-4
        assert r.psnr_fp16_db >= 40
        # The CPU graph computes less and gives the same numbers as the full one in torch.
        assert r.max_abs_diff_cpu <= 1e-4
        assert np.isfinite(r.psnr_int8_db) and r.psnr_int8_db > 20
    import onnx
    onnx.checker.check_model(onnx.load(str(tmp_path / "gx.onnx")))
    model = onnx.load(str(tmp_path / "gx_fp16.onnx"))
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    ops = lambda name: {n.op_type for n in onnx.load(str(tmp_path / name)).graph.node}  # noqa: E731
    assert "ConvTranspose" in ops("gx_cpu.onnx") and "DepthToSpace" in ops("gx_cpu.onnx")
    assert "ConvTranspose" not in ops("gx_cpu_int8.onnx") and "QuantizeLinear" in ops("gx_cpu_int8.onnx")


def test_cpu_graph_choice_follows_the_int8_psnr(caplog):
    import logging

    from engines.build import cpu_choice
    from engines.quantize import INT8_MIN_PSNR_DB
    caplog.set_level(logging.INFO)
    assert cpu_choice("gx", "a_cpu.onnx", "a_int8.onnx", INT8_MIN_PSNR_DB + 0.1) == "a_int8.onnx"
    assert cpu_choice("gx", "a_cpu.onnx", "a_int8.onnx", INT8_MIN_PSNR_DB - 0.1) == "a_cpu.onnx"
    assert "reaches only" in caplog.text


def test_runners_agree_and_write_into_their_own_buffer(tiny_checkpoint, exported):
    x = np.random.default_rng(0).random((1, 3, 64, 64), np.float32) * 2 - 1
    ort_runner = OnnxRuntimeRunner(str(exported["gx"]))
    torch_runner = TorchRunner(tiny_checkpoint, "gx", "cpu")
    a = ort_runner(x)
    assert ort_runner(x) is a  # the same buffer on the next call: no new array per face
    b = torch_runner(x)
    assert np.abs(a - b).max() < 1e-4
    graphs, meta = load_graphs(tiny_checkpoint)
    mask = graphs["gx"].mask.numpy()
    assert np.array_equal(a[np.broadcast_to(mask, a.shape) == 0], x[np.broadcast_to(mask, x.shape) == 0])


def test_cpu_runner_serves_two_threads_at_once(exported):
    """With concurrency 2 two threads run faces through one session at the same time; each gets
    its own face back, in its own buffer."""
    import threading

    runner = OnnxRuntimeRunner(str(exported["gx"]), concurrency=2)
    assert runner.concurrency == 2
    rng = np.random.default_rng(2)
    faces = [rng.random((1, 3, 64, 64), np.float32) * 2 - 1 for _ in range(2)]
    single = OnnxRuntimeRunner(str(exported["gx"]))
    expected = [single(f).copy() for f in faces]
    assert not np.allclose(expected[0], expected[1])
    start = threading.Barrier(2)
    results: dict[int, list] = {0: [], 1: []}

    def work(k: int) -> None:
        start.wait()
        for _ in range(6):
            out = runner(faces[k])
            results[k].append((out.copy(), id(out)))

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in (0, 1):
        assert len(results[k]) == 6
        for out, _ in results[k]:
            assert np.abs(out - expected[k]).max() < 1e-5
    assert results[0][0][1] != results[1][0][1]  # separate output buffers


def test_animation_alpha_interpolates(exported):
    runner = OnnxRuntimeRunner(str(exported["animate"]))
    x = np.random.default_rng(1).random((1, 3, 64, 64), np.float32) * 2 - 1
    outs = [runner(x, a).copy() for a in (0.0, 0.5, 1.0)]
    assert not np.allclose(outs[0], outs[2])
    d_mid = np.abs(outs[1] - outs[0]).mean()
    assert 0 < d_mid < np.abs(outs[2] - outs[0]).mean() * 1.5


def test_open_runner_picks_and_explains(tiny_checkpoint, exported, caplog):
    import logging
    caplog.set_level(logging.INFO)
    runner = open_runner(checkpoint=tiny_checkpoint, onnx_dir=str(exported["gx"].parent))
    assert runner.name in ("openvino-cpu", "openvino-cpu-int8", "onnxruntime-cpu", "onnxruntime-cpu-int8",
                           "tensorrt", "torch-cuda-fp16-graph", "onnxruntime-cuda")
    if "cpu" in runner.name:
        assert "runner skipped: tensorrt" in caplog.text
        # OpenVINO is installed with livegaze; ONNX Runtime on the CPU only where it cannot load.
        assert runner.name.startswith("openvino") == openvino_status()[0]
    with pytest.raises(ValueError, match="--runner"):
        open_runner(checkpoint=tiny_checkpoint, preference="magic")
    lines = describe_runners()
    assert any(line.startswith("onnxruntime-cpu: available") for line in lines)
    # One line per backend of the registry, in its order (fastest first), each available or why not.
    assert [line.split(":")[0].split(" ")[0] for line in lines] == [entry.name for entry in RUNNERS]
    assert all(line.endswith(": available") or ": skipped: " in line for line in lines)
    ort_runner = open_runner(checkpoint=tiny_checkpoint, onnx_dir=str(exported["gx"].parent), preference="onnxruntime")
    assert ort_runner.name.startswith("onnxruntime")


@needs_openvino
@pytest.mark.parametrize("graph", ["gx", "gx_cpu", "gx_cpu_int8", "animate_cpu_int8"])
def test_openvino_runs_the_same_graphs(exported, graph):
    """OpenVINO gives ONNX Runtime's numbers on every exported CPU graph: fp32 to float rounding,
    the int8 graph within quantization noise (same QDQ semantics, other kernels)."""
    from engines.export import psnr_in_mask

    path = str(exported[graph])
    x = np.random.default_rng(3).random((1, 3, 64, 64), np.float32) * 2 - 1
    ov_runner, ort_runner = OpenVinoRunner(path), OnnxRuntimeRunner(path)
    assert ov_runner.size == 64 and ov_runner.has_alpha == graph.startswith("animate")
    for alpha in ((0.0, 1.0) if ov_runner.has_alpha else (1.0,)):
        a, b = ov_runner(x, alpha), ort_runner(x, alpha)
        if "int8" in graph:
            mask = load_graphs_mask(exported)
            assert psnr_in_mask(a, b, mask) > 35
        else:
            assert np.abs(a - b).max() < 1e-4
        outside = np.broadcast_to(load_graphs_mask(exported), x.shape) == 0
        assert np.abs(a[outside] - x[outside]).max() < 1e-5  # untouched outside the eye boxes
    # The request's own output tensor, the same memory on every call: no new buffer per face.
    assert np.shares_memory(ov_runner(x), ov_runner(x))


@needs_openvino
def test_openvino_serves_two_threads_at_once(exported):
    import threading

    runner = OpenVinoRunner(str(exported["gx_cpu"]), concurrency=2)
    rng = np.random.default_rng(4)
    faces = [rng.random((1, 3, 64, 64), np.float32) * 2 - 1 for _ in range(2)]
    expected = [OpenVinoRunner(str(exported["gx_cpu"]))(f).copy() for f in faces]
    start = threading.Barrier(2)
    errors: list[float] = []

    def work(k: int) -> None:
        start.wait()
        for _ in range(6):
            errors.append(float(np.abs(runner(faces[k]) - expected[k]).max()))

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(errors) == 12 and max(errors) < 1e-5


def load_graphs_mask(exported) -> np.ndarray:
    from engines.runners import onnx_meta

    mask = np.zeros((1, 1, 64, 64), np.float32)
    for x0, y0, x1, y1 in onnx_meta(str(exported["gx"]))["boxes"]:
        mask[..., y0:y1, x0:x1] = 1
    return mask


def test_engine_cache_keys_and_mismatch(tmp_path):
    meta = engine_cache.engine_meta("abc", {"image": [1, 3, 256, 256]}, "fp16", "10.13", "H100", "9.0")
    c = engine_cache.EngineCache(tmp_path)
    assert c.lookup(meta) is None
    path = c.store(meta, b"plan-bytes")
    assert c.lookup(meta) == path and path.read_bytes() == b"plan-bytes"
    other = dict(meta, gpu="A100", compute_capability="8.0")
    assert engine_cache.engine_key(other) != engine_cache.engine_key(meta) and c.lookup(other) is None
    assert "gpu" in engine_cache.mismatch(meta, "10.13", "A100", "8.0")
    assert engine_cache.mismatch(meta, "10.13", "H100", "9.0") is None
    assert json.loads((tmp_path / "manifest.json").read_text())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_build_engine_cli_writes_onnx_and_explains_missing_tensorrt(tiny_checkpoint, tmp_path):
    out = tmp_path / "onnx"
    result = subprocess.run([sys.executable, "-m", "livegaze", "build-engine", tiny_checkpoint, "-o", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (out / "gx.onnx").is_file() and (out / "gx_fp16.onnx").is_file() and (out / "animate.onnx").is_file()
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        lines = [l for l in result.stdout.splitlines() if l.startswith("tensorrt: skipped")]
        assert len(lines) == 1 and "pip install" in lines[0]


def test_build_engine_rejects_bad_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    result = subprocess.run([sys.executable, "-m", "livegaze", "build-engine", str(bad), "-o", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "bad.pt" in result.stderr
    assert not (tmp_path / "o" / "gx.onnx").exists()


def test_bench_engine_lists_every_cpu_graph_side_by_side(tiny_checkpoint):
    from engines.runnerbench import bench_engines
    lines = []
    rows = bench_engines([tiny_checkpoint], repeats=2, echo=lines.append)
    graphs = {(r["runner"], r["graph"]): r for r in rows}
    assert {("onnxruntime-cpu", "gx"), ("onnxruntime-cpu", "gx_cpu"), ("onnxruntime-cpu-int8", "gx_cpu_int8"),
            ("torch-cpu", "gx_regional")} <= set(graphs)
    assert graphs[("onnxruntime-cpu", "gx")]["psnr_db"] == float("inf")
    assert graphs[("onnxruntime-cpu", "gx_cpu")]["psnr_db"] > 80  # the same numbers
    assert graphs[("onnxruntime-cpu", "gx_cpu")]["ms_ssim"] > 0.999
    assert all(r["ms"] > 0 for r in rows)
    assert "ms/face" in lines[0] and len(lines) >= 1 + len(rows)
