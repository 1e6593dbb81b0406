"""Every training default in one visible place (paper + official code), its checks and its command
line (`python -m training.train --help` shows each option's meaning, unit and default)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
from dataclasses import dataclass

from training import netargs
from training.clihelp import helptext, new_parser


@dataclass
class TrainConfig:
    # data and run
    data: str = ""  # CelebAGaze-layout folder (python -m training.prepare makes one)
    run_dir: str = "runs/gazegan"
    phase: str = "all"  # pam | gaze | all (pam, then gaze)
    test_x: int = 100  # last lines of 1.txt held out (upstream split)
    test_y: int = 300  # last lines of 0.txt held out
    # geometry (0: by --size, see BY_SIZE)
    size: int = 256
    box_h: int = 0
    box_w: int = 0
    crop: int = 0
    # network widths (defaults: the reference 22.0M-parameter G_x)
    base: int = 16
    fc: int = 256
    er_base: int = 32
    d_base: int = 32
    # the coarse-to-fine generators of the 512 px model (training.cfm); None/0: by --size
    cfm: bool | None = None
    coarse: int = 0
    fine_base: int = 16
    margin: int = 16
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
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # bf16 autocast on CUDA
    channels_last: bool = True  # on CUDA
    cuda_graph: bool = False  # one GPU: replay the whole gaze step as a CUDA graph (training.graphed)
    flip: bool = True
    log_every: int = 50
    image_every: int = 1000
    ckpt_every: int = 1000

    def __post_init__(self):
        """Fill the settings that follow --size (see BY_SIZE) where they were left to it."""
        for name, value in by_size(self.size).items():
            current = getattr(self, name)
            if current is None or (current == 0 and not isinstance(current, bool)):
                setattr(self, name, value)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def validate(self) -> None:
        """ValueError naming the first option out of range (as its command-line flag)."""
        why = self.problem()
        if why:
            raise ValueError(why)

    def problem(self) -> str | None:
        if self.phase not in PHASES:
            return f"--phase {self.phase}: expected one of {', '.join(PHASES)}"
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            return f"--device {self.device}: expected auto, cpu, cuda or cuda:N (N: a GPU's number)"
        widths = {"size": ("size", "generator"), "crop": ("crop", "generator"), "base": ("base", "generator"),
                  "fc": ("fc", "generator"), "er_base": ("base", "angle_encoder"),
                  "d_base": ("base", "discriminator")}
        for field, (arg, kind) in widths.items():
            why = netargs.range_error(arg, getattr(self, field), kind)
            if why:
                return f"{flag(field)} {getattr(self, field)}: {why}"
        if self.crop > self.size:
            return f"--crop {self.crop}: expected at most --size ({self.size})"
        if self.cfm:
            for field, arg in (("coarse", "coarse"), ("fine_base", "fine_base"), ("margin", "margin")):
                why = netargs.range_error(arg, getattr(self, field), "cfm_generator")
                if why:
                    return f"{flag(field)} {getattr(self, field)}: {why}"
            if self.coarse > self.size or self.size % self.coarse:
                return f"--coarse {self.coarse}: expected a divisor of --size ({self.size}), e.g. {self.size // 2}"
            why = netargs.window_error(self.box_h, self.box_w, self.margin)
            if why:
                return f"--box-h {self.box_h} --box-w {self.box_w} --margin {self.margin}: " + why.split(": ", 1)[1]
        for field in ("box_h", "box_w"):
            if not 1 <= getattr(self, field) <= self.size:
                return f"{flag(field)} {getattr(self, field)}: expected 1 to --size ({self.size}) pixels"
        for field, low in (("batch", 1), ("iters", 1), ("pam_iters", 0), ("test_x", 0), ("test_y", 0),
                           ("workers", 0), ("log_every", 1), ("image_every", 1), ("ckpt_every", 1)):
            if getattr(self, field) < low:
                return f"{flag(field)} {getattr(self, field)}: expected at least {low}"
        if not 0 <= self.decay_start <= self.iters:
            return f"--decay-start {self.decay_start}: expected 0 to --iters ({self.iters})"
        for field in ("lr", "pam_lr"):
            if not (math.isfinite(getattr(self, field)) and getattr(self, field) > 0):
                return f"{flag(field)} {getattr(self, field)}: expected a learning rate above 0"
        for field in ("beta1", "beta2"):
            if not 0 <= getattr(self, field) < 1:
                return f"{flag(field)} {getattr(self, field)}: expected 0 to below 1"
        for f in dataclasses.fields(self):
            if f.name.startswith("lambda_") and not (math.isfinite(getattr(self, f.name)) and getattr(self, f.name) >= 0):
                return f"{flag(f.name)} {getattr(self, f.name)}: expected a weight of 0 or more"
        return None


PHASES = ("pam", "gaze", "all")

# Above 256 px the aligned face is the same face at a higher resolution: the eye boxes and crops
# scale with it (the MM 2020 model's 40x60 boxes and 64 px crops at 256; 80x120 and 128 at 512),
# and the generators are coarse-to-fine (training.cfm) with the coarse stage at half the size (256
# at 512: the MM generator at its own resolution). The TIP 2022 paper's text that could be read
# gives no box, crop or coarse sizes: these follow the face's scale. At 256 and below, the MM
# model as it was.


def by_size(size: int) -> dict:
    """The defaults of the settings that follow --size."""
    if size <= 256:
        return {"box_h": 40, "box_w": 60, "crop": 64, "cfm": False, "coarse": size // 2}
    scale = size / 256
    return {"box_h": int(round(40 * scale)), "box_w": int(round(60 * scale)),
            "crop": min(128, int(64 * scale) // 8 * 8), "cfm": True, "coarse": size // 2}


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


# What each option does, with its unit or choices (the parser adds the default).
HELP = {
    "data": "dataset folder in the CelebAGaze layout: 0/ + 0.txt (domain Y: faces looking away) and 1/ + 1.txt "
            "(domain X: faces looking into the camera), each line 'name xL yL xR yR' (eye centres, pixels); "
            "python -m training.prepare makes one from photos",
    "run_dir": "folder of this run (created if missing): last.pt (checkpoint), config.json, losses.jsonl, tb/ "
               "(TensorBoard)",
    "phase": "what to train: pam (mirror learning of the eye-content encoder E_c only), gaze (G_x, G_y, E_r, D_x, "
             "D_y only) or all (pam, then gaze)",
    "test_x": "faces of domain X held out for evaluation: the last N lines of 1.txt (at most a fifth of them)",
    "test_y": "faces of domain Y held out for evaluation: the last N lines of 0.txt (at most a fifth of them)",
    "size": "side of the aligned face the networks see, in pixels (a multiple of 32); 512: the high-resolution "
            "model (CelebHQGaze), coarse-to-fine by default",
    "box_h": "height of each eye box the generators repaint, in pixels at --size (0: 40, or scaled above 256)",
    "box_w": "width of each eye box the generators repaint, in pixels at --size (0: 60, or scaled above 256)",
    "crop": "side of the eye crops E_c, E_r and the discriminators' local branch see, in pixels (a multiple of 8; "
            "0: 64, or scaled above 256 up to 128)",
    "cfm": "coarse-to-fine generators (TIP 2022): in-paint at --coarse, refine the eye windows at --size; "
           "--no-cfm trains the plain in-painting network at --size (default: on above 256 px)",
    "coarse": "side of the face the coarse in-painting network sees, in pixels (0: half of --size)",
    "fine_base": "channels of the first layer of the fine network on the eye windows",
    "margin": "context around each eye box the fine network sees, in pixels at --size",
    "base": "channels of the first layer of G_x, G_y and PAM (deeper layers: multiples of it)",
    "fc": "width of the generators' bottleneck and of the content code of each eye, in features",
    "er_base": "channels of the first layer of the angle encoder E_r",
    "d_base": "channels of the first layer of the discriminators D_x and D_y",
    "batch": "faces per step from each domain (per process under torchrun)",
    "iters": "gaze-phase steps in all; the learning rate reaches 0 at the last",
    "decay_start": "gaze-phase step from which the learning rate falls linearly to 0 at --iters",
    "lr": "Adam learning rate of the gaze phase (G_x, G_y + E_r, D_x, D_y)",
    "pam_iters": "PAM-phase steps (the learning rate falls linearly to 0 over the last 90%%)",
    "pam_lr": "Adam learning rate of the PAM phase",
    "beta1": "Adam beta1 (momentum), 0 to below 1",
    "beta2": "Adam beta2 (squared-gradient average), 0 to below 1",
    "lambda_recon_x": "weight of G_x's reconstruction loss on domain X (the paper's lambda_1)",
    "lambda_adv_x_on_y": "weight of D_x's adversarial loss on G_y(G_x(y)) (the paper's lambda_2)",
    "lambda_recon_y": "weight of G_y's reconstruction loss on domain Y (the paper's lambda_3)",
    "lambda_sat": "weight of the Synthesis-As-Training loss (the paper's lambda_4)",
    "lambda_fp": "weight of the angle-code reconstruction loss l_fp (the paper's lambda_5)",
    "vgg_weights": "VGG16 weights on disk (a torchvision-format state dict, .pth) for a perceptual and style "
                   "loss on the eye crops; none: no VGG loss",
    "lambda_vgg": "weight of the VGG loss (only with --vgg-weights)",
    "pam_checkpoint": "checkpoint whose PAM gives E_c (a run's last.pt after phase pam; same --crop, --base, "
                      "--fc), instead of training PAM here",
    "seed": "random seed of the weight initialisation and of the order of the faces",
    "workers": "data-loading processes (0: load in the training process)",
    "device": "where to train: auto (a CUDA GPU when torch sees one, else the CPU), cpu, cuda or cuda:N (GPU N); "
              "under torchrun each process takes GPU LOCAL_RANK",
    "amp": "bf16 autocast on CUDA (the CPU always trains in fp32)",
    "channels_last": "channels-last memory layout on CUDA (faster convolutions; no effect on the CPU)",
    "cuda_graph": "replay each gaze step as one CUDA graph (one CUDA GPU, not under torchrun)",
    "flip": "mirror half of the faces at random (augmentation)",
    "log_every": "steps between TensorBoard loss points (losses.jsonl gets every step)",
    "image_every": "gaze steps between TensorBoard sample images",
    "ckpt_every": "steps between checkpoints to RUN_DIR/last.pt (also written at the end of each phase)",
}

REQUIRED = {"data"}

# What each option takes, in the usage line (the unit where there is one).
METAVAR = {"data": "FOLDER", "run_dir": "FOLDER", "pam_checkpoint": "FILE", "vgg_weights": "FILE",
           "size": "PIXELS", "box_h": "PIXELS", "box_w": "PIXELS", "crop": "PIXELS", "base": "CHANNELS",
           "coarse": "PIXELS", "margin": "PIXELS", "fine_base": "CHANNELS",
           "er_base": "CHANNELS", "d_base": "CHANNELS", "fc": "FEATURES", "iters": "STEPS", "decay_start": "STEP",
           "pam_iters": "STEPS", "log_every": "STEPS", "image_every": "STEPS", "ckpt_every": "STEPS",
           "lr": "RATE", "pam_lr": "RATE", "beta1": "BETA", "beta2": "BETA", "device": "DEVICE"}

EXAMPLES = """\
python -m training.train --data data/ --run-dir runs/gazegan
python -m training.train --data data/ --phase gaze --pam-checkpoint runs/pam/last.pt
torchrun --nproc_per_node 4 -m training.train --data data/   # 4 GPUs of one machine
python -m training.train --data data/ --batch 8 --dry-run    # print the resolved settings only
python -m training.train --data data512/ --size 512          # the high-resolution model (coarse-to-fine)
python -m training.train --data data512/ --size 512 --no-cfm # the plain in-painting network at 512"""


