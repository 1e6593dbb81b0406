"""The `livegaze` command line."""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys

from livegaze.errors import LivegazeError


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, like 1280x720")
    if not (32 <= w <= 7680 and 32 <= h <= 4320) or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"{text!r}: expected even sizes from 32x32 to 7680x4320")
    return w, h


def _add_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", "-i", default="0",
                   help="camera index (0), device (/dev/video2), video or image file [default: 0]")
    p.add_argument("--width", type=int, default=0, help="capture width in pixels, even (0 = native)")
    p.add_argument("--height", type=int, default=0, help="capture height in pixels, even (0 = native)")
    p.add_argument("--fps", type=float, default=30.0, help="camera frame rate / pacing rate [default: 30]")
    p.add_argument("--paced", action="store_true", help="play a file at --fps like a live camera")
    p.add_argument("--loop", action="store_true", help="restart a file source at its end")


def _add_corrector_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corrector", default=None,
                   help="warp (default: your own eye, warped; no model needed), geometric (the iris "
                        "repainted), or gazegan (needs --checkpoint or --engine)")
    p.add_argument("--checkpoint", help="GazeGAN training checkpoint (.pt): selects the gazegan corrector")
    p.add_argument("--engine", help="prebuilt engine (.plan or .onnx): selects the gazegan corrector")
    p.add_argument("--runner", default="auto",
                   help="gazegan backend: auto, tensorrt, openvino, onnxruntime or torch [default: auto]")
    p.add_argument("--max-move", dest="max_move", type=float, default=None, metavar="EYE_WIDTHS",
                   help="warp: the largest iris move, in eye widths (default 0.2; larger looks forced)")
    p.add_argument("--faces-at-once", dest="faces_at_once", type=int, default=0,
                   help="gazegan on the CPU: frames corrected in parallel, one core each "
                        "(0 = one per core, at most 2) [default: 0]")


def _add_gate_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("look-away gating (degrees; full correction up to FULL, none past NONE)")
    g.add_argument("--gaze-full", type=float, default=20.0, help="gaze angle from the camera [default: 20]")
    g.add_argument("--gaze-none", type=float, default=30.0, help="[default: 30]")
    g.add_argument("--head-full", type=float, default=15.0, help="head yaw or pitch [default: 15]")
    g.add_argument("--head-none", type=float, default=25.0, help="[default: 25]")
    g.add_argument("--gate-hysteresis", type=float, default=3.0,
                   help="degrees an angle must turn back before the strength does [default: 3]")
    g.add_argument("--ease-frames", type=int, default=4, help="frames to fade correction in or out [default: 4]")


