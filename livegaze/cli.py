"""The `livegaze` command line."""
from __future__ import annotations

import dataclasses
import logging
import os
import sys

from livegaze.cliargs import build_parser
from livegaze.config import from_args, read_file
from livegaze.errors import LivegazeError
from livegaze.quiet import keep_log_lines_visible


def cmd_run(args) -> int:
    from livegaze.app import build_pipeline, run_until_done

    if args.sink__output == "":
        raise LivegazeError("--output: expected a video file name (.mp4 or .avi), got an empty one")
    config = from_args(args, read_file(args.config) if args.config else None)
    # A camera that is not there at the start is the first thing to say, not a stream of "camera
    # lost" frames; one lost during the run is still retried (the call goes on).
    config.capture = dataclasses.replace(config.capture, must_open=True)
    stats = run_until_done(build_pipeline(config)).summary()
    print(f"frames: {stats['delivered']} delivered, {stats['dropped']} dropped; "
          f"{stats['mean_fps']:.1f} fps; latency p50 {stats['latency_p50_ms']:.1f} ms, "
          f"p95 {stats['latency_p95_ms']:.1f} ms; {stats['statuses']}")
    if config.sink.output:
        print(f"wrote {config.sink.output}")
    return 0


def output_folder(option: str, path: str) -> str:
    """A folder the command will write into: named, and not an existing file (made later)."""
    if not path:
        raise LivegazeError(f"{option}: expected a folder name, got an empty one")
    if os.path.exists(path) and not os.path.isdir(path):
        raise LivegazeError(f"{option} {path}: is a file, expected a folder (it is made if missing)")
    return path


def cmd_demo(args) -> int:
    from tqdm import tqdm

    from livegaze.evaluation.demo import run_demo

    if not 1 <= args.frames <= 100000:
        raise LivegazeError(f"--frames {args.frames}: expected 1 to 100000 frames")
    output_folder("--output-dir", args.output_dir)
    correct = from_args(args).correct
    with tqdm(total=args.frames, desc="demo", unit="frame") as bar:
        summary = run_demo(args.output_dir, frames=args.frames, width=args.size[0], height=args.size[1],
                           correct=correct, progress=bar.update)
    print(f"corrected {summary['statuses'].get('corrected', 0)} of {summary['delivered']} frames "
          f"at {summary['mean_fps']:.1f} fps")
    what = {"video": "the input (left) beside the corrected clip (right)",
            "contact_sheet": "four frames with eye close-ups; each row says the move that made the look-away "
                             "and how far the irises are from looking into the camera, before -> after"}
    for key in ("video", "contact_sheet"):  # an early Ctrl-C may have stopped before either
        if summary[key] and os.path.exists(summary[key]):
            print(f"wrote {summary[key]}\n  {what[key]}")
    print("The 'before' frames are made from photos that look into the camera, with the irises moved "
          "away by a known amount: the closer 'after' is to 0 eye widths, the better.")
    return 0


def cmd_photo(args) -> int:
    from livegaze.photo import run_photos

    return run_photos(args.inputs, output_folder("--output-dir", args.output_dir), from_args(args))


def cmd_eval(args) -> int:
    from livegaze.evaluation.report import run_eval

    from livegaze.correctors import REGISTRY, model_corrector

    output_folder("--report", args.report)
    config = from_args(args)
    config.check()
    model = {k: v for k, v in (("checkpoint", config.correct.checkpoint), ("engine", config.correct.engine)) if v}
    # By default every corrector that needs no model, and the model's corrector when one is given.
    default = [e.name for e in REGISTRY.values() if not e.needs_model] + ([model_corrector()] if model else [])
    run_eval(args.media, args.correctors or default, args.report, strength=config.live.strength, model=model,
             live=args.live)
    return 0


def cmd_calibrate(args) -> int:
    from livegaze.calibration import run_calibration

    run_calibration(args.input, seconds=args.seconds, face_model=args.face_model)
    return 0


def cmd_devices(args) -> int:
    from livegaze.capture import list_cameras
    from livegaze.correctors import available
    from livegaze.sinks import VirtualCameraSink

    cams = list_cameras()
    print("cameras:", ", ".join(f"{c['source']} ({c['width']}x{c['height']})" for c in cams) or "none found")
    sink = VirtualCameraSink()
    try:
        sink.open(640, 480, 30)
        print(f"virtual camera: {sink.camera.device} ({sink.camera.backend})")
    except LivegazeError as exc:
        print(f"virtual camera: unavailable: {exc}")
    finally:
        sink.close()
    print("correctors:", ", ".join(available()))
    try:
        from engines.backends import describe_runners
        for line in describe_runners():
            print("runner", line)
    except ImportError as exc:
        print(f"runners: engines package unavailable ({exc})")
    return 0


