"""`python -m training.evaluate CKPT DATA`: the paper's protocol on the test split.

Table 1: MS-SSIM / LPIPS of the background (face without the eye boxes) of G_x corrections of Y.
Table 2: G_x reconstructions of X, on the eye regions.  Table 3: G_y reconstructions of Y, eye regions.
Any model at its own size: the 512 px coarse-to-fine one too. The eye regions are compared as
crops of 64 px per 256 px of face (128 at 512), so a higher resolution is measured at its own detail.
The TIP 2022 paper's tables for CelebHQGaze could not be read here (only its abstract and
introduction): these are the MM 2020 paper's metrics, which the 512 model is measured with too.
On a synthetic set (DATA/facing/ holds the truth, see training.syntheticset) also: how far G_x moves
the iris of held-out averted faces toward the camera-facing position (training.irisscore).
LPIPS runs only where its backbone weights are on disk (the `lpips` package and torchvision's
AlexNet in the torch hub cache); otherwise it is skipped with a message.
"""
if __name__ == "__main__":  # before torch is imported: without it, one line naming the extra
    from training.clihelp import require_training_extra
    require_training_extra("evaluate")

import json
import os
import sys

import torch
import torch.nn.functional as F

from training import checkpoint
from training.clihelp import new_parser
from training.data import DatasetError, GazeDataset, Record, read_labels, split
from training.irisscore import iris_errors
from training.networks import boxes_mask, crop_eyes


def _gauss(size=11, sigma=1.5, device="cpu"):
    x = torch.arange(size, dtype=torch.float32, device=device) - size // 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(3, 1, size, size).contiguous()


def _ssim_parts(a, b, win):
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu_a, mu_b = F.conv2d(a, win, groups=3), F.conv2d(b, win, groups=3)
    saa = F.conv2d(a * a, win, groups=3) - mu_a ** 2
    sbb = F.conv2d(b * b, win, groups=3) - mu_b ** 2
    sab = F.conv2d(a * b, win, groups=3) - mu_a * mu_b
    cs = (2 * sab + c2) / (saa + sbb + c2)
    lum = (2 * mu_a * mu_b + c1) / (mu_a ** 2 + mu_b ** 2 + c1)
    return (lum * cs).mean(dim=(1, 2, 3)), cs.mean(dim=(1, 2, 3))


def ms_ssim(a: torch.Tensor, b: torch.Tensor, scales: int | None = None) -> torch.Tensor:
    """Multi-scale SSIM (Wang et al. 2003) per image; inputs in [0, 1], (B,3,H,W). Uses as many of
    the standard five scales as the image size allows (11 px window at the coarsest)."""
    weights = torch.tensor([0.0448, 0.2856, 0.3001, 0.2363, 0.1333], device=a.device)
    win = _gauss(device=a.device)
    n = scales or max(1, min(5, int(torch.log2(torch.tensor(min(a.shape[-2:]) / 11.0)).item()) + 1))
    w = weights[:n] / weights[:n].sum()
    out = torch.ones(a.shape[0], device=a.device)
    for i in range(n):
        ssim, cs = _ssim_parts(a, b, win)
        if i == n - 1:
            out = out * ssim.clamp(min=1e-6) ** w[i]
        else:
            out = out * cs.clamp(min=1e-6) ** w[i]
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return out


def lpips_metric():
    """An LPIPS function, or (None, reason) when its weights are not on this machine."""
    try:
        import torchvision  # noqa: F401
    except ImportError as exc:
        return None, f"LPIPS skipped: {exc.name} is not installed (pip install lpips torchvision)"
    hub = os.path.join(torch.hub.get_dir(), "checkpoints")
    if not any(f.startswith("alexnet") for f in (os.listdir(hub) if os.path.isdir(hub) else [])):
        return None, f"LPIPS skipped: AlexNet weights not in {hub} (download once with internet)"
    import lpips
    model = lpips.LPIPS(net="alex", verbose=False).eval()
    return (lambda a, b: model(a * 2 - 1, b * 2 - 1).flatten()), None


@torch.no_grad()
def evaluate(ckpt: str, data: str, batch: int = 16) -> dict:
    payload = checkpoint.load(ckpt)
    cfg = checkpoint.config_of(payload)
    nets = {k: checkpoint.rebuild(payload, k) for k in ("pam", "gx", "gy", "er")}
    ec, gx, gy, er = nets["pam"].encoder, nets["gx"], nets["gy"], nets["er"]
    _, y_test = split(read_labels(data, 0), cfg["test_y"])
    _, x_test = split(read_labels(data, 1), cfg["test_x"])
    lp, lp_reason = lpips_metric()
    side = 64 * cfg["size"] // 256  # eye-region crops at the face's own scale (64 at 256)
    kind = payload["networks"]["gx"]["kind"]
    results = {"model": {"size": cfg["size"], "generator": "cfm" if kind == "cfm_generator" else "plain"}}
    for table, records, domain in (("table1_background", y_test, "y"), ("table2_gx_on_x", x_test, "x"),
                                   ("table3_gy_on_y", y_test, "y")):
        ds = GazeDataset(records, cfg["size"], cfg["box_h"], cfg["box_w"])
        scores, lps = [], []
        for start in range(0, len(ds), batch):
            items = [ds[i] for i in range(start, min(start + batch, len(ds)))]
            img = torch.stack([it["image"] for it in items])
            boxes = torch.stack([it["boxes"] for it in items])
            m = boxes_mask(boxes, cfg["size"])
            crops = crop_eyes(img, boxes, cfg["crop"])
            c = ec(crops.flatten(0, 1)).view(len(items), -1)
            if table == "table3_gy_on_y":
                out = gy(img, m, c, er(crops), boxes=boxes)
            else:
                out = gx(img, m, c, boxes=boxes)
            if table == "table1_background":
                a, b = (img * (1 - m) + 1) / 2, (out * (1 - m) + 1) / 2
            else:  # the eye regions, as side x side crops side by side
                a = (crop_eyes(img, boxes, side).flatten(0, 1) + 1) / 2
                b = (crop_eyes(out, boxes, side).flatten(0, 1) + 1) / 2
            scores.append(ms_ssim(a, b))
            if lp is not None:
                lps.append(lp(a, b))
        entry = {"ms_ssim": float(torch.cat(scores).mean()), "count": len(ds)}
        entry["lpips"] = float(torch.cat(lps).mean()) if lps else None
        results[table] = entry
    if lp_reason:
        results["note"] = lp_reason
    if os.path.isdir(os.path.join(data, "facing")):
        results["synthetic_gaze"] = synthetic_gaze(payload, data, y_test, batch)
    return results


