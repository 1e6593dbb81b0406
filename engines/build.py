"""`livegaze build-engine ckpt.pt`: checkpoint -> ONNX (fp32 + fp16) -> TensorRT FP16 plan, cached.

TensorRT 10.12 and later deprecate weak typing: there the FP16 ONNX is built as a strongly typed
network (precision comes from the ONNX types); older versions build the fp32 ONNX with the FP16
builder flag. A timing cache next to the plans makes rebuilds fast.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from engines import gpu
from training.atomic import write_bytes
from engines.cache import EngineCache, cache_root, engine_meta, file_sha256, mismatch

log = logging.getLogger(__name__)


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split(".")[:2] if p.isdigit())


EXPORT_VERSION = 3  # bumped when the exported graphs change, to re-export (2: regional CPU graphs; 3: int8 output conv)


def ensure_onnx(checkpoint: str, out_dir: str | None = None, force: bool = False) -> dict:
    """ONNX files of a checkpoint ({graph: path}), exported once per checkpoint hash."""
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f"{checkpoint}: no such checkpoint")
    sha = file_sha256(checkpoint)
    folder = Path(out_dir) if out_dir else cache_root() / f"onnx-{sha[:16]}"
    done = folder / "export.json"
    if not force and done.is_file():
        record = json.loads(done.read_text())
        paths = record["paths"]
        if record.get("version") == EXPORT_VERSION and all(Path(p).is_file() for p in paths.values()):
            return {k: Path(v) for k, v in paths.items()}
    from engines.export import export_checkpoint

    folder.mkdir(parents=True, exist_ok=True)
    reports = export_checkpoint(checkpoint, str(folder))
    paths, checks = {}, {}
    for r in reports:
        paths[r.name], paths[f"{r.name}_fp16"] = r.path, r.path_fp16
        checks[r.name] = {"max_abs_diff_fp32": r.max_abs_diff_fp32, "psnr_fp16_db": r.psnr_fp16_db}
        paths[f"{r.name}_cpu_best"] = r.path
        if r.path_cpu:
            paths[f"{r.name}_cpu"], paths[f"{r.name}_cpu_int8"] = r.path_cpu, r.path_int8
            checks[r.name].update(max_abs_diff_cpu=r.max_abs_diff_cpu, psnr_int8_db=r.psnr_int8_db)
            paths[f"{r.name}_cpu_best"] = cpu_choice(r.name, r.path_cpu, r.path_int8, r.psnr_int8_db)
    record = {"version": EXPORT_VERSION, "checkpoint_sha256": sha, "paths": paths, "checks": checks}
    write_bytes(done, json.dumps(record, indent=2).encode())
    return {k: Path(v) for k, v in paths.items()}


def cpu_choice(name: str, path_cpu: str, path_int8: str, psnr_int8_db: float) -> str:
    """The graph ONNX Runtime runs on a CPU: int8 when it stays close enough to fp32."""
    from engines.quantize import INT8_MIN_PSNR_DB

    if psnr_int8_db >= INT8_MIN_PSNR_DB:
        log.info("%s: CPU graph int8 (PSNR %.1f dB against fp32)", name, psnr_int8_db)
        return path_int8
    log.info("%s: CPU graph fp32: the int8 one reaches only %.1f dB against fp32 (needs %.0f)", name,
             psnr_int8_db, INT8_MIN_PSNR_DB)
    return path_cpu


def build_plan(onnx_fp32: str, onnx_fp16: str, timing_cache: Path) -> bytes:
    """Serialize a TensorRT FP16 engine for the GPU in this machine."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    strongly_typed = _version_tuple(trt.__version__) >= (10, 12)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strongly_typed else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    source = onnx_fp16 if strongly_typed else onnx_fp32
    if not parser.parse_from_file(source):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"{source}: TensorRT cannot parse it ({errors})")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    if not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"{source}: TensorRT failed to build an engine")
    write_bytes(timing_cache, bytes(config.get_timing_cache().serialize()))
    return bytes(plan)


def _here() -> tuple[str, dict]:
    version, why = gpu.tensorrt_version()
    device, why_dev = gpu.cuda_device()
    if not (version and device):
        raise RuntimeError(why or why_dev)
    return version, device


def ensure_plan(checkpoint: str, graph: str = "gx", force: bool = False) -> Path:
    """The cached plan for this checkpoint, graph, TensorRT and GPU; built when missing."""
    version, device = _here()
    onnx = ensure_onnx(checkpoint)
    from engines.runners import model_geometry, onnx_meta
    recorded = onnx_meta(str(onnx[graph]))
    size = recorded.get("size", 256)
    meta = engine_meta(file_sha256(checkpoint), {"image": [1, 3, size, size]}, "fp16", version,
                       device["name"], device["compute_capability"], graph)
    # The model's eye geometry goes into the sidecar too: TensorRTRunner reads it back.
    meta["geometry"] = model_geometry(recorded, size).to_meta()
    cache = EngineCache()
    cached = None if force else cache.lookup(meta)
    if cached is not None:
        return cached
    plan = build_plan(str(onnx[graph]), str(onnx[f"{graph}_fp16"]), cache.root / "timing.cache")
    return cache.store(meta, plan)


def check_plan_matches(plan_path: str) -> None:
    """Refuse a plan built for another TensorRT or GPU (its .json sidecar says which)."""
    sidecar = Path(plan_path).with_suffix(".json")
    if not Path(plan_path).is_file():
        raise FileNotFoundError(f"--engine {plan_path}: no such file")
    version, device = _here()
    if not sidecar.is_file():
        raise RuntimeError(f"--engine {plan_path}: no {sidecar.name} beside it to say which GPU and TensorRT "
                           "built it; rebuild with livegaze build-engine")
    why = mismatch(json.loads(sidecar.read_text()), version, device["name"], device["compute_capability"])
    if why:
        raise RuntimeError(f"--engine {plan_path}: {why}; rebuild it with livegaze build-engine")


def build_engine_cli(checkpoint: str, output_dir: str | None = None, force: bool = False) -> int:
    """ONNX always; the TensorRT plan where TensorRT and a GPU exist, else one line saying what's missing."""
    from training.clihelp import install_hint, missing

    # Exporting runs the checkpoint in torch, writes and converts it with ONNX and checks the
    # result in ONNX Runtime: any of them missing is one line naming what to install.
    lacking = missing(("torch", "onnx", "onnxconverter_common", "onnxruntime"))
    if lacking:
        print(f"livegaze: error: build-engine needs {lacking}, which is not installed: {install_hint(lacking)}",
              file=sys.stderr)
        return 2
    try:
        paths = ensure_onnx(checkpoint, output_dir, force=force)
    except (FileNotFoundError, ValueError) as exc:
        print(f"livegaze: error: {exc}", file=sys.stderr)
        return 2
    folder = Path(next(iter(paths.values()))).parent
    checks = json.loads((folder / "export.json").read_text())["checks"]
    for name, c in checks.items():
        print(f"onnx {name}: {paths[name]} (max |onnx - torch| {c['max_abs_diff_fp32']:.1e}); "
              f"{paths[name + '_fp16']} (fp16 PSNR {c['psnr_fp16_db']:.1f} dB in the eye boxes)")
    try:
        _here()
    except RuntimeError as exc:
        print(f"tensorrt: skipped: {exc}. The ONNX files run with: livegaze run --engine {paths['gx']}")
        return 0
    for graph in [g for g in paths if not g.endswith("_fp16")]:
        plan = ensure_plan(checkpoint, graph, force=force)
        print(f"tensorrt {graph}: {plan}")
    return 0
