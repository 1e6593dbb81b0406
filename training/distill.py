"""`python -m training.distill TEACHER DATA`: a faster G_x student that imitates a trained G_x.

The student is the same in-painting generator at a lower resolution (`--size 128`: a quarter of
the work) and/or narrower (`--base 8 --fc 128`). It keeps the teacher's content encoder E_c and
runs inside the same graph interface (256x256 face in, 256x256 face out), so engines and the live
app use it like the teacher. Loss: L1 to the teacher's output on the eye boxes. The report gives
PSNR and MS-SSIM against the teacher on held-out faces (goal: PSNR >= 35 dB).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch
from tqdm import tqdm

from training import checkpoint
from training.data import DatasetError, GazeDataset, loader, read_labels, split
from training.evaluate import ms_ssim
from training.networks import InpaintGenerator, boxes_mask, crop_eyes, run_generator


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR (dB) of [-1,1] images over the mask."""
    sel = mask.expand_as(a) > 0
    mse = float(((a - b)[sel] ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(4.0 / mse)


def distill(teacher_path: str, data: str, out: str, size: int = 128, base: int = 16, fc: int = 256,
            iters: int = 2000, batch: int = 16, lr: float = 2e-4, device: str = "auto", seed: int = 0) -> dict:
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    payload = checkpoint.load(teacher_path)
    cfg = payload["config"]
    ec = checkpoint.rebuild(payload, "pam").encoder.to(dev).requires_grad_(False)
    teacher = checkpoint.rebuild(payload, "gx").to(dev).requires_grad_(False)
    torch.manual_seed(seed)
    student = InpaintGenerator(size, base, fc, teacher.args["content"]).to(dev)
    opt = torch.optim.Adam(student.parameters(), lr=lr, betas=(0.5, 0.999))
    records = read_labels(data, 0) + read_labels(data, 1)
    train, test = split(records, 200)
    full = cfg["size"]
    make = lambda recs: GazeDataset(recs, full, cfg["box_h"], cfg["box_w"])  # noqa: E731
    area = cfg["box_h"] * cfg["box_w"]

    def forward(batch):
        x, boxes = batch["image"].to(dev), batch["boxes"].to(dev)
        m = boxes_mask(boxes, full)
        with torch.no_grad():
            c = ec(crop_eyes(x, boxes, cfg["crop"]).flatten(0, 1)).view(x.shape[0], -1)
            target = teacher(x, m, c)
        return run_generator(student, x, m, c, size), target, m

    bar = tqdm(total=iters, desc="distill")
    for step, batch in enumerate(loader(make(train), batch, seed, 0, iters)):
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, 2 * (iters - step) / iters)  # constant, then linear decay over the second half
        pred, target, m = forward(batch)
        loss = ((pred - target).abs() * m).sum(dim=(1, 2, 3)).mean() / (area * 3)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.update(1)
        bar.set_postfix(l1=f"{loss.item():.4f}")
    bar.close()
    student.eval()
    psnrs, ssims = [], []
    with torch.no_grad():
        for batch in loader(make(test or train), 8, seed + 1, 0, max(1, len(test) // 8), flip=False):
            pred, target, m = forward(batch)
            boxes = batch["boxes"].to(dev)
            psnrs.append(psnr(pred, target, m))
            a = (crop_eyes(pred, boxes, 64).flatten(0, 1) + 1) / 2
            b = (crop_eyes(target, boxes, 64).flatten(0, 1) + 1) / 2
            ssims.append(float(ms_ssim(a.clamp(0, 1), b.clamp(0, 1)).mean()))
    report = {"student_size": size, "student_base": base, "student_fc": fc, "iters": iters,
              "psnr_db": float(np.mean(psnrs)), "ms_ssim": float(np.mean(ssims))}
    nets = {"pam": checkpoint.rebuild(payload, "pam"), "gx": student.cpu()}
    checkpoint.save(out, nets, config=dict(cfg), step=payload.get("step", 0), pam_step=payload.get("pam_step", 0),
                    distilled_from=os.path.basename(teacher_path), distill_report=report)
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.distill", description=__doc__.split("\n\n")[0])
    p.add_argument("teacher")
    p.add_argument("data")
    p.add_argument("--out", default="student.pt")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--base", type=int, default=16)
    p.add_argument("--fc", type=int, default=256)
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    try:
        report = distill(args.teacher, args.data, args.out, args.size, args.base, args.fc, args.iters, args.batch,
                         args.lr, args.device)
    except (DatasetError, FileNotFoundError, ValueError) as exc:
        print(f"distill: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
