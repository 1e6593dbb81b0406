"""What a training run writes besides its checkpoints: RUN_DIR/losses.jsonl (every step),
TensorBoard scalars (every `log_every` steps) and image grids under RUN_DIR/tb."""
from __future__ import annotations

import json
import os

import torch

from training.atomic import write_text


class RunLog:
    """Rank 0's log of one run."""

    def __init__(self, run_dir: str, log_every: int):
        from torch.utils.tensorboard import SummaryWriter

        os.makedirs(run_dir, exist_ok=True)
        self.path = os.path.join(run_dir, "losses.jsonl")
        self.log_every = log_every
        self.writer = SummaryWriter(os.path.join(run_dir, "tb"))

    def losses(self, phase: str, step: int, values: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"phase": phase, "step": step, **values}) + "\n")
        if step % self.log_every == 0:
            for k, v in values.items():
                self.writer.add_scalar(k, v, step)

    @torch.no_grad()
    def samples(self, nets: dict, last: dict, crop: int, step: int) -> None:
        """Rows: input y / masked / corrected G_x(y) / G_y animation strip (interpolated r)."""
        from training.animate import animation_strip
        y, my = last["y"][:4].float(), last["my"][:4]
        strip = animation_strip(nets, y, last["by"][:4], crop, alphas=(0.0, 0.5, 1.0, 1.5))
        rows = [y, y * (1 - my), last["yx_t"][:4].float()] + [s.float() for s in strip]
        grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)
        self.writer.add_image("samples/input-masked-corrected-animation", (grid + 1) / 2, step)

    def close(self) -> None:
        self.writer.close()


def truncate(run_dir: str, pam_step: int, step: int) -> None:
    """After a resume, drop loss lines logged past the checkpoint (they will be redone)."""
    path = os.path.join(run_dir, "losses.jsonl")
    if not os.path.isfile(path):
        return
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    keep = [line for line in lines if (line["phase"] == "pam" and line["step"] <= pam_step)
            or (line["phase"] == "gaze" and line["step"] <= step)]
    write_text(path, "".join(json.dumps(line) + "\n" for line in keep))  # all lines or the old file
