"""Gaze animation (paper section 3.6): interpolate and extrapolate the angle code r between an
input and its G_x-corrected version, decode with G_y; write a PNG strip and a GIF.

    python -m training.animate CKPT DATA --out anim    # first test faces of domain Y
"""
if __name__ == "__main__":  # before torch is imported: without it, one line naming the extra
    from training.clihelp import require_training_extra
    require_training_extra("animate")

import io
import sys

import numpy as np
import torch

from training import checkpoint
from training.clihelp import helptext, new_parser
from training.atomic import write_bytes
from training.networks import boxes_mask, crop_eyes


@torch.no_grad()
def animation_strip(nets: dict, y: torch.Tensor, boxes: torch.Tensor, crop: int = 64,
                    alphas=(0.0, 0.5, 1.0)) -> list:
    """G_y outputs for r = a * r(corrected) + (1 - a) * r(input), one tensor per alpha."""
    ec, gx, gy, er = nets["pam"].encoder, nets["gx"], nets["gy"], nets["er"]
    size = y.shape[-1]
    b = y.shape[0]
    m = boxes_mask(boxes, size)
    crops = crop_eyes(y, boxes, crop)
    c_y = ec(crops.flatten(0, 1)).view(b, -1)
    r_y = er(crops)
    y2x = gx(y, m, c_y, boxes=boxes)
    crops_x = crop_eyes(y2x, boxes, crop)
    c_x = ec(crops_x.flatten(0, 1)).view(b, -1)
    r_x = er(crops_x)
    return [gy(y, m, a * c_x + (1 - a) * c_y, a * r_x + (1 - a) * r_y, boxes=boxes) for a in alphas]


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """(3,H,W) in [-1,1] RGB -> HxWx3 uint8 RGB."""
    return ((t.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def main(argv=None) -> int:
    p = new_parser("python -m training.animate", """\
Gaze animation (the paper's section 3.6): G_y redraws held-out faces of domain Y (looking away)
with their angle code moved from the input's (alpha 0) to that of its G_x correction (alpha 1),
and beyond. Writes PREFIX.png (one row per face: the input, then one column per alpha) and
PREFIX.gif (the alphas as frames, forth and back).""", """\
python -m training.animate runs/gazegan/last.pt data/ --out runs/gazegan/animation
python -m training.animate runs/gazegan/last.pt data/ --count 8 --alphas 0,0.25,0.5,0.75,1""")
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="checkpoint written by python -m training.train with G_y and E_r (required)")
    p.add_argument("data", metavar="DATA", help="dataset folder in the CelebAGaze layout; its held-out faces of "
                                                "domain Y are animated (required)")
    p.add_argument("--out", default="animation", metavar="PREFIX",
                   help=helptext("output path without extension: PREFIX.png and PREFIX.gif", "animation"))
    p.add_argument("--count", type=int, default=4, metavar="N", help=helptext("faces to animate, 1 to 64", 4))
    p.add_argument("--alphas", default="-1,-0.5,0,0.5,1,1.4,2", metavar="A,B,...",
                   help=helptext("interpolation factors, comma-separated: 0 = the input's gaze, 1 = the corrected "
                                 "one, beyond extrapolates", "-1,-0.5,0,0.5,1,1.4,2"))
    args = p.parse_args(argv)
    try:
        alphas = [float(a) for a in args.alphas.split(",")]
    except ValueError:
        alphas = []
    if not alphas or not all(-10 <= a <= 10 for a in alphas):
        print(f"animate: error: --alphas {args.alphas}: expected numbers from -10 to 10, comma-separated",
              file=sys.stderr)
        return 2
    if not 1 <= args.count <= 64:
        print(f"animate: error: --count {args.count}: expected 1 to 64 faces", file=sys.stderr)
        return 2
    from PIL import Image

    from training.data import DatasetError, GazeDataset, read_labels, split
    try:
        payload = checkpoint.load(args.checkpoint)
        nets = {k: checkpoint.rebuild(payload, k) for k in ("pam", "gx", "gy", "er")}
        cfg = checkpoint.config_of(payload)
        _, test = split(read_labels(args.data, 0), cfg["test_y"])
        ds = GazeDataset(test or read_labels(args.data, 0), cfg["size"], cfg["box_h"], cfg["box_w"])
    except (DatasetError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"animate: error: {exc}", file=sys.stderr)
        return 2
    items = [ds[i] for i in range(min(args.count, len(ds)))]
    y = torch.stack([it["image"] for it in items])
    boxes = torch.stack([it["boxes"] for it in items])
    frames = animation_strip(nets, y, boxes, cfg["crop"], alphas)
    rows = [np.hstack([to_uint8(y[i])] + [to_uint8(f[i]) for f in frames]) for i in range(len(items))]
    sheet = io.BytesIO()
    Image.fromarray(np.vstack(rows)).save(sheet, format="PNG")
    gif = [Image.fromarray(np.hstack([to_uint8(f[i]) for i in range(len(items))])) for f in frames]
    movie = io.BytesIO()
    gif[0].save(movie, format="GIF", save_all=True, append_images=gif[1:] + gif[-2:0:-1], duration=120, loop=0)
    try:  # each file whole and durable, or the old one kept (training.atomic)
        write_bytes(args.out + ".png", sheet.getvalue())
        write_bytes(args.out + ".gif", movie.getvalue())
    except OSError as exc:
        print(f"animate: error: {args.out}: cannot write ({exc.strerror or exc})", file=sys.stderr)
        return 2
    print(f"wrote {args.out}.png and {args.out}.gif (alphas {alphas})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
