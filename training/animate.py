"""Gaze animation (paper section 3.6): interpolate and extrapolate the angle code r between an
input and its G_x-corrected version, decode with G_y; write a PNG strip and a GIF.

    python -m training.animate CKPT DATA --out anim    # first test faces of domain Y
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

from training import checkpoint
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
    y2x = gx(y, m, c_y)
    crops_x = crop_eyes(y2x, boxes, crop)
    c_x = ec(crops_x.flatten(0, 1)).view(b, -1)
    r_x = er(crops_x)
    return [gy(y, m, a * c_x + (1 - a) * c_y, a * r_x + (1 - a) * r_y) for a in alphas]


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """(3,H,W) in [-1,1] RGB -> HxWx3 uint8 RGB."""
    return ((t.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.animate", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("data", help="CelebAGaze-layout folder; its Y test faces are animated")
    p.add_argument("--out", default="animation", help="output prefix: PREFIX.png and PREFIX.gif")
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--alphas", default="-1,-0.5,0,0.5,1,1.4,2", help="comma-separated interpolation factors")
    args = p.parse_args(argv)
    from PIL import Image

    from training.data import DatasetError, GazeDataset, read_labels, split
    try:
        payload = checkpoint.load(args.checkpoint)
        nets = {k: checkpoint.rebuild(payload, k) for k in ("pam", "gx", "gy", "er")}
        cfg = payload["config"]
        _, test = split(read_labels(args.data, 0), cfg["test_y"])
        ds = GazeDataset(test or read_labels(args.data, 0), cfg["size"], cfg["box_h"], cfg["box_w"])
    except (DatasetError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"animate: error: {exc}", file=sys.stderr)
        return 2
    items = [ds[i] for i in range(min(args.count, len(ds)))]
    y = torch.stack([it["image"] for it in items])
    boxes = torch.stack([it["boxes"] for it in items])
    alphas = [float(a) for a in args.alphas.split(",")]
    frames = animation_strip(nets, y, boxes, cfg["crop"], alphas)
    rows = [np.hstack([to_uint8(y[i])] + [to_uint8(f[i]) for f in frames]) for i in range(len(items))]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    Image.fromarray(np.vstack(rows)).save(args.out + ".png.tmp", format="PNG")
    os.replace(args.out + ".png.tmp", args.out + ".png")
    gif = [Image.fromarray(np.hstack([to_uint8(f[i]) for i in range(len(items))])) for f in frames]
    gif[0].save(args.out + ".gif.tmp", format="GIF", save_all=True, append_images=gif[1:] + gif[-2:0:-1],
                duration=120, loop=0)
    os.replace(args.out + ".gif.tmp", args.out + ".gif")
    print(f"wrote {args.out}.png and {args.out}.gif (alphas {alphas})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