def parser() -> argparse.ArgumentParser:
    p = new_parser("python -m training.train",
                   "Train GazeGAN: phase pam (mirror learning of the eye-content encoder E_c), then\n"
                   "phase gaze (G_x, G_y + E_r, D_x, D_y). Resumes RUN_DIR/last.pt after any interruption;\n"
                   "without a CUDA GPU it trains on the CPU (slowly).", EXAMPLES)
    groups = {"data and run": ("data", "run_dir", "phase", "pam_checkpoint", "test_x", "test_y"),
              "geometry (pixels)": ("size", "box_h", "box_w", "crop"),
              "network widths": ("base", "fc", "er_base", "d_base"),
              "coarse-to-fine (512 px)": ("cfm", "coarse", "fine_base", "margin"),
              "optimisation": ("batch", "iters", "decay_start", "lr", "pam_iters", "pam_lr", "beta1", "beta2"),
              "loss weights": ("lambda_recon_x", "lambda_adv_x_on_y", "lambda_recon_y", "lambda_sat", "lambda_fp",
                               "vgg_weights", "lambda_vgg"),
              "machine and logs": ("device", "workers", "amp", "channels_last", "cuda_graph", "flip", "seed",
                                   "log_every", "image_every", "ckpt_every")}
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    assert sorted(sum(groups.values(), ())) == sorted(fields), "every option in one group"
    for title, names in groups.items():
        group = p.add_argument_group(title)
        for name in names:
            f = fields[name]
            text = helptext(HELP[name], f.default, required=name in REQUIRED)
            if f.type in ("bool", bool, "bool | None"):
                if f.default is None:
                    text = f"{HELP[name]} [default: by --size]"
                group.add_argument(flag(name), action=argparse.BooleanOptionalAction, default=f.default, help=text)
                continue
            if name in ("box_h", "box_w", "crop", "coarse"):
                text = f"{HELP[name]} [default: by --size]"
            typ = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            kw = {"choices": PHASES} if name == "phase" else {
                "metavar": METAVAR.get(name, "WEIGHT" if name.startswith("lambda_") else "N")}
            group.add_argument(flag(name), type=typ, default=f.default, required=name in REQUIRED, help=text, **kw)
        if title == "data and run":
            group.add_argument("--resume", default="auto", metavar="auto|no|CHECKPOINT",
                               help=helptext("auto: continue from RUN_DIR/last.pt when there is one; no: start "
                                             "afresh (replaces it); or a checkpoint to continue from", "auto"))
            group.add_argument("--dry-run", action="store_true",
                               help="print the resolved settings as JSON and exit, without training")
    return p


def from_args(args: argparse.Namespace) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
