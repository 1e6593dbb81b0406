"""`python -m training.prepare SRC DST`: build the CelebAGaze layout from any folder of face photos.

Each photo: a face reader (training.faces; the live app's MediaPipe landmarker is the installed
one) finds the face, and it is aligned to 256x256 with the model's eye geometry
(training.geometry, which the live app aligns with too, so training sees faces exactly as the
live pipeline will); the gaze is estimated from the iris position in the eye opening. Photos
looking at the camera go to 1/ (domain X), those looking away to 0/ (domain Y); the ones in
between are listed in DST/uncertain.txt with their scores for a human to sort.
"""
from __future__ import annotations

import os
import sys

import cv2
from tqdm import tqdm

from training.atomic import write_jpeg, write_text
from training.clihelp import helptext, new_parser
from training.faces import FaceReader, default_reader
from training.geometry import EyeGeometry, alignment

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def prepare(src: str, dst: str, x_max: float = 0.06, y_min: float = 0.10, size: int = 256,
            min_openness: float = 0.15, reader: FaceReader | None = None) -> dict:
    """Sort and align the photos of `src` into `dst`; returns counts per outcome. `reader`:
    the face reader (default: the installed one, training.faces.default_reader)."""
    if not os.path.isdir(src):
        raise FileNotFoundError(f"{src}: no such folder (expected a folder of face photos)")
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(src) for f in fs
                   if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise FileNotFoundError(f"{src}: no photos found (expected {', '.join(IMAGE_EXTENSIONS)})")
    for d in ("0", "1"):
        os.makedirs(os.path.join(dst, d), exist_ok=True)
    geometry = EyeGeometry(size=size)
    lines = {0: [], 1: []}
    uncertain, counts = [], {"unreadable": 0, "no_face": 0, "eyes_closed": 0, "x": 0, "y": 0, "uncertain": 0}
    reader = reader or default_reader()
    try:
        for i, path in enumerate(tqdm(files, desc="prepare", unit="photo")):
            image = cv2.imread(path)
            if image is None:
                counts["unreadable"] += 1
                continue
            face = reader.read(image)
            if face is None:
                counts["no_face"] += 1
                continue
            if min(face.openness) < min_openness:
                counts["eyes_closed"] += 1
                continue
            m = alignment(face.eye_centres, geometry)
            aligned = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            name = f"{i:06d}.jpg"
            label = f"{name} " + " ".join(str(int(round(v))) for v in geometry.eye_points().reshape(-1))
            if face.gaze_offset <= x_max:
                domain = 1
            elif face.gaze_offset >= y_min:
                domain = 0
            else:
                uncertain.append(f"{path}\t{face.gaze_offset:.3f}")
                counts["uncertain"] += 1
                continue
            write_jpeg(os.path.join(dst, str(domain), name), aligned)
            lines[domain].append(label)
            counts["x" if domain else "y"] += 1
    finally:
        reader.close()
    for domain, rows in lines.items():
        write_text(os.path.join(dst, f"{domain}.txt"), "".join(r + "\n" for r in rows))
    write_text(os.path.join(dst, "uncertain.txt"),
               "# photo\tgaze score (eye widths from eye contact); move into 0/ or 1/ by hand\n"
               + "".join(u + "\n" for u in uncertain))
    return counts


def main(argv=None) -> int:
    p = new_parser("python -m training.prepare", """\
Build a training set in the CelebAGaze layout from any folder of face photos.

Each photo's face is found with the live app's landmarker and aligned as the live app aligns
faces. Its gaze score, how far the irises sit from where they would be when looking into
the camera (in eye widths, both eyes averaged; 0: eye contact), sorts it into one of the two
domains GazeGAN learns between:
  X  looking into the camera: score at most --x-max -> DST/1/ and DST/1.txt
  Y  looking away:            score at least --y-min -> DST/0/ and DST/0.txt
Photos scored in between are listed with their scores in DST/uncertain.txt, to be sorted by
hand; photos without a face, with eyes closed or unreadable are counted and skipped.""", """\
python -m training.prepare ~/photos data/
python -m training.prepare ~/photos data512/ --size 512               # CelebHQGaze-sized (the CFM model)
python -m training.prepare ~/photos data/ --x-max 0.04 --y-min 0.15   # stricter: fewer, surer faces""")
    p.add_argument("src", metavar="SRC", help="folder of face photos, searched recursively (.jpg, .jpeg, .png, "
                                              ".bmp, .webp) (required)")
    p.add_argument("dst", metavar="DST", help="output folder in the CelebAGaze layout, created if missing (required)")
    p.add_argument("--x-max", type=float, default=0.06, metavar="SCORE",
                   help=helptext("highest gaze score, in eye widths, of a face looking into the camera (domain X, "
                                 "1/)", 0.06))
    p.add_argument("--y-min", type=float, default=0.10, metavar="SCORE",
                   help=helptext("lowest gaze score, in eye widths, of a face looking away (domain Y, 0/); above "
                                 "--x-max", 0.10))
    p.add_argument("--min-openness", type=float, default=0.15, metavar="RATIO",
                   help=helptext("skip faces whose less open eye has a lid gap below this share of its width "
                                 "(closed or blinking)", 0.15))
    p.add_argument("--size", type=int, default=256, metavar="PIXELS",
                   help=helptext("side of the aligned faces written, in pixels (training's --size; 512: the "
                                 "high-resolution CelebHQGaze layout)", 256))
    args = p.parse_args(argv)
    if not 0 <= args.x_max < args.y_min:
        print(f"prepare: error: --x-max {args.x_max} --y-min {args.y_min}: expected 0 <= --x-max < --y-min",
              file=sys.stderr)
        return 2
    if not 0 <= args.min_openness < 1:
        print(f"prepare: error: --min-openness {args.min_openness}: expected 0 to below 1", file=sys.stderr)
        return 2
    if not 64 <= args.size <= 1024 or args.size % 32:
        print(f"prepare: error: --size {args.size}: expected 64 to 1024 pixels, a multiple of 32 (training's "
              "--size)", file=sys.stderr)
        return 2
    try:
        counts = prepare(args.src, args.dst, args.x_max, args.y_min, args.size, args.min_openness)
    except (FileNotFoundError, LookupError) as exc:
        print(f"prepare: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk or a folder that cannot be written: no index lists a lost image
        print(f"prepare: error: {exc.filename or args.dst}: cannot write ({exc.strerror or exc})", file=sys.stderr)
        return 2
    print("prepare: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
