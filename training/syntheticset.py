"""A small synthetic CelebAGaze set for tests: the packaged real face photos (scikit-image's
astronaut, matplotlib's Grace Hopper) aligned as the live app aligns faces, with procedurally
drawn eyes at known gaze offsets. Domain X looks into the camera, domain Y elsewhere.

    python -m training.syntheticset DST --per-domain 200
"""
from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from training.atomic import write_jpeg, write_text
from training.clihelp import helptext, new_parser
from training.geometry import EyeGeometry, alignment
from training.photos import PHOTOS, eye_centres, photo

EYE_SEMI_AXES = (17.0, 8.0)  # drawn eye opening, half width and half height, at 256 px


def base_faces(size: int = 256) -> list[np.ndarray]:
    """The packaged photos aligned to size x size with the eyes at the model's fixed points
    (their eye centres are known: no landmarker needed)."""
    geometry = EyeGeometry(size=size)
    return [cv2.warpAffine(photo(name), alignment(eye_centres(name), geometry), (size, size),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for name in PHOTOS]


def draw_eye(image: np.ndarray, centre, gaze, iris_colour, scale: float = 1.0) -> None:
    """Sclera ellipse, iris and pupil at `gaze` (fraction of the semi-axes), clipped by the lids."""
    ax, ay = EYE_SEMI_AXES[0] * scale, EYE_SEMI_AXES[1] * scale
    cx, cy = centre
    h, w = image.shape[:2]
    lid = np.zeros((h, w), np.uint8)
    cv2.ellipse(lid, (int(round(cx * 4)), int(round(cy * 4))), (int(ax * 4), int(ay * 4)), 0, 0, 360, 255, -1,
                cv2.LINE_AA, shift=2)
    eye = image.copy()
    cv2.ellipse(eye, (int(round(cx * 4)), int(round(cy * 4))), (int(ax * 4), int(ay * 4)), 0, 0, 360,
                (235, 238, 240), -1, cv2.LINE_AA, shift=2)
    ix, iy = cx + gaze[0] * ax * 0.75, cy + gaze[1] * ay * 0.9
    r = ay * 1.0
    cv2.circle(eye, (int(round(ix * 4)), int(round(iy * 4))), int(r * 4), iris_colour, -1, cv2.LINE_AA, shift=2)
    cv2.circle(eye, (int(round(ix * 4)), int(round(iy * 4))), int(r * 0.45 * 4), (15, 15, 15), -1, cv2.LINE_AA,
               shift=2)
    alpha = (lid.astype(np.float32) / 255)[..., None]
    image[:] = (eye * alpha + image * (1 - alpha)).astype(np.uint8)
    cv2.ellipse(image, (int(round(cx * 4)), int(round(cy * 4))), (int(ax * 4), int(ay * 4)), 0, 180, 360,
                (40, 40, 60), 2, cv2.LINE_AA, shift=2)


def make_sample(face: np.ndarray, rng: np.random.Generator, looking: bool, size: int = 256):
    """One face: random shift/scale/brightness, eyes drawn at a camera-facing or averted gaze.
    Returns the image, eye centres (2,2), the gaze (dx, dy) as fractions of the semi-axes, and the
    same face looking into the camera (the ground truth a correction should reach)."""
    eyes = EyeGeometry(size=size).eye_points().astype(np.float64)
    s = rng.uniform(0.95, 1.05)
    t = rng.uniform(-6, 6, 2) * (size / 256)  # the same jitter relative to the face at any size
    m = np.array([[s, 0, (1 - s) * size / 2 + t[0]], [0, s, (1 - s) * size / 2 + t[1]]])
    image = cv2.warpAffine(face, m, (size, size), borderMode=cv2.BORDER_REFLECT)
    image = cv2.convertScaleAbs(image, alpha=rng.uniform(0.85, 1.15), beta=rng.uniform(-10, 10))
    eyes = eyes @ m[:, :2].T + m[:, 2]
    if looking:
        gaze = rng.normal(0, 0.04, 2)
    else:
        angle = rng.uniform(0, 2 * np.pi)
        gaze = rng.uniform(0.45, 0.8) * np.array([np.cos(angle), np.sin(angle)])
    colour = tuple(int(c) for c in rng.integers(20, 140, 3))
    facing = image.copy()
    for c in eyes:  # EYE_SEMI_AXES are at 256 px: the eyes scale with the face
        draw_eye(image, c, gaze, colour, scale=s * size / 256)
        draw_eye(facing, c, (0.0, 0.0), colour, scale=s * size / 256)
    return image, eyes, gaze, facing


def write_dataset(dst: str, per_domain: int = 60, seed: int = 0, size: int = 256) -> dict:
    """Write DST/{0,1}/*.jpg and DST/{0,1}.txt, plus DST/facing/<name> (each face of Y redrawn
    looking into the camera: ground truth for corrections); returns {name: gaze}."""
    rng = np.random.default_rng(seed)
    faces = base_faces(size)
    truth = {}
    os.makedirs(os.path.join(dst, "facing"), exist_ok=True)
    for domain, looking in ((1, True), (0, False)):
        os.makedirs(os.path.join(dst, str(domain)), exist_ok=True)
        lines = []
        for i in range(per_domain):
            image, eyes, gaze, facing = make_sample(faces[i % len(faces)], rng, looking, size)
            name = f"{domain}_{i:05d}.jpg"
            write_jpeg(os.path.join(dst, str(domain), name), image)
            if not looking:
                write_jpeg(os.path.join(dst, "facing", name), facing)
            lines.append(f"{name} " + " ".join(str(int(round(v))) for v in eyes.reshape(-1)))
            truth[name] = gaze
        write_text(os.path.join(dst, f"{domain}.txt"), "\n".join(lines) + "\n")
    return truth


def main(argv=None) -> int:
    p = new_parser("python -m training.syntheticset", """\
Write a small synthetic training set in the CelebAGaze layout, for trying the training out and
for tests: the packaged face photos (scikit-image's astronaut, matplotlib's Grace Hopper),
aligned as the live app aligns faces, with eyes drawn at known gaze directions.
  DST/1/, 1.txt   domain X: looking into the camera
  DST/0/, 0.txt   domain Y: looking away
  DST/facing/     each face of Y drawn looking into the camera (the truth evaluate measures against)""",
                   """\
python -m training.syntheticset data-synth/ --per-domain 200
python -m training.syntheticset data-synth512/ --size 512        # CelebHQGaze-sized faces
python -m training.train --data data-synth/ --size 64 --box-h 10 --box-w 16 --crop 16 --base 8   # a tiny run""")
    p.add_argument("dst", metavar="DST", help="output folder, created if missing (required)")
    p.add_argument("--per-domain", type=int, default=200, metavar="N",
                   help=helptext("faces to draw in each domain, 1 to 100000", 200))
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help=helptext("random seed of the placements, gaze directions and iris colours", 0))
    p.add_argument("--size", type=int, default=256, metavar="PIXELS",
                   help=helptext("side of the aligned faces, in pixels, 64 to 1024 (512: CelebHQGaze's)", 256))
    args = p.parse_args(argv)
    if not 1 <= args.per_domain <= 100_000:
        print(f"syntheticset: error: --per-domain {args.per_domain}: expected 1 to 100000 faces", file=sys.stderr)
        return 2
    if not 64 <= args.size <= 1024:
        print(f"syntheticset: error: --size {args.size}: expected 64 to 1024 pixels", file=sys.stderr)
        return 2
    try:
        write_dataset(args.dst, args.per_domain, args.seed, args.size)
    except OSError as exc:  # a full disk or a folder that cannot be written
        print(f"syntheticset: error: {exc.filename or args.dst}: cannot write ({exc.strerror or exc})",
              file=sys.stderr)
        return 2
    print(f"wrote {2 * args.per_domain} faces to {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