def cmd_bench(args) -> int:
    from livegaze.evaluation.pipelinebench import bench_pipeline

    if not 10 <= args.frames <= 100000:
        raise LivegazeError(f"--frames {args.frames}: expected 10 to 100000 frames")
    config = from_args(args)
    bench_pipeline(sizes=args.sizes, frames=args.frames, correct=config.correct, faces=args.faces,
                   model_every=config.landmarks.model_every)
    return 0


def cmd_download_model(args) -> int:
    from livegaze.model_files import download_face_landmarker

    print(f"saved {download_face_landmarker()}")
    return 0


def _models_installed(command: str) -> None:
    from engines.gpu import models_missing

    missing = models_missing()
    if missing:
        raise LivegazeError(f"{command}: needs the model runners: {missing}")


def cmd_build_engine(args) -> int:
    from engines.build import build_engine_cli

    _models_installed("build-engine")

    return build_engine_cli(args.checkpoint, output_dir=args.output_dir, force=args.force)


def cmd_bench_engine(args) -> int:
    from engines.runnerbench import bench_engines

    if not 1 <= args.repeats <= 10000:
        raise LivegazeError(f"--repeats {args.repeats}: expected 1 to 10000")
    _models_installed("bench-engine")
    bench_engines(args.models, repeats=args.repeats)
    return 0


def cmd_tray(args) -> int:
    from livegaze.tray.app import run_tray

    return run_tray(minimized=args.minimized)


def cmd_toggle(args) -> int:
    from PyQt6.QtCore import QCoreApplication

    from livegaze.tray.app import send_command

    app = QCoreApplication.instance() or QCoreApplication([])  # noqa: F841  (Qt sockets need one)
    if not send_command("toggle"):
        raise LivegazeError("toggle: no livegaze tray is running (start it with: livegaze tray)")
    return 0


COMMANDS = {"run": cmd_run, "demo": cmd_demo, "photo": cmd_photo, "eval": cmd_eval, "calibrate": cmd_calibrate, "devices": cmd_devices, "bench": cmd_bench,
            "download-model": cmd_download_model, "build-engine": cmd_build_engine,
            "bench-engine": cmd_bench_engine, "tray": cmd_tray, "toggle": cmd_toggle}


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `livegaze devices | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141  # 128 + SIGPIPE, as a shell reports it
    except BaseException as exc:  # Ctrl-C while starting up (imports): one line, not a traceback
        if not _interrupted(exc):
            raise
        print("livegaze: interrupted", file=sys.stderr)
        # Leave without the interpreter's own shutdown. The interrupt may have landed inside a
        # native module's import (it then comes out as that module's ImportError) and left it
        # half-initialised, or while a native library's threads were starting: either way the
        # shutdown can crash on them ("Fatal Python error: PyThreadState_Get", seen once in CI
        # under load). Everything of ours was cleaned up on the way here.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)


def _interrupted(exc: BaseException | None) -> bool:
    """A KeyboardInterrupt, or an error it caused (a C extension's import turns one into
    `ImportError: initialization failed`)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _set_verbosity(verbose: int, quiet: bool) -> None:
    """Log lines as `livegaze: warning: ...`; -q keeps errors and results only (no progress bars)."""
    level = logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="livegaze: %(levelname_lower)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_lower_level)
    keep_log_lines_visible()
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"  # tqdm reads it for every bar it makes


def _lower_level(record: logging.LogRecord) -> bool:
    record.levelname_lower = record.levelname.lower()
    return True


def _main(argv: list[str] | None) -> int:
    from livegaze.app import quiet_native_logs

    quiet_native_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    _set_verbosity(args.verbose, args.quiet)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command not in ("toggle", "download-model"):
        from livegaze.quiet import quiet_opencv

        quiet_opencv()
    try:
        return COMMANDS[args.command](args)
    except LivegazeError as exc:
        print(f"livegaze: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # the reader of our output left: main() ends quietly
    except OSError as exc:  # a file or device the system refused: its name and the system's reason
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"livegaze: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
