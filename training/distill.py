"""`python -m training.distill TEACHER DATA`: a faster G_x student that imitates a trained G_x.

The student is the same in-painting generator at a lower resolution (`--size 128`: a quarter of
the work) and/or narrower (`--base 8 --fc 128`). It keeps the teacher's content encoder E_c and
runs inside the same graph interface (256x256 face in, 256x256 face out), so engines and the live
app use it like the teacher. Loss: L1 to the teacher's output on the eye boxes. The report gives
PSNR and MS-SSIM against the teacher on held-out faces (goal: PSNR >= 35 dB).
"""
if __name__ == "__main__":  # before torch is imported: without it, one line naming the extra
    from training.clihelp import require_training_extra
    require_training_extra("distill")

import json
import os
import sys

import numpy as np
import torch
from tqdm import tqdm

from training import checkpoint, netargs
from training.clihelp import helptext, new_parser
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
    from training.trainer import pick_device

    dev = pick_device(device)
    payload = checkpoint.load(teacher_path)
    cfg = checkpoint.config_of(payload)
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
            target = teacher(x, m, c, boxes=boxes)
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
    p = new_parser("python -m training.distill", """\
Train a faster G_x (the student) to imitate a trained one (the teacher): the same in-painting
generator at a lower resolution (--size) and/or narrower (--base, --fc). It keeps the teacher's
content encoder E_c and takes the same 256x256 face in and out, so build-engine and the live
app use it like the teacher. Prints PSNR and MS-SSIM against the teacher on held-out faces
(goal: PSNR >= 35 dB) and writes the student as a checkpoint.""", """\
python -m training.distill runs/gazegan/last.pt data/ --out student.pt
python -m training.distill runs/gazegan/last.pt data/ --size 128 --base 8 --fc 128 --iters 5000""")
    p.add_argument("teacher", metavar="TEACHER", help="checkpoint written by python -m training.train (required)")
    p.add_argument("data", metavar="DATA", help="dataset folder in the CelebAGaze layout (required)")
    p.add_argument("--out", default="student.pt", metavar="FILE",
                   help=helptext("where to write the student checkpoint", "student.pt"))
    p.add_argument("--size", type=int, default=128, metavar="PIXELS",
                   help=helptext("side of the face the student works at, in pixels (a multiple of 32)", 128))
    p.add_argument("--base", type=int, default=16, metavar="CHANNELS",
                   help=helptext("channels of the student's first layer", 16))
    p.add_argument("--fc", type=int, default=256, metavar="FEATURES",
                   help=helptext("width of the student's bottleneck, in features", 256))
    p.add_argument("--iters", type=int, default=2000, metavar="STEPS", help=helptext("training steps", 2000))
    p.add_argument("--batch", type=int, default=16, metavar="N", help=helptext("faces per step", 16))
    p.add_argument("--lr", type=float, default=2e-4, metavar="RATE",
                   help=helptext("Adam learning rate (constant, then falling linearly to 0 over the second half)",
                                 2e-4))
    p.add_argument("--device", default="auto", metavar="DEVICE",
                   help=helptext("auto (a CUDA GPU when torch sees one, else the CPU), cpu, cuda or cuda:N", "auto"))
    args = p.parse_args(argv)
    why = next((f"--{name} {getattr(args, name)}: {netargs.range_error(name, getattr(args, name))}"
                for name in ("size", "base", "fc") if netargs.range_error(name, getattr(args, name))), None)
    if why is None and (args.iters < 1 or args.batch < 1):
        why = f"--iters {args.iters} --batch {args.batch}: expected at least 1 each"
    if why is None and not args.lr > 0:
        why = f"--lr {args.lr}: expected a learning rate above 0"
    if why:
        print(f"distill: error: {why}", file=sys.stderr)
        return 2
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