@torch.no_grad()
def synthetic_gaze(payload: dict, data: str, records: list[Record] | None = None, batch: int = 16) -> dict:
    """G_x on averted synthetic faces (all of domain Y, or `records`) against DATA/facing/: mean iris
    distance to the truth before and after (box fractions), the share of eyes moved closer, and the
    corrected iris contrast relative to the truth's (a blank fill would score near 0)."""
    from training.syntheticset import EYE_SEMI_AXES

    cfg = checkpoint.config_of(payload)
    ec, gx = checkpoint.rebuild(payload, "pam").encoder.eval(), checkpoint.rebuild(payload, "gx").eval()
    records = records if records is not None else read_labels(data, 0)
    facing = [Record(os.path.join(data, "facing", os.path.basename(r.path)), r.eyes) for r in records]
    for r in facing:
        if not os.path.isfile(r.path):
            raise DatasetError(f"{r.path}: missing (every face of {data}/0/ needs its camera-facing twin)")
    size = cfg["size"]
    # The drawn opening, a little enlarged for the synthetic scale jitter.
    opening = tuple(a * size / 256 * 1.1 for a in EYE_SEMI_AXES)
    ds, fs = (GazeDataset(recs, size, cfg["box_h"], cfg["box_w"]) for recs in (records, facing))
    parts = {"before": [], "after": [], "contrast": []}
    for start in range(0, len(ds), batch):
        idx = range(start, min(start + batch, len(ds)))
        img = torch.stack([ds[i]["image"] for i in idx])
        truth = torch.stack([fs[i]["image"] for i in idx])
        boxes = torch.stack([ds[i]["boxes"] for i in idx])
        c = ec(crop_eyes(img, boxes, cfg["crop"]).flatten(0, 1)).view(len(idx), -1)
        out = gx(img, boxes_mask(boxes, size), c, boxes=boxes)
        for k, v in iris_errors(img, out, truth, boxes, opening).items():
            parts[k].append(v.flatten())
    before, after, contrast = (torch.cat(parts[k]) for k in ("before", "after", "contrast"))
    return {"iris_error_before": float(before.mean()), "iris_error_after": float(after.mean()),
            "eyes_moved_closer": float((after < before).float().mean()), "iris_contrast": float(contrast.mean()),
            "count": len(ds)}


def main(argv=None) -> int:
    p = new_parser("python -m training.evaluate", """\
The paper's evaluation of a trained checkpoint on the held-out faces of a dataset (the last
--test-x / --test-y lines the run held out): MS-SSIM (1 = identical) and LPIPS (0 = identical)
  table1_background  the face outside the eye boxes after G_x corrects domain Y (looking away)
  table2_gx_on_x     G_x's reconstruction of the eye regions of domain X (looking into the camera)
  table3_gy_on_y     G_y's reconstruction of the eye regions of domain Y
On a synthetic set (python -m training.syntheticset) also how far G_x moves averted irises
toward the camera-facing truth. LPIPS needs the lpips package and AlexNet's weights on disk.""", """\
python -m training.evaluate runs/gazegan/last.pt data/
python -m training.evaluate runs/gazegan/last.pt data/ --json runs/gazegan/eval.json""")
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="checkpoint written by python -m training.train (RUN_DIR/last.pt) (required)")
    p.add_argument("data", metavar="DATA", help="dataset folder in the CelebAGaze layout, the one the run trained "
                                                "on (required)")
    p.add_argument("--json", metavar="FILE", help="also write the results to this JSON file [default: none]")
    args = p.parse_args(argv)
    try:
        results = evaluate(args.checkpoint, args.data)
    except (DatasetError, FileNotFoundError, ValueError) as exc:
        print(f"evaluate: error: {exc}", file=sys.stderr)
        return 2
    if results.get("note"):
        print(results["note"])
    model = results["model"]
    print(f"{'model':>20}: {model['generator']} in-painting at {model['size']} px")
    gaze = results.pop("synthetic_gaze", None)
    for table, r in results.items():
        if table not in ("note", "model"):
            lp = "n/a" if r["lpips"] is None else f"{r['lpips']:.4f}"
            print(f"{table:>20}: MS-SSIM {r['ms_ssim']:.3f}  LPIPS {lp}  ({r['count']} faces)")
    if gaze:
        print(f"{'synthetic_gaze':>20}: iris distance to the camera-facing truth {gaze['iris_error_before']:.3f} "
              f"-> {gaze['iris_error_after']:.3f} (box widths), {gaze['eyes_moved_closer']:.0%} of eyes closer, "
              f"iris contrast {gaze['iris_contrast']:.2f} of the truth's ({gaze['count']} faces)")
        results["synthetic_gaze"] = gaze
    if args.json:  # whole and durable, or the old file kept
        from training.atomic import write_text

        write_text(args.json, json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
