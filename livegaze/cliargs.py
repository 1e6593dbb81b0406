"""The `livegaze` command line's words: every command, its options, their help and examples.

The commands themselves are in livegaze.cli; the options that set the live app's config are
generated from livegaze.config.FLAGS (type and default from the stage's dataclass).
"""
from __future__ import annotations

import argparse
from importlib import metadata

from livegaze.config import add_flags

# The AppConfig fields each command takes as flags, grouped as `run --help` shows them.
INPUT = ("capture.source", "capture.width", "capture.height", "capture.fps", "capture.paced", "capture.loop",
         "landmarks.model_path", "landmarks.model_every")
CORRECTION = ("correct.name", "correct.mode", "live.strength", "correct.max_move")
GATE = ("gate.gaze_full", "gate.gaze_none", "gate.head_full", "gate.head_none", "gate.hysteresis",
        "gate.ease_frames")
OUTPUT = ("sink.output", "sink.virtual_camera", "sink.device", "sink.preview", "pipeline.max_frames")
MODEL = ("correct.checkpoint", "correct.engine", "correct.runner", "correct.faces_at_once")
CORRECTOR = ("correct.name", "correct.max_move") + MODEL

VIRTUAL_CAMERA_NAME = "livegaze"  # the device name call apps list (v4l2loopback's card_label)


def version() -> str:
    try:
        return metadata.version("livegaze")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720); argparse turns the ArgumentTypeError into its one-line error."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, like 1280x720")
    if not (32 <= w <= 7680 and 32 <= h <= 4320) or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"{text!r}: expected even sizes from 32x32 to 7680x4320")
    return w, h


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'640x480,1280x720' -> [(640, 480), (1280, 720)]."""
    sizes = [parse_size(part.strip()) for part in text.split(",") if part.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError(f"{text!r}: expected one or more WIDTHxHEIGHT, comma-separated")
    return sizes


def parse_counts(text: str) -> tuple[int, ...]:
    """'1,2,4' -> (1, 2, 4): faces in view, 1 to 4 each."""
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        counts = ()
    if not counts or not all(1 <= n <= 4 for n in counts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected face counts from 1 to 4, comma-separated, like 1,2,4")
    return counts


class _Parser(argparse.ArgumentParser):
    """A wrong option is one line, as every other livegaze error is (argparse prints its whole
    usage first, which pushes the line that says what is wrong out of sight)."""

    def error(self, message: str):
        self.exit(2, f"livegaze: error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples keep their lines; options get a wider column."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=32, width=100)


def _verbosity(parser: argparse.ArgumentParser, top: bool) -> None:
    """-v/-q before or after the command: after it, they only count when given (SUPPRESS), so a
    command's parser does not reset what was given before the command."""
    group = parser.add_argument_group("messages")
    group.add_argument("-v", "--verbose", action="count", default=0 if top else argparse.SUPPRESS,
                       help="more log lines, the native libraries' own included; -vv: debug")
    group.add_argument("-q", "--quiet", action="store_true", default=False if top else argparse.SUPPRESS,
                       help="errors and results only: no warnings, no progress bars")


