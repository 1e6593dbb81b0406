"""Every training default in one visible place (paper + official code), and its command line."""
from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass


@dataclass
class TrainConfig:
    # data and run
    data: str = ""  # CelebAGaze-layout folder (python -m training.prepare makes one)
    run_dir: str = "runs/gazegan"
    phase: str = "all"  # pam | gaze | all (pam, then gaze)
    test_x: int = 100  # last lines of 1.txt held out (upstream split)
    test_y: int = 300  # last lines of 0.txt held out
    # geometry
    size: int = 256
    box_h: int = 40
    box_w: int = 60
    crop: int = 64
    # network widths (defaults: the reference 22.0M-parameter G_x)
    base: int = 16
    fc: int = 256
    er_base: int = 32
    d_base: int = 32
    # optimisation: Adam (0.5, 0.999); constant lr, then linear decay to 0 at `iters`
    batch: int = 16
    iters: int = 200_000
    decay_start: int = 20_000
    lr: float = 1e-4
    pam_iters: int = 20_000
    pam_lr: float = 5e-4
    beta1: float = 0.5
    beta2: float = 0.999
    # loss weights (paper: every lambda 1)
    lambda_recon_x: float = 1.0  # lambda_1
    lambda_adv_x_on_y: float = 1.0  # lambda_2
    lambda_recon_y: float = 1.0  # lambda_3
    lambda_sat: float = 1.0  # lambda_4
    lambda_fp: float = 1.0  # lambda_5
    vgg_weights: str = ""  # local VGG16 state dict; empty = no VGG term
    lambda_vgg: float = 100.0
    pam_checkpoint: str = ""  # take E_c from this checkpoint instead of training PAM
    # machinery
    seed: int = 0
    workers: int = 2
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = True  # bf16 autocast on CUDA
    channels_last: bool = True  # on CUDA
    cuda_graph: bool = False  # one GPU: replay the whole gaze step as a CUDA graph (training.graphed)
    flip: bool = True
    log_every: int = 50
    image_every: int = 1000
    ckpt_every: int = 1000

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def validate(self) -> None:
        if self.phase not in ("pam", "gaze", "all"):
            raise ValueError(f"--phase {self.phase}: expected pam, gaze or all")
        if self.size % 32:
            raise ValueError(f"--size {self.size}: expected a multiple of 32 (five stride-2 layers)")
        if self.crop % 8:
            raise ValueError(f"--crop {self.crop}: expected a multiple of 8")
        if self.box_h > self.size or self.box_w > self.size:
            raise ValueError("--box-h/--box-w must fit inside --size")
        if not 0 <= self.decay_start <= self.iters:
            raise ValueError("--decay-start must be between 0 and --iters")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.train",
                                description="Train GazeGAN: PAM mirror learning, then G_x, G_y + E_r, D_x, D_y.")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes", "on"), default=f.default,
                           metavar="BOOL", help=f"[default: {f.default}]")
        else:
            typ = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            p.add_argument(flag, type=typ, default=f.default, help=f"[default: {f.default!r}]")
    p.add_argument("--resume", default="auto",
                   help="checkpoint to resume from; 'auto' = RUN_DIR/last.pt if present; 'no' = start fresh")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    return p


def from_args(args: argparse.Namespace) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