def _gate_config(args):
    from livegaze.gate import GateConfig

    config = GateConfig(gaze_full=args.gaze_full, gaze_none=args.gaze_none, head_full=args.head_full,
                        head_none=args.head_none, hysteresis=args.gate_hysteresis, ease_frames=args.ease_frames)
    try:
        config.check()
    except ValueError as exc:
        raise LivegazeError(str(exc))
    return config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livegaze", description="Gaze correction for video calls.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output, native libraries' own lines included (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="correct a camera or file and send it to the virtual camera or a file",
                         description="Camera -> gaze correction -> virtual camera (default), or a file "
                                     "-> file with --input/--output.")
    _add_source_options(run)
    _add_corrector_options(run)
    run.add_argument("--output", "-o", help="write the corrected video to this file (.mp4, .avi)")
    run.add_argument("--virtual-camera", dest="virtual_camera", action="store_true", default=None,
                     help="send to the virtual camera (default when no --output is given)")
    run.add_argument("--no-virtual-camera", dest="virtual_camera", action="store_false")
    run.add_argument("--device", help="virtual camera device, e.g. /dev/video10 (default: first free)")
    run.add_argument("--preview", action="store_true", help="show the output in a window")
    run.add_argument("--strength", type=float, default=1.0, help="correction strength 0..1 [default: 1]")
    run.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0 = until the end)")
    run.add_argument("--face-model", help="path to face_landmarker.task (default: packaged copy)")
    run.add_argument("--mode", choices=("shift", "lock"), default="shift",
                     help="warp: shift = move your eyes by your calibrated screen-to-camera offset (your own "
                          "eye movements stay), lock = put the gaze on the camera [default: shift]")
    _add_gate_options(run)

    demo = sub.add_parser("demo", help="the built-in demo: no camera, GPU or network needed",
                          description="Builds a clip from packaged face photos, corrects it and writes "
                                      "before_after.mp4 and contact_sheet.png.")
    demo.add_argument("--output-dir", "-o", default="livegaze-demo", help="[default: ./livegaze-demo]")
    demo.add_argument("--frames", type=int, default=90, help="clip length in frames [default: 90]")
    demo.add_argument("--size", type=_size, default=(640, 480), help="frame size WxH [default: 640x480]")
    _add_corrector_options(demo)

    photo = sub.add_parser("photo", help="correct every face in still images",
                           description="Corrects every face in each image and writes the result under "
                                       "the same file name in --output-dir (same format, upright).")
    photo.add_argument("inputs", nargs="+", metavar="IMAGE", help="JPEG, PNG, BMP, TIFF or WebP files")
    photo.add_argument("--output-dir", "-o", required=True, help="folder for the results (not the inputs' own)")
    photo.add_argument("--strength", type=float, default=1.0, help="correction strength 0..1 [default: 1]")
    photo.add_argument("--face-model", help="path to face_landmarker.task (default: packaged copy)")
    _add_corrector_options(photo)
    _add_gate_options(photo)

    evaluate = sub.add_parser("eval", help="quality report: correctors side by side on real faces",
                              description="Measures correctors on photos and clips (default: the project's "
                                          "test media) and writes report.md, before/after sheets and a plot.")
    evaluate.add_argument("media", nargs="*", help="images or videos (default: the packaged photos, "
                                                   "../shared/media, and a generated clip)")
    evaluate.add_argument("--corrector", action="append", dest="correctors", metavar="NAME",
                          help="a corrector to compare; repeat for more [default: warp and geometric]")
    evaluate.add_argument("--report", default="livegaze-eval", help="folder for the report [default: ./livegaze-eval]")
    evaluate.add_argument("--strength", type=float, default=1.0, help="correction strength 0..1 [default: 1]")
    evaluate.add_argument("--checkpoint", help="GazeGAN checkpoint, for --corrector gazegan")
    evaluate.add_argument("--engine", help="prebuilt engine, for --corrector gazegan")

    calibrate = sub.add_parser("calibrate", help="measure where you look at the screen, for eye contact that "
                                                 "keeps your own eye movements",
                               description="Look into the camera, then at the middle of your screen, a couple "
                                           "of seconds each; the offset is saved for livegaze run and the tray.")
    calibrate.add_argument("--input", "-i", default="0", help="camera index or device (or a video) [default: 0]")
    calibrate.add_argument("--seconds", type=float, default=2.5, help="seconds per look [default: 2.5]")
    calibrate.add_argument("--face-model", help="path to face_landmarker.task (default: packaged copy)")

    sub.add_parser("devices", help="list cameras, the virtual camera, correctors and model runners")

    bench = sub.add_parser("bench", help="measure fps, latency and per-stage time of the pipeline")
    bench.add_argument("--frames", type=int, default=150, help="frames per clip [default: 150]")
    bench.add_argument("--sizes", default="640x480,1280x720", help="comma-separated sizes")
    _add_corrector_options(bench)

    sub.add_parser("download-model", help="download face_landmarker.task into the cache (needs internet)")

    build = sub.add_parser("build-engine", help="checkpoint -> ONNX -> TensorRT FP16 engine (cached per GPU)")
    build.add_argument("checkpoint", help="GazeGAN checkpoint written by python -m training.train")
    build.add_argument("--output-dir", "-o", help="where to put the ONNX files [default: engine cache]")
    build.add_argument("--force", action="store_true", help="rebuild even when a cached engine matches")

    bench_engine = sub.add_parser("bench-engine", help="ms per face for every available runner and model")
    bench_engine.add_argument("models", nargs="*", help="checkpoints or ONNX files (default: random-weight "
                                                        "reference models)")
    bench_engine.add_argument("--repeats", type=int, default=30)

    tray = sub.add_parser("tray", help="the system tray app for calls (Zoom, Teams, Meet)")
    tray.add_argument("--minimized", action="store_true", help="start without showing any window (autostart)")
    sub.add_parser("toggle", help="switch correction on/off in the running tray app (bind to a desktop shortcut)")
    return parser


def _corrector_options(args) -> tuple[str, dict]:
    options = {}
    if getattr(args, "checkpoint", None):
        options["checkpoint"] = args.checkpoint
    if getattr(args, "engine", None):
        options["engine"] = args.engine
    from livegaze.correctors import DEFAULT

    name = args.corrector or ("gazegan" if options else DEFAULT)
    if name == "gazegan":
        options["runner"] = args.runner
        faces = getattr(args, "faces_at_once", 0)
        if not 0 <= faces <= 16:
            raise LivegazeError(f"--faces-at-once {faces}: expected 0 (automatic) to 16")
        if faces:
            options["concurrency"] = faces
    elif options:
        raise LivegazeError(f"--corrector {name}: --checkpoint/--engine only apply to --corrector gazegan")
    max_move = getattr(args, "max_move", None)
    if max_move is not None:
        if name != "warp":
            raise LivegazeError(f"--max-move: only applies to --corrector warp (not {name})")
        if not (math.isfinite(max_move) and 0 < max_move <= 0.5):
            raise LivegazeError(f"--max-move {max_move}: expected eye widths above 0, at most 0.5")
        options["max_shift"] = max_move
    return name, options