def _command(sub, name: str, summary: str, description: str, examples: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=summary, description=description, formatter_class=_Formatter,
                            epilog="examples:\n" + examples)
    _verbosity(parser, top=False)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="livegaze", formatter_class=_Formatter,
        description="Gaze correction for video calls: look into the camera while you read your screen.",
        epilog="examples:\n  livegaze demo              # try it: no camera, GPU or internet needed\n"
               "  livegaze tray              # the tray app for calls\n"
               "  livegaze COMMAND --help    # a command's options")
    parser.add_argument("--version", action="version", version=f"livegaze {version()}")
    _verbosity(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    tray = _command(sub, "tray", "the tray app for calls (Zoom, Teams, Meet): on/off and strength",
                    "Runs in the system tray (or as a small window where the desktop has none): starts the "
                    "virtual camera,\nswitches correction on and off, sets its strength, the camera and the "
                    "resolution, opens a preview\nand the calibration. Settings are saved between runs.",
                    "  livegaze tray\n  livegaze tray --minimized     # for autostart: no window at start")
    tray.add_argument("--minimized", action="store_true",
                      help="start without showing any window (autostart) [default: off]")

    _command(sub, "toggle", "switch correction on/off in the running tray (bind it to a desktop shortcut)",
             "Sends 'toggle' to the tray app running for this user; fails if none runs.",
             "  livegaze toggle")

    run = _command(sub, "run", "camera or file -> correction -> virtual camera, a file or a preview",
                   "Corrects a camera (default: camera 0) and sends it to the virtual camera "
                   f"'{VIRTUAL_CAMERA_NAME}' (default),\nor a video or image file to a video file with "
                   "--output (every frame kept). Stop with Ctrl-C.",
                   "  livegaze run                                   # camera 0 -> virtual camera\n"
                   "  livegaze run --input 1 --width 1280 --height 720 --strength 0.8\n"
                   "  livegaze run --input talk.mp4 --output corrected.mp4\n"
                   "  livegaze run --preview --no-virtual-camera        # look, without a virtual camera\n"
                   "  livegaze run --config ~/.config/livegaze/settings.toml   # what the tray runs")
    run.add_argument("--config", metavar="FILE", help="start from a saved config (the tray's settings.toml); "
                                                       "options given override it [default: none]")
    for title, paths in (("input", INPUT), ("correction", CORRECTION), ("gate (when to leave a face alone)", GATE),
                         ("output", OUTPUT), ("model (a trained GazeGAN instead of the warp)", MODEL)):
        add_flags(run.add_argument_group(title), paths)

    demo = _command(sub, "demo", "the built-in demo: no camera, GPU or internet needed",
                    "Builds a clip from face photos that ship with scikit-image and matplotlib (each "
                    "looking into the\ncamera, then turned away by a known amount), corrects it, and "
                    "writes a before/after video and\na contact sheet.",
                    "  livegaze demo\n  livegaze demo --output-dir /tmp/demo --frames 60 --size 1280x720")
    demo.add_argument("--output-dir", "-o", default="livegaze-demo", metavar="DIR",
                      help="folder for the video and the sheet (made if missing) [default: ./livegaze-demo]")
    demo.add_argument("--frames", type=int, default=90, help="clip length, frames (1-100000) [default: 90]")
    demo.add_argument("--size", type=parse_size, default=(640, 480), metavar="WxH",
                      help="frame size in pixels, even [default: 640x480]")
    add_flags(demo.add_argument_group("corrector"), CORRECTOR)

    photo = _command(sub, "photo", "correct every face in still pictures",
                     "Corrects every face in each picture and writes it under the same file name in "
                     "--output-dir\n(same format, bit depth and alpha, stored upright). A face turned away "
                     "or with closed eyes\nis left alone; a picture without a face is copied as it is.",
                     "  livegaze photo portrait.jpg --output-dir corrected/\n"
                     "  livegaze photo family/*.png -o corrected/ --strength 0.7")
    photo.add_argument("inputs", nargs="+", metavar="IMAGE", help="JPEG, PNG, BMP, TIFF or WebP files")
    photo.add_argument("--output-dir", "-o", required=True, metavar="DIR",
                       help="folder for the results, not the pictures' own (required)")
    add_flags(photo.add_argument_group("correction"), ("live.strength", "landmarks.model_path") + CORRECTOR)
    add_flags(photo.add_argument_group("gate (when to leave a face alone)"), GATE)

    calibrate = _command(sub, "calibrate", "measure where you look at the screen, for eye contact that keeps "
                                           "your own eye movements",
                         "Opens the camera, then asks you to look into the camera and at the middle of your "
                         "screen,\na couple of seconds each. The offset between the two is saved for "
                         "`livegaze run` and the tray.",
                         "  livegaze calibrate\n  livegaze calibrate --input 1 --seconds 4")
    calibrate.add_argument("--input", "-i", default="0", metavar="SOURCE",
                           help="camera index, device, or a video of the two looks [default: 0]")
    calibrate.add_argument("--seconds", type=float, default=2.5,
                           help="seconds per look (1-30) [default: 2.5]")
    calibrate.add_argument("--face-model", metavar="FILE",
                           help="face_landmarker.task to use [default: the packaged copy]")

    evaluate = _command(sub, "eval", "quality report: correctors side by side on real faces",
                        "Measures correctors on photos and clips and writes report.md, before/after sheets "
                        "and plots.\nWithout media: the photos that ship with scikit-image and matplotlib, "
                        "the project's test\nmedia when found (../shared/media beside a source checkout, or "
                        "$LIVEGAZE_MEDIA), and a\ngenerated clip. The report names the media sets and the "
                        "number of faces it measured.",
                        "  livegaze eval\n"
                        "  livegaze eval talk.mp4 me.jpg --corrector warp --report my-report/")
    evaluate.add_argument("media", nargs="*", help="images or videos [default: the test media above]")
    evaluate.add_argument("--corrector", action="append", dest="correctors", metavar="NAME",
                          help="a corrector to compare; repeat for more [default: every corrector that "
                               "needs no model, and the model's with --checkpoint or --engine]")
    evaluate.add_argument("--report", default="livegaze-eval", metavar="DIR",
                          help="folder for the report (made if missing) [default: ./livegaze-eval]")
    evaluate.add_argument("--live", action=argparse.BooleanOptionalAction, default=True,
                          help="with the default media, also measure the live default (shift mode on "
                               "screen-reading clips; about 5 minutes on 2 cores) [default: on]")
    add_flags(evaluate, ("live.strength", "correct.checkpoint", "correct.engine"))

    devices = _command(sub, "devices", "list cameras, the virtual camera, correctors and model runners",
                       "Lists what livegaze can use on this machine: cameras (with their size), the virtual "
                       "camera\ndevice (or why there is none), correctors, and model runners (or why each is "
                       "skipped).", "  livegaze devices")
    del devices

    bench = _command(sub, "bench", "measure fps, latency and per-stage time of the live pipeline",
                     "Runs the live pipeline on generated clips of each size, paced like a camera, and "
                     "prints fps,\nend-to-end latency, per-stage time, and the CPU a live run adds (cores, "
                     "and per frame\nagainst a bare MediaPipe FaceLandmarker on the same frames), for the normal "
                     "setting and the\ntray's battery saver, with the flicker of each.",
                     "  livegaze bench\n  livegaze bench --sizes 640x480,1920x1080 --frames 300\n"
                     "  livegaze bench --sizes 1280x720 --faces 1,2,4")
    bench.add_argument("--frames", type=int, default=150, help="frames per clip (10-100000) [default: 150]")
    bench.add_argument("--sizes", type=parse_sizes, default=parse_sizes("640x480,1280x720,1920x1080"),
                       metavar="WxH,...", help="frame sizes, comma-separated WIDTHxHEIGHT "
                                               "[default: 640x480,1280x720,1920x1080]")
    bench.add_argument("--faces", type=parse_counts, default=(1,), metavar="N,...",
                       help="faces in view, comma-separated; each count is a clip of its own [default: 1]")
    add_flags(bench.add_argument_group("corrector"), CORRECTOR + ("landmarks.model_every",))

    _command(sub, "download-model", "download MediaPipe's face_landmarker.task into the cache (needs internet)",
             "Fetches Google's face_landmarker.task, checks its checksum and puts it in the user cache, "
             "where it\nis used instead of the packaged copy. Not needed: livegaze works offline with the "
             "packaged copy.", "  livegaze download-model")

    build = _command(sub, "build-engine", "trained checkpoint -> ONNX -> GPU engine (cached per GPU)",
                     "Exports a GazeGAN checkpoint to ONNX (fp32 and fp16, checked against torch) and the "
                     "CPU graphs,\nand builds a TensorRT FP16 plan when TensorRT and an NVIDIA GPU are "
                     "here. Needs the\n'train' extra (torch) and the 'models' extra (ONNX).",
                     "  livegaze build-engine runs/gazegan/last.pt\n"
                     "  livegaze build-engine runs/gazegan/last.pt --output-dir engines/ --force")
    build.add_argument("checkpoint", help="GazeGAN checkpoint written by python -m training.train")
    build.add_argument("--output-dir", "-o", metavar="DIR",
                       help="where to put the ONNX files [default: the engine cache]")
    build.add_argument("--force", action="store_true",
                       help="rebuild even when a cached engine matches [default: off]")

    bench_engine = _command(sub, "bench-engine", "ms per face for every available model runner",
                            "Times the GazeGAN generator on every runner found here (TensorRT, ONNX Runtime, "
                            "OpenVINO,\ntorch), side by side. Needs the 'models' extra.",
                            "  livegaze bench-engine\n  livegaze bench-engine runs/gazegan/last.pt --repeats 50")
    bench_engine.add_argument("models", nargs="*", help="checkpoints or ONNX files [default: random-weight "
                                                        "reference models]")
    bench_engine.add_argument("--repeats", type=int, default=30, help="timed runs per model (1-10000) "
                                                                      "[default: 30]")
    return parser