def cmd_run(args) -> int:
    from livegaze.app import RunOptions, build_pipeline, run_until_done
    from livegaze.capture import CaptureConfig

    name, options = _corrector_options(args)
    vcam = args.virtual_camera if args.virtual_camera is not None else not (args.output or args.preview)
    opts = RunOptions(capture=CaptureConfig(source=args.input, width=args.width, height=args.height,
                                            fps=args.fps, paced=args.paced, loop=args.loop),
                      corrector=name, corrector_options=options, strength=args.strength,
                      output=args.output, virtual_camera=vcam, vcam_device=args.device,
                      preview=args.preview, face_model=args.face_model, max_frames=args.max_frames,
                      gate=_gate_config(args), mode=args.mode)
    stats = run_until_done(build_pipeline(opts)).summary()
    print(f"frames: {stats['delivered']} delivered, {stats['dropped']} dropped; "
          f"{stats['mean_fps']:.1f} fps; latency p50 {stats['latency_p50_ms']:.1f} ms, "
          f"p95 {stats['latency_p95_ms']:.1f} ms; {stats['statuses']}")
    if args.output:
        print(f"wrote {args.output}")
    return 0


def cmd_demo(args) -> int:
    from tqdm import tqdm

    from livegaze.demo import run_demo

    if not 1 <= args.frames <= 100000:
        raise LivegazeError(f"--frames {args.frames}: expected 1 to 100000 frames")
    name, options = _corrector_options(args)
    with tqdm(total=args.frames, desc="demo", unit="frame") as bar:
        summary = run_demo(args.output_dir, frames=args.frames, width=args.size[0], height=args.size[1],
                           corrector=name, corrector_options=options, progress=bar.update)
    print(f"corrected {summary['statuses'].get('corrected', 0)} of {summary['delivered']} frames "
          f"at {summary['mean_fps']:.1f} fps")
    for key in ("video", "contact_sheet"):  # an early Ctrl-C may have stopped before either
        if summary[key] and os.path.exists(summary[key]):
            print(f"wrote {summary[key]}")
    return 0


def cmd_photo(args) -> int:
    from livegaze.photo import run_photos

    name, options = _corrector_options(args)
    return run_photos(args.inputs, args.output_dir, corrector=name, corrector_options=options,
                      strength=args.strength, face_model=args.face_model, gate=_gate_config(args))


def cmd_eval(args) -> int:
    from livegaze.qualityreport import run_eval

    if not 0.0 <= args.strength <= 1.0:  # NaN fails this too
        raise LivegazeError(f"--strength {args.strength}: expected a number from 0 to 1")
    options = {k: v for k, v in (("checkpoint", args.checkpoint), ("engine", args.engine)) if v}
    run_eval(args.media, args.correctors or ["warp", "geometric"], args.report, strength=args.strength,
             corrector_options=options)
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
    print("correctors:", ", ".join(available() + (["gazegan"] if "gazegan" not in available() else [])))
    try:
        from engines.runners import describe_runners
        for line in describe_runners():
            print("runner", line)
    except ImportError as exc:
        print(f"runners: engines package unavailable ({exc})")
    return 0


def cmd_bench(args) -> int:
    from livegaze.bench import bench_pipeline

    if not 10 <= args.frames <= 100000:
        raise LivegazeError(f"--frames {args.frames}: expected 10 to 100000 frames")
    sizes = [_size(s) for s in args.sizes.split(",") if s]
    name, options = _corrector_options(args)
    bench_pipeline(sizes=sizes, frames=args.frames, corrector=name, corrector_options=options)
    return 0


def cmd_download_model(args) -> int:
    from livegaze.model_files import download_face_landmarker

    print(f"saved {download_face_landmarker()}")
    return 0


def cmd_build_engine(args) -> int:
    from engines.build import build_engine_cli

    return build_engine_cli(args.checkpoint, output_dir=args.output_dir, force=args.force)


def cmd_bench_engine(args) -> int:
    from engines.bench import bench_engines

    if not 1 <= args.repeats <= 10000:
        raise LivegazeError(f"--repeats {args.repeats}: expected 1 to 10000")
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
    except KeyboardInterrupt:  # Ctrl-C while starting up (imports): one line, not a traceback
        print("livegaze: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    from livegaze.app import quiet_native_logs

    quiet_native_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="livegaze: %(levelname)s: %(message)s")
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


if __name__ == "__main__":
    sys.exit(main())
